-- V7: fair dispatch in the database, and live-event notifications.
--
-- Start-time fair queueing with the state in rows (the leaderless variant of
-- ../shared/notes/scheduling.md), mirroring `queue::scheduler`: each user has a tag F_u
-- (`queue_users.finish_tag`: everything charged so far divided by the weight); the user's first
-- pending item in a band (their head) carries vstart = F_u, their other pending items carry null;
-- a running item carries the start tag of its running unit. Workers claim the smallest tagged
-- head in the runnable band and charge F_u at dispatch; measured time is reconciled into F_u
-- (one row), so a user's whole backlog moves with it at no cost. A user with nothing queued or
-- running is lifted to the band's virtual time V when they queue again: idle users bank nothing.
--
-- Every transaction that changes tags or an item's pending state takes `queue_lock()` first
-- (a transaction-scoped advisory lock), so dispatch decisions are serialised across workers and
-- machines and row locks are always taken in one order.

alter table queue_items
    add column vstart          double precision,                     -- see above
    add column remaining_cost  double precision,                     -- estimate not yet charged
    add column charged         double precision,                     -- charge of the running unit
    add column suspended_by    text,                                 -- worker holding its latents
    add column step            integer          not null default 0;  -- denoising steps done

create index queue_items_heads_idx on queue_items (band desc, vstart, seq)
    where status = 'pending' and vstart is not null;
create index queue_items_running_idx on queue_items (band, vstart)
    where status = 'in_progress';

create function queue_lock() returns void
    language sql
    as $$ select pg_advisory_xact_lock(7243620841) $$;
grant execute on function queue_lock() to atelier_user, atelier_admin, atelier_worker;

-- ---------------------------------------------------------------------------------------------
-- Per-user fair-share state: the admin-set weight and the tag. Users read their own row;
-- admins set weights; workers charge.
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
-- data.
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
-- Puts the user's tag on their first pending item in the band and clears it from the others.
-- Touches at most three rows. SECURITY DEFINER: it runs from users' transactions too.
create function queue_sync_head(p_owner uuid, p_band smallint) returns void
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
declare
    head uuid;
    f double precision;
begin
    select q.id into head from public.queue_items q
     where q.owner_id = p_owner and q.status = 'pending' and q.band = p_band
     order by q.seq limit 1;
    update public.queue_items q set vstart = null
     where q.status = 'pending' and q.vstart is not null and q.band = p_band
       and q.owner_id = p_owner and q.id is distinct from head;
    if head is not null then
        select u.finish_tag into f from public.queue_users u where u.user_id = p_owner;
        update public.queue_items q set vstart = coalesce(f, 0)
         where q.id = head and q.vstart is distinct from coalesce(f, 0);
    end if;
end $$;
revoke all on function queue_sync_head(uuid, smallint) from public;
grant execute on function queue_sync_head(uuid, smallint) to atelier_worker;

-- Moves a user's tag by delta (a charge, or a reconciliation) and their head with it.
create function queue_charge(p_owner uuid, p_band smallint, p_delta double precision)
    returns void
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
begin
    update public.queue_users set finish_tag = finish_tag + p_delta where user_id = p_owner;
    perform public.queue_sync_head(p_owner, p_band);
end $$;
revoke all on function queue_charge(uuid, smallint, double precision) from public;
grant execute on function queue_charge(uuid, smallint, double precision) to atelier_worker;

-- Enqueue: a user with nothing pending or running in the band is lifted to the band's virtual
-- time V (the smallest active start tag, or the last one seen). Whatever a client sends in the
-- fair-share columns is overwritten.
create function queue_items_before_insert() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
declare
    v double precision;
begin
    perform public.queue_lock();
    insert into public.queue_users (user_id) values (new.owner_id) on conflict do nothing;
    if not exists (select 1 from public.queue_items q
                    where q.owner_id = new.owner_id and q.band = new.band
                      and q.status in ('pending', 'in_progress')) then
        select min(t.vstart) into v from (
            select q.vstart from public.queue_items q
             where q.band = new.band and q.status = 'pending' and q.vstart is not null
            union all
            select q.vstart from public.queue_items q
             where q.band = new.band and q.status = 'in_progress') t;
        if v is null then
            select b.vtime into v from public.queue_bands b where b.band = new.band;
        end if;
        update public.queue_users set finish_tag = greatest(finish_tag, coalesce(v, 0))
         where user_id = new.owner_id;
    end if;
    new.vstart := null;
    new.remaining_cost := new.est_cost;
    new.charged := null;
    new.suspended_by := null;
    new.step := 0;
    return new;
end $$;
revoke all on function queue_items_before_insert() from public;
create trigger queue_items_before_insert before insert on queue_items
    for each row execute function queue_items_before_insert();

-- After an insert, or a move into or out of pending, the owner's head is put right.
create function queue_items_sync() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
begin
    if tg_op = 'INSERT' or old.status = 'pending' or new.status = 'pending' then
        perform public.queue_lock();
        perform public.queue_sync_head(new.owner_id, new.band);
    end if;
    return null;
end $$;
revoke all on function queue_items_sync() from public;
create trigger queue_items_sync after insert or update of status on queue_items
    for each row execute function queue_items_sync();

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
    ), projected as (
        -- A pending item's projected start tag: its owner's tag plus the estimates queued
        -- ahead of it by the same owner, over the owner's weight (exact for the head).
        select q.id,
               coalesce(f.finish_tag, 0) + coalesce(sum(q.est_cost) over (
                   partition by q.owner_id, q.band order by q.seq
                   rows between unbounded preceding and 1 preceding), 0) / coalesce(f.weight, 1)
                   as tag
        from public.queue_items q
        left join public.queue_users f on f.user_id = q.owner_id
        where q.status = 'pending'
    ), items as (
        select q.*, u.display_name,
               q.owner_id = c.me as mine,
               (q.owner_id = c.me or c.admin) as visible,
               case when q.status = 'pending'
                    then row_number() over (partition by q.status = 'pending'
                                            order by q.band desc, p.tag, q.seq)
               end as pos
        from public.queue_items q
        join public.users u on u.id = q.owner_id
        left join projected p on p.id = q.id
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
