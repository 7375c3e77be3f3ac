-- V1: identity. Users and their login sessions, isolated by row-level security.
--
-- Runs as atelier_owner (see docs/migrations.md). The roles atelier_user, atelier_admin,
-- atelier_worker and the login atelier_app are created by the cluster bootstrap
-- (src/db/bootstrap.rs), never here: roles are cluster-wide and need CREATEROLE.
--
-- Conventions (docs/migrations.md): every table gets ENABLE + FORCE row level security,
-- one named policy per command and role class, and an index that leads with the policy column.

-- The application user of the current transaction, or NULL when none was set (fail closed).
create function atelier_current_user_id() returns uuid
    language sql stable parallel safe
    as $$ select nullif(current_setting('atelier.user_id', true), '')::uuid $$;

-- ---------------------------------------------------------------------------------------------
-- users: one row per person, plus the internal `system` user that owns single-user-mode data.
-- Admin rights live in is_admin and are re-read on every request; tokens never carry them.
create table users (
    id            uuid        not null,
    email         text        not null,
    display_name  text        not null,
    password_hash text,                                   -- null: cannot log in (system)
    is_admin      boolean     not null default false,
    is_active     boolean     not null default true,
    is_system     boolean     not null default false,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint users_pkey primary key (id),
    constraint users_email_key unique (email),
    constraint users_email_lower_check check (email = lower(email)),
    constraint users_display_name_check check (char_length(display_name) between 1 and 100),
    constraint users_system_not_admin_check check (not (is_system and is_admin)),
    constraint users_system_no_password_check check (not (is_system and password_hash is not null))
);

alter table users enable row level security;
alter table users force row level security;

-- A user sees and edits only their own row; which columns they may edit is limited by grants.
create policy users_select_user on users for select to atelier_user
    using (id = (select atelier_current_user_id()));
create policy users_update_user on users for update to atelier_user
    using (id = (select atelier_current_user_id()))
    with check (id = (select atelier_current_user_id()));
-- Admins manage everyone. A separate policy, never OR-ed into the user policy (rls.md pitfall 4).
create policy users_select_admin on users for select to atelier_admin using (true);
create policy users_insert_admin on users for insert to atelier_admin with check (true);
create policy users_update_admin on users for update to atelier_admin using (true) with check (true);
create policy users_delete_admin on users for delete to atelier_admin using (true);

grant select on users to atelier_user;
grant update (display_name, password_hash, updated_at) on users to atelier_user;
grant select, insert, update, delete on users to atelier_admin;

-- The internal system user: owns data made in single-user mode, never logs in, never admin.
set local role atelier_admin;
insert into users (id, email, display_name, is_system)
values ('00000000-0000-0000-0000-000000000000', 'system@atelier.internal', 'System', true);
reset role;

-- ---------------------------------------------------------------------------------------------
-- sessions: one row per login. A JWT names its session; deleting the row revokes the token.
create table sessions (
    id          uuid        not null,
    user_id     uuid        not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    user_agent  text,
    constraint sessions_pkey primary key (id),
    constraint sessions_user_id_fkey foreign key (user_id) references users (id) on delete cascade,
    constraint sessions_user_agent_check check (char_length(user_agent) <= 512)
);
create index sessions_user_id_idx on sessions (user_id, created_at desc);

alter table sessions enable row level security;
alter table sessions force row level security;

create policy sessions_select_user on sessions for select to atelier_user
    using (user_id = (select atelier_current_user_id()));
create policy sessions_insert_user on sessions for insert to atelier_user
    with check (user_id = (select atelier_current_user_id()));
create policy sessions_delete_user on sessions for delete to atelier_user
    using (user_id = (select atelier_current_user_id()));
create policy sessions_select_admin on sessions for select to atelier_admin using (true);
create policy sessions_insert_admin on sessions for insert to atelier_admin with check (true);
create policy sessions_update_admin on sessions for update to atelier_admin using (true) with check (true);
create policy sessions_delete_admin on sessions for delete to atelier_admin using (true);

grant select, insert, delete on sessions to atelier_user;
grant select, insert, update, delete on sessions to atelier_admin;

-- ---------------------------------------------------------------------------------------------
-- updated_at maintenance.
create function atelier_touch_updated_at() returns trigger
    language plpgsql
    as $$ begin new.updated_at := now(); return new; end $$;
create trigger users_touch_updated_at before update on users
    for each row execute function atelier_touch_updated_at();

-- ---------------------------------------------------------------------------------------------
-- The last-admin invariant: nobody can delete, demote or deactivate the last active admin.
-- A transaction-scoped advisory lock serialises every change that removes an active admin, and the
-- count runs after the lock with a fresh snapshot (READ COMMITTED), so concurrent demotions cannot
-- both pass. SECURITY DEFINER: the count must see every user, whoever asks.
create function atelier_guard_last_admin() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
begin
    if old.is_admin and old.is_active
       and (tg_op = 'DELETE' or not (new.is_admin and new.is_active)) then
        perform pg_advisory_xact_lock(7406283519);
        if not exists (select 1 from public.users
                       where is_admin and is_active and not is_system) then
            raise exception 'the last active admin cannot be removed, demoted or deactivated'
                using errcode = 'AT001';
        end if;
    end if;
    return null;
end $$;
create trigger users_guard_last_admin after update or delete on users
    for each row execute function atelier_guard_last_admin();

-- ---------------------------------------------------------------------------------------------
-- The few SECURITY DEFINER entry points that run before an identity exists (rls.md pitfall 8).
-- Each is narrow, has a fixed search_path, and is executable by the runtime login only.

-- Login: the hash and state of the account with this email (never the system user).
create function auth_login_lookup(p_email text)
    returns table (user_id uuid, password_hash text, is_admin boolean, is_active boolean)
    language sql stable security definer set search_path = pg_catalog, public
    as $$ select u.id, u.password_hash, u.is_admin, u.is_active from public.users u
          where u.email = lower(p_email) and not u.is_system and u.password_hash is not null $$;

-- Per request: the live identity behind a token's session, or no row.
create function auth_resolve_session(p_session_id uuid, p_user_id uuid)
    returns table (user_id uuid, is_admin boolean, email text, display_name text)
    language sql stable security definer set search_path = pg_catalog, public
    as $$ select u.id, u.is_admin, u.email, u.display_name
          from public.sessions s join public.users u on u.id = s.user_id
          where s.id = p_session_id and s.user_id = p_user_id
            and s.expires_at > now() and u.is_active and not u.is_system $$;

-- Whether any admin account exists (the /auth/status "setup_required" flag).
create function auth_admin_exists() returns boolean
    language sql stable security definer set search_path = pg_catalog, public
    as $$ select exists (select 1 from public.users where is_admin and not is_system) $$;

-- First-run setup: creates the first admin only while none exists. The advisory lock makes two
-- racing setups produce exactly one admin. Returns false when an admin already exists.
create function auth_setup_admin(p_id uuid, p_email text, p_display_name text, p_password_hash text)
    returns boolean
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
begin
    perform pg_advisory_xact_lock(7406283520);
    if exists (select 1 from public.users where is_admin and not is_system) then
        return false;
    end if;
    insert into public.users (id, email, display_name, password_hash, is_admin)
    values (p_id, lower(p_email), p_display_name, p_password_hash, true);
    return true;
end $$;

-- Hands every row owned by one user to another (`atelier user adopt`). SECURITY INVOKER: it
-- only works for a caller whose policies allow touching both users' rows, i.e. an admin.
-- Every table with an owner_id column takes part, so later features join in automatically.
create function atelier_adopt(p_from uuid, p_to uuid) returns bigint
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
        execute format('update public.%I set owner_id = $1 where owner_id = $2', t.table_name)
            using p_to, p_from;
        get diagnostics n = row_count;
        total := total + n;
    end loop;
    return total;
end $$;

revoke all on function atelier_guard_last_admin() from public;
revoke all on function auth_login_lookup(text) from public;
revoke all on function auth_resolve_session(uuid, uuid) from public;
revoke all on function auth_admin_exists() from public;
revoke all on function auth_setup_admin(uuid, text, text, text) from public;
revoke all on function atelier_adopt(uuid, uuid) from public;
grant execute on function auth_login_lookup(text) to atelier_app;
grant execute on function auth_resolve_session(uuid, uuid) to atelier_app;
grant execute on function auth_admin_exists() to atelier_app;
grant execute on function auth_setup_admin(uuid, text, text, text) to atelier_app;
grant execute on function atelier_adopt(uuid, uuid) to atelier_admin;
grant usage on schema public to atelier_user, atelier_admin, atelier_worker;
