-- V7: fair dispatch in the database, and live-event notifications.
--
-- Start-time fair queueing on rows (the leaderless variant of ../shared/notes/scheduling.md):
-- every item carries the SFQ start tag `vstart` of its next unit of work, set when it is queued
-- (lifted to the band's virtual time, so idle users bank no credit), and workers claim the
-- smallest tag in the highest runnable band with FOR UPDATE SKIP LOCKED. The arithmetic is
-- `queue::scheduler`'s; these tables only hold its state.

alter table queue_items
    add column vstart          double precision not null default 0,  -- start tag of the next unit
    add column remaining_cost  double precision,                     -- estimate not yet charged
    add column charged         double precision,                     -- charge of the running unit
    add column suspended_by    text,                                 -- worker holding its latents
    add column step            integer          not null default 0;  -- denoising steps done

create index queue_items_fair_idx on queue_items (band desc, vstart, seq)
    where status = 'pending';
create index queue_items_active_idx on queue_items (band, vstart)
    where status in ('pending', 'in_progress');

-- ---------------------------------------------------------------------------------------------
-- Per-user fair-share state: the admin-set weight and the user's finish tag (everything charged
-- so far divided by the weight). Users read their own row; admins set weights; workers charge.
create table queue_users (
    user_id     uuid             not null,
    weight      double precision not null default 1,
    finish_tag  double precision not null default 0,
    constraint queue_users_pkey primary key (user_id),
    constraint queue_users_user_id_fkey foreign key (user_id) references users (id) on delete cascade,
    constraint queue_users_weight_check check (weight > 0 and weight <= 100)
);
alter table queue_users enable row level security;
alter table queue_users force row level security;
create policy queue_users_select_user on queue_users for select to atelier_user
    using (user_id = (select atelier_current_user_id()));
create policy queue_users_select_admin on queue_users for select to atelier_admin using (true);
create policy queue_users_insert_admin on queue_users for insert to atelier_admin with check (true);
create policy queue_users_update_admin on queue_users for update to atelier_admin
    using (true) with check (true);
create policy queue_users_select_worker on queue_users for select to atelier_worker using (true);
create policy queue_users_update_worker on queue_users for update to atelier_worker
    using (true) with check (true);
grant select on queue_users to atelier_user;
grant select, insert, update (weight) on queue_users to atelier_admin;
grant select, update (finish_tag) on queue_users to atelier_worker;

-- ---------------------------------------------------------------------------------------------
-- Per band: the virtual time last seen, and the GPU-seconds bucket of a capped band. Not user
-- data. Claims lock these rows, which makes the claim the single fair dispatch point.
create table queue_bands (
    band        smallint         not null,
    vtime       double precision not null default 0,
    tokens      double precision not null default 1e9,  -- clamped to the cap at first use
    updated_at  timestamptz      not null default now(),
    constraint queue_bands_pkey primary key (band),
    constraint queue_bands_band_check check (band between 0 and 2)
);
alter table queue_bands enable row level security;
alter table queue_bands force row level security;
create policy queue_bands_select_all on queue_bands for select
    to atelier_user, atelier_admin, atelier_worker using (true);
create policy queue_bands_insert_admin on queue_bands for insert to atelier_admin with check (true);
create policy queue_bands_update_worker on queue_bands for update to atelier_worker
    using (true) with check (true);
grant select on queue_bands to atelier_user, atelier_admin, atelier_worker;
grant insert on queue_bands to atelier_admin;
grant update (vtime, tokens, updated_at) on queue_bands to atelier_worker;
set local role atelier_admin;
insert into queue_bands (band) values (0), (1), (2);
reset role;

-- ---------------------------------------------------------------------------------------------
-- Tagging at enqueue: start = max(V, F_u), where V is the band's smallest active start tag (or
-- the last one seen), then F_u grows by estimate / weight. SECURITY DEFINER: users cannot write
-- tags, and whatever they send in vstart is overwritten here.
create function queue_items_tag() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
declare
    w double precision;
    f double precision;
    v double precision;
begin
    insert into public.queue_users (user_id) values (new.owner_id) on conflict do nothing;
    select weight, finish_tag into w, f from public.queue_users where user_id = new.owner_id for update;
    select min(q.vstart) into v from public.queue_items q
     where q.band = new.band and q.status in ('pending', 'in_progress');
    if v is null then
        select b.vtime into v from public.queue_bands b where b.band = new.band;
    end if;
    new.vstart := greatest(coalesce(v, 0), f);
    new.remaining_cost := new.est_cost;
    new.charged := null;
    new.suspended_by := null;
    new.step := 0;
    update public.queue_users set finish_tag = new.vstart + new.est_cost / w where user_id = new.owner_id;
    return new;
end $$;
revoke all on function queue_items_tag() from public;
create trigger queue_items_tag before insert on queue_items
    for each row execute function queue_items_tag();

-- Moves a user's tags by delta: their finish tag, and the start tags of their pending items
-- queued after item `after_seq`. Charges are reconciled and refunds made through it.
create function queue_shift_user(p_owner uuid, p_after_seq bigint, p_delta double precision)
    returns void
    language sql security definer set search_path = pg_catalog, public
    as $$
    update public.queue_users set finish_tag = finish_tag + p_delta where user_id = p_owner;
    update public.queue_items set vstart = vstart + p_delta
     where owner_id = p_owner and status = 'pending' and seq > p_after_seq;
    $$;
revoke all on function queue_shift_user(uuid, bigint, double precision) from public;
grant execute on function queue_shift_user(uuid, bigint, double precision) to atelier_worker;

-- An item that ends before its estimate was charged (cancelled, failed, finished early) gives
-- the uncharged rest back, so its owner's later items move up. SECURITY DEFINER: users cancel.
create function queue_items_refund() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
declare
    w double precision;
begin
    if coalesce(new.remaining_cost, 0) > 0 then
        select weight into w from public.queue_users where user_id = new.owner_id;
        perform public.queue_shift_user(new.owner_id, new.seq, -new.remaining_cost / coalesce(w, 1));
        update public.queue_items set remaining_cost = 0 where id = new.id;
    end if;
    return null;
end $$;
revoke all on function queue_items_refund() from public;
create trigger queue_items_refund after update of status on queue_items
    for each row
    when (old.status in ('pending', 'in_progress') and new.status in ('completed', 'failed', 'canceled'))
    execute function queue_items_refund();

-- Queue positions follow the fair order.
create or replace function queue_list(p_id uuid default null)
    returns table (id uuid, owner_id uuid, owner_name text, is_mine boolean, status text,
                   queue_position bigint, params jsonb, error text, result_image_ids uuid[],
                   created_at timestamptz, started_at timestamptz, finished_at timestamptz)
    language sql stable security definer set search_path = pg_catalog, public
    as $$
    with caller as (
        select atelier_current_user_id() as me,
               current_setting('role', true) = 'atelier_admin' as admin
    ), items as (
        select q.*, u.display_name,
               q.owner_id = c.me as mine,
               (q.owner_id = c.me or c.admin) as visible,
               case when q.status = 'pending'
                    then row_number() over (partition by q.status = 'pending'
                                            order by q.band desc, q.vstart, q.seq)
               end as pos
        from public.queue_items q
        join public.users u on u.id = q.owner_id
        cross join caller c
        where c.me is not null
    )
    select i.id,
           case when i.visible then i.owner_id end,
           i.display_name,
           coalesce(i.mine, false),
           i.status,
           i.pos,
           case when i.visible then i.params else '"<hidden>"'::jsonb end,
           case when i.visible then i.error end,
           case when i.visible then i.result_image_ids else '{}'::uuid[] end,
           i.created_at, i.started_at, i.finished_at
    from items i
    where p_id is null or i.id = p_id
    order by i.seq
    $$;

-- ---------------------------------------------------------------------------------------------
-- Live events. Every API process LISTENs on `atelier_events` and routes each notification to
-- its WebSocket clients (src/events). Payloads carry ids and states, never parameters; the
-- router decides who may see even that.
create function queue_items_notify() returns trigger
    language plpgsql
    as $$
declare
    r record;
begin
    r := case when tg_op = 'DELETE' then old else new end;
    perform pg_notify('atelier_events', json_build_object(
        'kind', 'queue_item',
        'id', r.id,
        'owner_id', r.owner_id,
        'status', case when tg_op = 'DELETE' then 'deleted' else r.status end,
        'previous', case when tg_op = 'UPDATE' then old.status end,
        'error', left(r.error, 500),
        'result_image_ids', r.result_image_ids)::text);
    return null;
end $$;
create trigger queue_items_notify after insert or delete or update of status on queue_items
    for each row execute function queue_items_notify();

create function sessions_notify() returns trigger
    language plpgsql
    as $$
begin
    perform pg_notify('atelier_events', json_build_object(
        'kind', 'session_ended', 'session_id', old.id, 'owner_id', old.user_id)::text);
    return null;
end $$;
create trigger sessions_notify after delete on sessions
    for each row execute function sessions_notify();

-- Workers announce per-step progress (with a small preview) through this, as the worker role.
create function queue_progress(p_id uuid, p_step integer, p_total integer, p_preview text)
    returns void
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
declare
    owner uuid;
begin
    update public.queue_items set step = p_step where id = p_id and status = 'in_progress'
        returning owner_id into owner;
    if owner is not null then
        perform pg_notify('atelier_events', json_build_object(
            'kind', 'progress', 'id', p_id, 'owner_id', owner, 'step', p_step, 'total', p_total,
            'preview', left(p_preview, 7000))::text);
    end if;
end $$;
revoke all on function queue_progress(uuid, integer, integer, text) from public;
grant execute on function queue_progress(uuid, integer, integer, text) to atelier_worker;
