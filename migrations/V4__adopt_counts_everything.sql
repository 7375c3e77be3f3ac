-- V4: `atelier_adopt` reports every row it hands over. Since V3, moving a board carries its
-- images along by cascade, which the per-statement row count did not see; count first.

create or replace function atelier_adopt(p_from uuid, p_to uuid) returns bigint
    language plpgsql security invoker set search_path = pg_catalog, public
    as $$
declare
    t record;
    n bigint;
    total bigint := 0;
begin
    for t in select c.table_name from information_schema.columns c
             join information_schema.tables tb
               on tb.table_schema = c.table_schema and tb.table_name = c.table_name
             where c.table_schema = 'public' and c.column_name = 'owner_id'
               and tb.table_type = 'BASE TABLE'
             order by c.table_name
    loop
        execute format('select count(*) from public.%I where owner_id = $1', t.table_name)
            into n using p_from;
        total := total + n;
    end loop;
    -- Boards sort before images, so each board moves first and carries its images along.
    for t in select c.table_name from information_schema.columns c
             join information_schema.tables tb
               on tb.table_schema = c.table_schema and tb.table_name = c.table_name
             where c.table_schema = 'public' and c.column_name = 'owner_id'
               and tb.table_type = 'BASE TABLE'
             order by c.table_name
    loop
        execute format('update public.%I set owner_id = $1 where owner_id = $2', t.table_name)
            using p_to, p_from;
    end loop;
    return total;
end $$;
