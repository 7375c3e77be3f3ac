-- V17: the queue list is paged. With many users' items waiting, one listing of every
-- unfinished item grew to megabytes; clients now ask for a page (`p_limit` items after the
-- item with sequence number `p_after`, in queue order) and follow the cursor. Positions are
-- still computed over the whole queue before the page is cut, so they are the same on every
-- page. The sequence number is returned as the cursor.

drop function queue_list(uuid, integer);

create function queue_list(p_id uuid default null, p_finished integer default 200,
                           p_after bigint default null, p_limit integer default null)
    returns table (id uuid, owner_id uuid, owner_name text, is_mine boolean, status text,
                   queue_position bigint, params jsonb, error text, result_image_ids uuid[],
                   created_at timestamptz, started_at timestamptz, finished_at timestamptz,
                   seq bigint)
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
    ), recent as (
        -- Finished items: only the newest p_finished (by the partial index below), so a
        -- long-running server's list stays bounded however much history it keeps.
        select f.id from public.queue_items f
        where f.status in ('completed', 'failed', 'canceled')
        order by f.finished_at desc nulls last
        limit greatest(p_finished, 0)
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
          and (q.status in ('pending', 'in_progress')
               or q.id in (select r.id from recent r)
               or q.id = p_id)
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
           i.created_at, i.started_at, i.finished_at, i.seq
    from items i
    where (p_id is null or i.id = p_id)
      and (p_after is null or i.seq > p_after)
    order by i.seq
    limit p_limit
    $$;

revoke all on function queue_list(uuid, integer, bigint, integer) from public;
grant execute on function queue_list(uuid, integer, bigint, integer) to atelier_user, atelier_admin;
