-- V5: the shared generation queue. Owners (and admins) see their items in full; everyone sees
-- every item through queue_list(), which redacts other users' parameters, errors and results in
-- the database, from one list of fields, so that no app code can forget it.

create table queue_items (
    id                uuid             not null,
    owner_id          uuid             not null,
    seq               bigint           generated always as identity,
    status            text             not null default 'pending',
    band              smallint         not null default 1,
    params            jsonb            not null,
    est_cost          double precision not null,
    measured_cost     double precision,
    error             text,
    result_image_ids  uuid[]           not null default '{}',
    attempts          integer          not null default 0,
    worker            text,
    lease_until       timestamptz,
    created_at        timestamptz      not null default now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    constraint queue_items_pkey primary key (id),
    constraint queue_items_owner_id_fkey foreign key (owner_id) references users (id) on delete cascade,
    constraint queue_items_status_check
        check (status in ('pending', 'in_progress', 'completed', 'failed', 'canceled')),
    constraint queue_items_band_check check (band between 0 and 2),
    constraint queue_items_est_cost_check check (est_cost >= 0)
);
create index queue_items_owner_status_idx on queue_items (owner_id, status, seq);
create index queue_items_pending_idx on queue_items (seq) where status = 'pending';

alter table queue_items enable row level security;
alter table queue_items force row level security;

create policy queue_items_select_user on queue_items for select to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy queue_items_insert_user on queue_items for insert to atelier_user
    with check (owner_id = (select atelier_current_user_id()) and status = 'pending');
-- A user's only update is cancelling their own unfinished item.
create policy queue_items_update_user on queue_items for update to atelier_user
    using (owner_id = (select atelier_current_user_id()) and status in ('pending', 'in_progress'))
    with check (owner_id = (select atelier_current_user_id()) and status = 'canceled');
create policy queue_items_delete_user on queue_items for delete to atelier_user
    using (owner_id = (select atelier_current_user_id()) and status in ('completed', 'failed', 'canceled'));
create policy queue_items_select_admin on queue_items for select to atelier_admin using (true);
create policy queue_items_insert_admin on queue_items for insert to atelier_admin with check (true);
create policy queue_items_update_admin on queue_items for update to atelier_admin using (true) with check (true);
create policy queue_items_delete_admin on queue_items for delete to atelier_admin using (true);
-- Workers claim and finish items of every user.
create policy queue_items_select_worker on queue_items for select to atelier_worker using (true);
create policy queue_items_update_worker on queue_items for update to atelier_worker using (true) with check (true);

grant select, insert, delete on queue_items to atelier_user;
grant update (status, finished_at) on queue_items to atelier_user;
grant select, insert, update, delete on queue_items to atelier_admin;
grant select, update on queue_items to atelier_worker;

-- ---------------------------------------------------------------------------------------------
-- One row: whether processing is paused. Not user data; everyone reads it, admins change it.
create table queue_control (
    id          boolean     not null default true,
    paused      boolean     not null default false,
    updated_at  timestamptz not null default now(),
    constraint queue_control_pkey primary key (id),
    constraint queue_control_single_check check (id)
);
alter table queue_control enable row level security;
alter table queue_control force row level security;
create policy queue_control_select_all on queue_control for select
    to atelier_user, atelier_admin, atelier_worker using (true);
create policy queue_control_update_admin on queue_control for update to atelier_admin
    using (true) with check (true);
-- The primary key and the check keep it to one row, whoever inserts.
create policy queue_control_insert_admin on queue_control for insert to atelier_admin with check (true);
grant select on queue_control to atelier_user, atelier_admin, atelier_worker;
grant insert, update (paused, updated_at) on queue_control to atelier_admin;
set local role atelier_admin;
insert into queue_control (id) values (true);
reset role;

-- ---------------------------------------------------------------------------------------------
-- Everyone's view of the queue. SECURITY DEFINER (it must see every row) with a fixed
-- search_path; `visible` is true for the item's owner and for admins, and the redacted fields
-- are listed once, here. p_id null lists everything (newest last), otherwise one item.
create function queue_list(p_id uuid default null)
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
                    then row_number() over (partition by q.status = 'pending' order by q.band desc, q.seq)
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

-- The "X/Y" badge: the caller's and everyone's unfinished items.
create function queue_counts()
    returns table (mine_pending bigint, mine_in_progress bigint, total_pending bigint, total_in_progress bigint)
    language sql stable security definer set search_path = pg_catalog, public
    as $$
    select count(*) filter (where status = 'pending' and owner_id = atelier_current_user_id()),
           count(*) filter (where status = 'in_progress' and owner_id = atelier_current_user_id()),
           count(*) filter (where status = 'pending'),
           count(*) filter (where status = 'in_progress')
    from public.queue_items
    where atelier_current_user_id() is not null
    $$;

revoke all on function queue_list(uuid) from public;
revoke all on function queue_counts() from public;
grant execute on function queue_list(uuid) to atelier_user, atelier_admin;
grant execute on function queue_counts() to atelier_user, atelier_admin;
