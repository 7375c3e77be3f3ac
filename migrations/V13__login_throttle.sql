-- V13: login throttling shared by every server process. Fixed windows per key ("address:…",
-- "account:…"), counted here so that replicas behind one load balancer count together and a
-- restart forgets nothing. Nobody reads or writes the table directly: the runtime login only
-- executes the two functions below, which run as the owner (through its atelier_admin
-- membership, the only policy's role).

create table login_throttle (
    key             text        not null,
    window_started  timestamptz not null,
    count           integer     not null,
    constraint login_throttle_pkey primary key (key),
    constraint login_throttle_key_check check (char_length(key) between 1 and 300),
    constraint login_throttle_count_check check (count >= 0)
);
create index login_throttle_window_started on login_throttle (window_started);

alter table login_throttle enable row level security;
alter table login_throttle force row level security;
create policy login_throttle_owner on login_throttle to atelier_admin using (true) with check (true);

-- Counts one attempt for p_key and returns 0 when it may proceed, else the whole seconds until
-- its window ends. The upsert locks the key's row, so parallel attempts are all counted. Now and
-- then it also deletes windows that ended.
create function auth_throttle_hit(p_key text, p_limit integer, p_window_secs double precision)
    returns integer
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
declare
    v_now     timestamptz := clock_timestamp();
    v_window  interval := make_interval(secs => p_window_secs);
    v_started timestamptz;
    v_count   integer;
begin
    insert into public.login_throttle as t (key, window_started, count)
    values (p_key, v_now, 1)
    on conflict (key) do update set
        window_started = case when t.window_started <= v_now - v_window
                              then v_now else t.window_started end,
        count = case when t.window_started <= v_now - v_window
                     then 1 else least(t.count + 1, p_limit + 1) end
    returning window_started, count into v_started, v_count;
    if random() < 0.01 then
        delete from public.login_throttle where window_started <= v_now - v_window;
    end if;
    if v_count > p_limit then
        return greatest(1, ceil(extract(epoch from (v_started + v_window - v_now)))::integer);
    end if;
    return 0;
end $$;

-- Forgets p_key (a successful login clears its account's failures).
create function auth_throttle_clear(p_key text) returns void
    language sql security definer set search_path = pg_catalog, public
    as $$ delete from public.login_throttle where key = p_key $$;

revoke all on function auth_throttle_hit(text, integer, double precision) from public;
revoke all on function auth_throttle_clear(text) from public;
grant execute on function auth_throttle_hit(text, integer, double precision) to atelier_app;
grant execute on function auth_throttle_clear(text) to atelier_app;
