-- The live schema: every table, index, policy, function and grant after the last
-- migration (pg_dump --schema-only of a migrated database). Generated: do not edit;
-- `ATELIER_WRITE_SCHEMA=1 cargo test --test api schema::` rewrites it, and a test fails
-- when it is stale. The history of each object is in migrations/.

CREATE FUNCTION public.atelier_adopt(p_from uuid, p_to uuid) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public'
    AS $_$
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
end $_$;

ALTER FUNCTION public.atelier_adopt(p_from uuid, p_to uuid) OWNER TO atelier_owner;

CREATE FUNCTION public.atelier_current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ select nullif(current_setting('atelier.user_id', true), '')::uuid $$;

ALTER FUNCTION public.atelier_current_user_id() OWNER TO atelier_owner;

CREATE FUNCTION public.atelier_guard_last_admin() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
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

ALTER FUNCTION public.atelier_guard_last_admin() OWNER TO atelier_owner;

CREATE FUNCTION public.atelier_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ begin new.updated_at := now(); return new; end $$;

ALTER FUNCTION public.atelier_touch_updated_at() OWNER TO atelier_owner;

CREATE FUNCTION public.atelier_track_used_bytes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
begin
    if tg_op in ('DELETE', 'UPDATE') then
        update public.users
           set used_bytes = used_bytes - old.byte_size - coalesce(octet_length(old.metadata::text), 0)
         where id = old.owner_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        update public.users
           set used_bytes = used_bytes + new.byte_size + coalesce(octet_length(new.metadata::text), 0)
         where id = new.owner_id;
    end if;
    return null;
end $$;

ALTER FUNCTION public.atelier_track_used_bytes() OWNER TO atelier_owner;

CREATE FUNCTION public.auth_admin_exists() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$ select exists (select 1 from public.users where is_admin and not is_system) $$;

ALTER FUNCTION public.auth_admin_exists() OWNER TO atelier_owner;

CREATE FUNCTION public.auth_login_lookup(p_email text) RETURNS TABLE(user_id uuid, password_hash text, is_admin boolean, is_active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$ select u.id, u.password_hash, u.is_admin, u.is_active from public.users u
          where u.email = lower(p_email) and not u.is_system and u.password_hash is not null $$;

ALTER FUNCTION public.auth_login_lookup(p_email text) OWNER TO atelier_owner;

CREATE FUNCTION public.auth_resolve_session(p_session_id uuid, p_user_id uuid) RETURNS TABLE(user_id uuid, is_admin boolean, email text, display_name text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$ select u.id, u.is_admin, u.email, u.display_name
          from public.sessions s join public.users u on u.id = s.user_id
          where s.id = p_session_id and s.user_id = p_user_id
            and s.expires_at > now() and u.is_active and not u.is_system $$;

ALTER FUNCTION public.auth_resolve_session(p_session_id uuid, p_user_id uuid) OWNER TO atelier_owner;

CREATE FUNCTION public.auth_setup_admin(p_id uuid, p_email text, p_display_name text, p_password_hash text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
begin
    perform pg_advisory_xact_lock(7406283520);
    if exists (select 1 from public.users where is_admin and not is_system) then
        return false;
    end if;
    insert into public.users (id, email, display_name, password_hash, is_admin)
    values (p_id, lower(p_email), p_display_name, p_password_hash, true);
    return true;
end $$;

ALTER FUNCTION public.auth_setup_admin(p_id uuid, p_email text, p_display_name text, p_password_hash text) OWNER TO atelier_owner;

CREATE FUNCTION public.auth_throttle_clear(p_key text) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$ delete from public.login_throttle where key = p_key $$;

ALTER FUNCTION public.auth_throttle_clear(p_key text) OWNER TO atelier_owner;

CREATE FUNCTION public.auth_throttle_hit(p_key text, p_limit integer, p_window_secs double precision) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
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

ALTER FUNCTION public.auth_throttle_hit(p_key text, p_limit integer, p_window_secs double precision) OWNER TO atelier_owner;

CREATE FUNCTION public.images_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
declare
    r record;
begin
    r := case when tg_op = 'DELETE' then old else new end;
    if r.category <> 'mask' then
        perform pg_notify('atelier_events', json_build_object(
            'kind', 'image', 'op', lower(tg_op), 'id', r.id, 'owner_id', r.owner_id,
            'board_id', r.board_id)::text);
    end if;
    return null;
end $$;

ALTER FUNCTION public.images_notify() OWNER TO atelier_owner;

CREATE FUNCTION public.model_installs_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
    perform pg_notify('atelier_events', json_build_object(
        'kind', 'model_install', 'id', new.id, 'status', new.status,
        'bytes_done', new.bytes_done, 'bytes_total', new.bytes_total,
        'error', left(new.error, 500), 'error_code', new.error_code,
        'model_id', new.model_id)::text);
    return null;
end $$;

ALTER FUNCTION public.model_installs_notify() OWNER TO atelier_owner;

CREATE FUNCTION public.queue_charge(p_owner uuid, p_band smallint, p_delta double precision) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
begin
    update public.queue_users set finish_tag = finish_tag + p_delta where user_id = p_owner;
    perform public.queue_sync_head(p_owner, p_band);
end $$;

ALTER FUNCTION public.queue_charge(p_owner uuid, p_band smallint, p_delta double precision) OWNER TO atelier_owner;

CREATE FUNCTION public.queue_checkpoints_drop() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
begin
    delete from public.queue_checkpoints c where c.item_id = new.id;
    return null;
end $$;

ALTER FUNCTION public.queue_checkpoints_drop() OWNER TO atelier_owner;

CREATE FUNCTION public.queue_counts() RETURNS TABLE(mine_pending bigint, mine_in_progress bigint, total_pending bigint, total_in_progress bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
    select count(*) filter (where status = 'pending' and owner_id = atelier_current_user_id()),
           count(*) filter (where status = 'in_progress' and owner_id = atelier_current_user_id()),
           count(*) filter (where status = 'pending'),
           count(*) filter (where status = 'in_progress')
    from public.queue_items
    where atelier_current_user_id() is not null
    $$;

ALTER FUNCTION public.queue_counts() OWNER TO atelier_owner;

CREATE FUNCTION public.queue_items_before_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
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

ALTER FUNCTION public.queue_items_before_insert() OWNER TO atelier_owner;

CREATE FUNCTION public.queue_items_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

ALTER FUNCTION public.queue_items_notify() OWNER TO atelier_owner;

CREATE FUNCTION public.queue_items_sync() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
begin
    if tg_op = 'INSERT' or old.status = 'pending' or new.status = 'pending' then
        perform public.queue_lock();
        perform public.queue_sync_head(new.owner_id, new.band);
    end if;
    return null;
end $$;

ALTER FUNCTION public.queue_items_sync() OWNER TO atelier_owner;

CREATE FUNCTION public.queue_list(p_id uuid DEFAULT NULL::uuid, p_finished integer DEFAULT 200, p_after bigint DEFAULT NULL::bigint, p_limit integer DEFAULT NULL::integer) RETURNS TABLE(id uuid, owner_id uuid, owner_name text, is_mine boolean, status text, queue_position bigint, params jsonb, error text, result_image_ids uuid[], created_at timestamp with time zone, started_at timestamp with time zone, finished_at timestamp with time zone, seq bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
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

ALTER FUNCTION public.queue_list(p_id uuid, p_finished integer, p_after bigint, p_limit integer) OWNER TO atelier_owner;

CREATE FUNCTION public.queue_lock() RETURNS void
    LANGUAGE sql
    AS $$ select pg_advisory_xact_lock(7243620841) $$;

ALTER FUNCTION public.queue_lock() OWNER TO atelier_owner;

CREATE FUNCTION public.queue_progress(p_id uuid, p_step integer, p_total integer, p_preview text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
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

ALTER FUNCTION public.queue_progress(p_id uuid, p_step integer, p_total integer, p_preview text) OWNER TO atelier_owner;

CREATE FUNCTION public.queue_sync_head(p_owner uuid, p_band smallint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
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

ALTER FUNCTION public.queue_sync_head(p_owner uuid, p_band smallint) OWNER TO atelier_owner;

CREATE FUNCTION public.s3_key_lookup(p_access_key text) RETURNS TABLE(owner_id uuid, secret_sealed bytea, read_only boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
    select k.owner_id, k.secret_sealed, k.read_only
    from public.s3_keys k join public.users u on u.id = k.owner_id
    where k.access_key_id = p_access_key and u.is_active
$$;

ALTER FUNCTION public.s3_key_lookup(p_access_key text) OWNER TO atelier_owner;

CREATE FUNCTION public.sessions_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
    perform pg_notify('atelier_events', json_build_object(
        'kind', 'session_ended', 'session_id', old.id, 'owner_id', old.user_id)::text);
    return null;
end $$;

ALTER FUNCTION public.sessions_notify() OWNER TO atelier_owner;

CREATE TABLE public.boards (
    id uuid NOT NULL,
    owner_id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT boards_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 100)))
);

ALTER TABLE ONLY public.boards FORCE ROW LEVEL SECURITY;

ALTER TABLE public.boards OWNER TO atelier_owner;

CREATE TABLE public.gpu_usage (
    user_id uuid NOT NULL,
    hour timestamp with time zone NOT NULL,
    band smallint NOT NULL,
    seconds double precision DEFAULT 0 NOT NULL,
    CONSTRAINT gpu_usage_band_check CHECK (((band >= 0) AND (band <= 2))),
    CONSTRAINT gpu_usage_seconds_check CHECK ((seconds >= (0)::double precision))
);

ALTER TABLE ONLY public.gpu_usage FORCE ROW LEVEL SECURITY;

ALTER TABLE public.gpu_usage OWNER TO atelier_owner;

CREATE TABLE public.images (
    id uuid NOT NULL,
    owner_id uuid NOT NULL,
    board_id uuid,
    category text NOT NULL,
    content_type text NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    byte_size bigint NOT NULL,
    starred boolean DEFAULT false NOT NULL,
    metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    file_name text,
    CONSTRAINT images_category_check CHECK ((category = ANY (ARRAY['general'::text, 'user'::text, 'mask'::text]))),
    CONSTRAINT images_content_type_check CHECK ((content_type = ANY (ARRAY['image/png'::text, 'image/jpeg'::text, 'image/webp'::text]))),
    CONSTRAINT images_file_name_check CHECK (((file_name IS NULL) OR (((char_length(file_name) >= 1) AND (char_length(file_name) <= 255)) AND (strpos(file_name, '/'::text) = 0) AND (file_name <> ALL (ARRAY['.'::text, '..'::text]))))),
    CONSTRAINT images_size_check CHECK (((width > 0) AND (height > 0) AND (byte_size >= 0)))
);

ALTER TABLE ONLY public.images FORCE ROW LEVEL SECURITY;

ALTER TABLE public.images OWNER TO atelier_owner;

CREATE TABLE public.login_throttle (
    key text NOT NULL,
    window_started timestamp with time zone NOT NULL,
    count integer NOT NULL,
    CONSTRAINT login_throttle_count_check CHECK ((count >= 0)),
    CONSTRAINT login_throttle_key_check CHECK (((char_length(key) >= 1) AND (char_length(key) <= 300)))
);

ALTER TABLE ONLY public.login_throttle FORCE ROW LEVEL SECURITY;

ALTER TABLE public.login_throttle OWNER TO atelier_owner;

CREATE TABLE public.model_installs (
    id uuid NOT NULL,
    source text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    bytes_done bigint DEFAULT 0 NOT NULL,
    bytes_total bigint,
    error text,
    error_code text,
    model_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT model_installs_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'completed'::text, 'failed'::text])))
);

ALTER TABLE ONLY public.model_installs FORCE ROW LEVEL SECURITY;

ALTER TABLE public.model_installs OWNER TO atelier_owner;

CREATE TABLE public.models (
    id uuid NOT NULL,
    name text NOT NULL,
    base text NOT NULL,
    type text NOT NULL,
    format text NOT NULL,
    source text NOT NULL,
    location text NOT NULL,
    size_bytes bigint NOT NULL,
    hash text NOT NULL,
    defaults jsonb DEFAULT '{}'::jsonb NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT models_base_check CHECK ((base = ANY (ARRAY['sd-1'::text, 'sd-2'::text, 'sdxl'::text, 'any'::text]))),
    CONSTRAINT models_description_check CHECK ((char_length(description) <= 2000)),
    CONSTRAINT models_format_check CHECK ((format = ANY (ARRAY['diffusers'::text, 'single_file'::text]))),
    CONSTRAINT models_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 100))),
    CONSTRAINT models_size_bytes_check CHECK ((size_bytes >= 0)),
    CONSTRAINT models_type_check CHECK ((type = ANY (ARRAY['main'::text, 'vae'::text, 'lora'::text])))
);

ALTER TABLE ONLY public.models FORCE ROW LEVEL SECURITY;

ALTER TABLE public.models OWNER TO atelier_owner;

CREATE TABLE public.queue_bands (
    band smallint NOT NULL,
    vtime double precision DEFAULT 0 NOT NULL,
    tokens double precision DEFAULT '1000000000'::numeric NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT queue_bands_band_check CHECK (((band >= 0) AND (band <= 2)))
);

ALTER TABLE ONLY public.queue_bands FORCE ROW LEVEL SECURITY;

ALTER TABLE public.queue_bands OWNER TO atelier_owner;

CREATE TABLE public.queue_checkpoints (
    item_id uuid NOT NULL,
    step integer NOT NULL,
    remaining double precision NOT NULL,
    data bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT queue_checkpoints_data_check CHECK ((octet_length(data) <= ((256 * 1024) * 1024))),
    CONSTRAINT queue_checkpoints_step_check CHECK ((step >= 0))
);

ALTER TABLE ONLY public.queue_checkpoints FORCE ROW LEVEL SECURITY;

ALTER TABLE public.queue_checkpoints OWNER TO atelier_owner;

CREATE TABLE public.queue_control (
    id boolean DEFAULT true NOT NULL,
    paused boolean DEFAULT false NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT queue_control_single_check CHECK (id)
);

ALTER TABLE ONLY public.queue_control FORCE ROW LEVEL SECURITY;

ALTER TABLE public.queue_control OWNER TO atelier_owner;

CREATE TABLE public.queue_items (
    id uuid NOT NULL,
    owner_id uuid NOT NULL,
    seq bigint NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    band smallint DEFAULT 1 NOT NULL,
    params jsonb NOT NULL,
    est_cost double precision NOT NULL,
    error text,
    result_image_ids uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    worker text,
    lease_until timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    vstart double precision,
    remaining_cost double precision,
    charged double precision,
    suspended_by text,
    step integer DEFAULT 0 NOT NULL,
    CONSTRAINT queue_items_band_check CHECK (((band >= 0) AND (band <= 2))),
    CONSTRAINT queue_items_est_cost_check CHECK ((est_cost >= (0)::double precision)),
    CONSTRAINT queue_items_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'in_progress'::text, 'completed'::text, 'failed'::text, 'canceled'::text])))
);

ALTER TABLE ONLY public.queue_items FORCE ROW LEVEL SECURITY;

ALTER TABLE public.queue_items OWNER TO atelier_owner;

ALTER TABLE public.queue_items ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.queue_items_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.queue_users (
    user_id uuid NOT NULL,
    weight double precision DEFAULT 1 NOT NULL,
    finish_tag double precision DEFAULT 0 NOT NULL,
    CONSTRAINT queue_users_weight_check CHECK (((weight > (0)::double precision) AND (weight <= (100)::double precision)))
);

ALTER TABLE ONLY public.queue_users FORCE ROW LEVEL SECURITY;

ALTER TABLE public.queue_users OWNER TO atelier_owner;

CREATE TABLE public.refinery_schema_history (
    version integer NOT NULL,
    name character varying(255),
    applied_on character varying(255),
    checksum character varying(255)
);

ALTER TABLE public.refinery_schema_history OWNER TO atelier_owner;

CREATE TABLE public.s3_keys (
    access_key_id text NOT NULL,
    owner_id uuid NOT NULL,
    label text DEFAULT ''::text NOT NULL,
    read_only boolean DEFAULT false NOT NULL,
    secret_sealed bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT s3_keys_access_key_id_check CHECK ((access_key_id ~ '^AT[A-Z2-7]{18}$'::text)),
    CONSTRAINT s3_keys_label_check CHECK ((char_length(label) <= 100)),
    CONSTRAINT s3_keys_secret_sealed_check CHECK ((octet_length(secret_sealed) <= 256))
);

ALTER TABLE ONLY public.s3_keys FORCE ROW LEVEL SECURITY;

ALTER TABLE public.s3_keys OWNER TO atelier_owner;

CREATE TABLE public.s3_upload_parts (
    upload_id uuid NOT NULL,
    upload_owner_id uuid NOT NULL,
    part_number integer NOT NULL,
    byte_size bigint NOT NULL,
    etag text NOT NULL,
    CONSTRAINT s3_upload_parts_byte_size_check CHECK ((byte_size >= 0)),
    CONSTRAINT s3_upload_parts_part_number_check CHECK (((part_number >= 1) AND (part_number <= 10000)))
);

ALTER TABLE ONLY public.s3_upload_parts FORCE ROW LEVEL SECURITY;

ALTER TABLE public.s3_upload_parts OWNER TO atelier_owner;

CREATE TABLE public.s3_uploads (
    id uuid NOT NULL,
    owner_id uuid NOT NULL,
    object_key text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT s3_uploads_object_key_check CHECK (((char_length(object_key) >= 1) AND (char_length(object_key) <= 1024)))
);

ALTER TABLE ONLY public.s3_uploads FORCE ROW LEVEL SECURITY;

ALTER TABLE public.s3_uploads OWNER TO atelier_owner;

CREATE TABLE public.sessions (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    user_agent text,
    CONSTRAINT sessions_user_agent_check CHECK ((char_length(user_agent) <= 512))
);

ALTER TABLE ONLY public.sessions FORCE ROW LEVEL SECURITY;

ALTER TABLE public.sessions OWNER TO atelier_owner;

CREATE TABLE public.ui_state (
    user_id uuid NOT NULL,
    state jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ui_state_state_check CHECK ((jsonb_typeof(state) = 'object'::text))
);

ALTER TABLE ONLY public.ui_state FORCE ROW LEVEL SECURITY;

ALTER TABLE public.ui_state OWNER TO atelier_owner;

CREATE TABLE public.users (
    id uuid NOT NULL,
    email text NOT NULL,
    display_name text NOT NULL,
    password_hash text,
    is_admin boolean DEFAULT false NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    is_system boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    quota_bytes bigint,
    used_bytes bigint DEFAULT 0 NOT NULL,
    CONSTRAINT users_display_name_check CHECK (((char_length(display_name) >= 1) AND (char_length(display_name) <= 100))),
    CONSTRAINT users_email_lower_check CHECK ((email = lower(email))),
    CONSTRAINT users_quota_bytes_check CHECK (((quota_bytes IS NULL) OR (quota_bytes >= 0))),
    CONSTRAINT users_system_no_password_check CHECK ((NOT (is_system AND (password_hash IS NOT NULL)))),
    CONSTRAINT users_system_not_admin_check CHECK ((NOT (is_system AND is_admin)))
);

ALTER TABLE ONLY public.users FORCE ROW LEVEL SECURITY;

ALTER TABLE public.users OWNER TO atelier_owner;

CREATE TABLE public.workers (
    name text NOT NULL,
    device text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen timestamp with time zone DEFAULT now() NOT NULL,
    memory jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT workers_memory_check CHECK ((jsonb_typeof(memory) = 'object'::text)),
    CONSTRAINT workers_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200)))
);

ALTER TABLE ONLY public.workers FORCE ROW LEVEL SECURITY;

ALTER TABLE public.workers OWNER TO atelier_owner;

ALTER TABLE ONLY public.boards
    ADD CONSTRAINT boards_id_owner_id_key UNIQUE (id, owner_id);

ALTER TABLE ONLY public.boards
    ADD CONSTRAINT boards_owner_id_name_key UNIQUE (owner_id, name);

ALTER TABLE ONLY public.boards
    ADD CONSTRAINT boards_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.gpu_usage
    ADD CONSTRAINT gpu_usage_pkey PRIMARY KEY (user_id, hour, band);

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.login_throttle
    ADD CONSTRAINT login_throttle_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.model_installs
    ADD CONSTRAINT model_installs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.models
    ADD CONSTRAINT models_hash_key UNIQUE (hash);

ALTER TABLE ONLY public.models
    ADD CONSTRAINT models_location_key UNIQUE (location);

ALTER TABLE ONLY public.models
    ADD CONSTRAINT models_name_key UNIQUE (name);

ALTER TABLE ONLY public.models
    ADD CONSTRAINT models_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.queue_bands
    ADD CONSTRAINT queue_bands_pkey PRIMARY KEY (band);

ALTER TABLE ONLY public.queue_checkpoints
    ADD CONSTRAINT queue_checkpoints_pkey PRIMARY KEY (item_id);

ALTER TABLE ONLY public.queue_control
    ADD CONSTRAINT queue_control_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.queue_items
    ADD CONSTRAINT queue_items_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.queue_users
    ADD CONSTRAINT queue_users_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY public.refinery_schema_history
    ADD CONSTRAINT refinery_schema_history_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.s3_keys
    ADD CONSTRAINT s3_keys_pkey PRIMARY KEY (access_key_id);

ALTER TABLE ONLY public.s3_upload_parts
    ADD CONSTRAINT s3_upload_parts_pkey PRIMARY KEY (upload_id, part_number);

ALTER TABLE ONLY public.s3_uploads
    ADD CONSTRAINT s3_uploads_id_owner_id_key UNIQUE (id, owner_id);

ALTER TABLE ONLY public.s3_uploads
    ADD CONSTRAINT s3_uploads_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ui_state
    ADD CONSTRAINT ui_state_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_email_key UNIQUE (email);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.workers
    ADD CONSTRAINT workers_pkey PRIMARY KEY (name);

CREATE INDEX gpu_usage_hour_idx ON public.gpu_usage USING btree (hour);

CREATE INDEX images_gallery_board_created_idx ON public.images USING btree (owner_id, board_id, created_at DESC, id DESC) WHERE (category <> 'mask'::text);

CREATE INDEX images_gallery_board_starred_idx ON public.images USING btree (owner_id, board_id, starred DESC, created_at DESC, id DESC) WHERE (category <> 'mask'::text);

CREATE INDEX images_gallery_created_idx ON public.images USING btree (owner_id, created_at DESC, id DESC) WHERE (category <> 'mask'::text);

CREATE INDEX images_gallery_starred_idx ON public.images USING btree (owner_id, starred DESC, created_at DESC, id DESC) WHERE (category <> 'mask'::text);

CREATE INDEX images_owner_board_category_created_idx ON public.images USING btree (owner_id, board_id, category, created_at DESC, id DESC);

CREATE INDEX images_owner_board_category_starred_idx ON public.images USING btree (owner_id, board_id, category, starred DESC, created_at DESC, id DESC);

CREATE INDEX images_owner_category_created_idx ON public.images USING btree (owner_id, category, created_at DESC, id DESC);

CREATE INDEX images_owner_file_name_idx ON public.images USING btree (owner_id, file_name, board_id) WHERE (file_name IS NOT NULL);

CREATE INDEX login_throttle_window_started ON public.login_throttle USING btree (window_started);

CREATE INDEX queue_items_claim_idx ON public.queue_items USING btree (band DESC, seq) WHERE (status = 'pending'::text);

CREATE INDEX queue_items_finished_idx ON public.queue_items USING btree (finished_at DESC NULLS LAST) WHERE (status = ANY (ARRAY['completed'::text, 'failed'::text, 'canceled'::text]));

CREATE INDEX queue_items_heads_idx ON public.queue_items USING btree (band DESC, vstart, seq) WHERE ((status = 'pending'::text) AND (vstart IS NOT NULL));

CREATE INDEX queue_items_lease_idx ON public.queue_items USING btree (lease_until) WHERE (status = 'in_progress'::text);

CREATE INDEX queue_items_owner_status_idx ON public.queue_items USING btree (owner_id, status, seq);

CREATE INDEX queue_items_running_idx ON public.queue_items USING btree (band, vstart) WHERE (status = 'in_progress'::text);

CREATE INDEX s3_keys_owner_idx ON public.s3_keys USING btree (owner_id, created_at DESC);

CREATE INDEX s3_upload_parts_owner_idx ON public.s3_upload_parts USING btree (upload_owner_id, upload_id);

CREATE INDEX s3_uploads_owner_idx ON public.s3_uploads USING btree (owner_id, created_at);

CREATE INDEX sessions_user_id_idx ON public.sessions USING btree (user_id, created_at DESC);

CREATE TRIGGER boards_touch_updated_at BEFORE UPDATE ON public.boards FOR EACH ROW EXECUTE FUNCTION public.atelier_touch_updated_at();

CREATE TRIGGER images_notify AFTER INSERT OR DELETE ON public.images FOR EACH ROW EXECUTE FUNCTION public.images_notify();

CREATE TRIGGER images_track_used_bytes AFTER INSERT OR DELETE OR UPDATE OF owner_id ON public.images FOR EACH ROW EXECUTE FUNCTION public.atelier_track_used_bytes();

CREATE TRIGGER model_installs_notify AFTER INSERT OR UPDATE ON public.model_installs FOR EACH ROW EXECUTE FUNCTION public.model_installs_notify();

CREATE TRIGGER model_installs_touch_updated_at BEFORE UPDATE ON public.model_installs FOR EACH ROW EXECUTE FUNCTION public.atelier_touch_updated_at();

CREATE TRIGGER models_touch_updated_at BEFORE UPDATE ON public.models FOR EACH ROW EXECUTE FUNCTION public.atelier_touch_updated_at();

CREATE TRIGGER queue_items_before_insert BEFORE INSERT ON public.queue_items FOR EACH ROW EXECUTE FUNCTION public.queue_items_before_insert();

CREATE TRIGGER queue_items_drop_checkpoint AFTER UPDATE OF status ON public.queue_items FOR EACH ROW WHEN ((new.status = ANY (ARRAY['completed'::text, 'failed'::text, 'canceled'::text]))) EXECUTE FUNCTION public.queue_checkpoints_drop();

CREATE TRIGGER queue_items_notify AFTER INSERT OR DELETE OR UPDATE OF status ON public.queue_items FOR EACH ROW EXECUTE FUNCTION public.queue_items_notify();

CREATE TRIGGER queue_items_sync AFTER INSERT OR UPDATE OF status ON public.queue_items FOR EACH ROW EXECUTE FUNCTION public.queue_items_sync();

CREATE TRIGGER sessions_notify AFTER DELETE ON public.sessions FOR EACH ROW EXECUTE FUNCTION public.sessions_notify();

CREATE TRIGGER users_guard_last_admin AFTER DELETE OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.atelier_guard_last_admin();

CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.atelier_touch_updated_at();

ALTER TABLE ONLY public.boards
    ADD CONSTRAINT boards_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.gpu_usage
    ADD CONSTRAINT gpu_usage_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_board_same_owner_fkey FOREIGN KEY (board_id, owner_id) REFERENCES public.boards(id, owner_id) ON UPDATE CASCADE ON DELETE SET NULL (board_id);

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.model_installs
    ADD CONSTRAINT model_installs_model_id_fkey FOREIGN KEY (model_id) REFERENCES public.models(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.queue_checkpoints
    ADD CONSTRAINT queue_checkpoints_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.queue_items(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.queue_items
    ADD CONSTRAINT queue_items_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.queue_users
    ADD CONSTRAINT queue_users_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.s3_keys
    ADD CONSTRAINT s3_keys_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON UPDATE CASCADE ON DELETE CASCADE;

ALTER TABLE ONLY public.s3_upload_parts
    ADD CONSTRAINT s3_upload_parts_upload_id_fkey FOREIGN KEY (upload_id, upload_owner_id) REFERENCES public.s3_uploads(id, owner_id) ON UPDATE CASCADE ON DELETE CASCADE;

ALTER TABLE ONLY public.s3_uploads
    ADD CONSTRAINT s3_uploads_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON UPDATE CASCADE ON DELETE CASCADE;

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ui_state
    ADD CONSTRAINT ui_state_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE public.boards ENABLE ROW LEVEL SECURITY;

CREATE POLICY boards_delete_admin ON public.boards FOR DELETE TO atelier_admin USING (true);

CREATE POLICY boards_delete_user ON public.boards FOR DELETE TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY boards_insert_admin ON public.boards FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY boards_insert_user ON public.boards FOR INSERT TO atelier_user WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY boards_select_admin ON public.boards FOR SELECT TO atelier_admin USING (true);

CREATE POLICY boards_select_user ON public.boards FOR SELECT TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY boards_update_admin ON public.boards FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

CREATE POLICY boards_update_user ON public.boards FOR UPDATE TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id))) WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

ALTER TABLE public.gpu_usage ENABLE ROW LEVEL SECURITY;

CREATE POLICY gpu_usage_delete_worker ON public.gpu_usage FOR DELETE TO atelier_worker USING (true);

CREATE POLICY gpu_usage_insert_worker ON public.gpu_usage FOR INSERT TO atelier_worker WITH CHECK (true);

CREATE POLICY gpu_usage_select_admin ON public.gpu_usage FOR SELECT TO atelier_admin USING (true);

CREATE POLICY gpu_usage_select_user ON public.gpu_usage FOR SELECT TO atelier_user USING ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY gpu_usage_select_worker ON public.gpu_usage FOR SELECT TO atelier_worker USING (true);

CREATE POLICY gpu_usage_update_worker ON public.gpu_usage FOR UPDATE TO atelier_worker USING (true) WITH CHECK (true);

ALTER TABLE public.images ENABLE ROW LEVEL SECURITY;

CREATE POLICY images_delete_admin ON public.images FOR DELETE TO atelier_admin USING (true);

CREATE POLICY images_delete_user ON public.images FOR DELETE TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY images_insert_admin ON public.images FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY images_insert_user ON public.images FOR INSERT TO atelier_user WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY images_select_admin ON public.images FOR SELECT TO atelier_admin USING (true);

CREATE POLICY images_select_user ON public.images FOR SELECT TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY images_update_admin ON public.images FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

CREATE POLICY images_update_user ON public.images FOR UPDATE TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id))) WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

ALTER TABLE public.login_throttle ENABLE ROW LEVEL SECURITY;

CREATE POLICY login_throttle_owner ON public.login_throttle TO atelier_admin USING (true) WITH CHECK (true);

ALTER TABLE public.model_installs ENABLE ROW LEVEL SECURITY;

CREATE POLICY model_installs_all_admin ON public.model_installs TO atelier_admin USING (true) WITH CHECK (true);

ALTER TABLE public.models ENABLE ROW LEVEL SECURITY;

CREATE POLICY models_delete_admin ON public.models FOR DELETE TO atelier_admin USING (true);

CREATE POLICY models_insert_admin ON public.models FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY models_select_all ON public.models FOR SELECT TO atelier_user, atelier_admin, atelier_worker USING (true);

CREATE POLICY models_update_admin ON public.models FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

ALTER TABLE public.queue_bands ENABLE ROW LEVEL SECURITY;

CREATE POLICY queue_bands_insert_admin ON public.queue_bands FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY queue_bands_select_all ON public.queue_bands FOR SELECT TO atelier_user, atelier_admin, atelier_worker USING (true);

CREATE POLICY queue_bands_update_worker ON public.queue_bands FOR UPDATE TO atelier_worker USING (true) WITH CHECK (true);

ALTER TABLE public.queue_checkpoints ENABLE ROW LEVEL SECURITY;

CREATE POLICY queue_checkpoints_delete_admin ON public.queue_checkpoints FOR DELETE TO atelier_admin USING (true);

CREATE POLICY queue_checkpoints_delete_worker ON public.queue_checkpoints FOR DELETE TO atelier_worker USING (true);

CREATE POLICY queue_checkpoints_insert_worker ON public.queue_checkpoints FOR INSERT TO atelier_worker WITH CHECK (true);

CREATE POLICY queue_checkpoints_select_admin ON public.queue_checkpoints FOR SELECT TO atelier_admin USING (true);

CREATE POLICY queue_checkpoints_select_worker ON public.queue_checkpoints FOR SELECT TO atelier_worker USING (true);

CREATE POLICY queue_checkpoints_update_worker ON public.queue_checkpoints FOR UPDATE TO atelier_worker USING (true) WITH CHECK (true);

ALTER TABLE public.queue_control ENABLE ROW LEVEL SECURITY;

CREATE POLICY queue_control_insert_admin ON public.queue_control FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY queue_control_select_all ON public.queue_control FOR SELECT TO atelier_user, atelier_admin, atelier_worker USING (true);

CREATE POLICY queue_control_update_admin ON public.queue_control FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

ALTER TABLE public.queue_items ENABLE ROW LEVEL SECURITY;

CREATE POLICY queue_items_delete_admin ON public.queue_items FOR DELETE TO atelier_admin USING (true);

CREATE POLICY queue_items_delete_user ON public.queue_items FOR DELETE TO atelier_user USING (((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)) AND (status = ANY (ARRAY['completed'::text, 'failed'::text, 'canceled'::text]))));

CREATE POLICY queue_items_insert_admin ON public.queue_items FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY queue_items_insert_user ON public.queue_items FOR INSERT TO atelier_user WITH CHECK (((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)) AND (status = 'pending'::text)));

CREATE POLICY queue_items_select_admin ON public.queue_items FOR SELECT TO atelier_admin USING (true);

CREATE POLICY queue_items_select_user ON public.queue_items FOR SELECT TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY queue_items_select_worker ON public.queue_items FOR SELECT TO atelier_worker USING (true);

CREATE POLICY queue_items_update_admin ON public.queue_items FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

CREATE POLICY queue_items_update_user ON public.queue_items FOR UPDATE TO atelier_user USING (((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)) AND (status = ANY (ARRAY['pending'::text, 'in_progress'::text])))) WITH CHECK (((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)) AND (status = 'canceled'::text)));

CREATE POLICY queue_items_update_worker ON public.queue_items FOR UPDATE TO atelier_worker USING (true) WITH CHECK (true);

ALTER TABLE public.queue_users ENABLE ROW LEVEL SECURITY;

CREATE POLICY queue_users_insert_admin ON public.queue_users FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY queue_users_select_admin ON public.queue_users FOR SELECT TO atelier_admin USING (true);

CREATE POLICY queue_users_select_user ON public.queue_users FOR SELECT TO atelier_user USING ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY queue_users_select_worker ON public.queue_users FOR SELECT TO atelier_worker USING (true);

CREATE POLICY queue_users_update_admin ON public.queue_users FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

CREATE POLICY queue_users_update_worker ON public.queue_users FOR UPDATE TO atelier_worker USING (true) WITH CHECK (true);

ALTER TABLE public.s3_keys ENABLE ROW LEVEL SECURITY;

CREATE POLICY s3_keys_delete_admin ON public.s3_keys FOR DELETE TO atelier_admin USING (true);

CREATE POLICY s3_keys_delete_user ON public.s3_keys FOR DELETE TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_keys_insert_admin ON public.s3_keys FOR INSERT TO atelier_admin WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_keys_insert_user ON public.s3_keys FOR INSERT TO atelier_user WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_keys_select_admin ON public.s3_keys FOR SELECT TO atelier_admin USING (true);

CREATE POLICY s3_keys_select_user ON public.s3_keys FOR SELECT TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_keys_update_admin ON public.s3_keys FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

CREATE POLICY s3_keys_update_user ON public.s3_keys FOR UPDATE TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id))) WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

ALTER TABLE public.s3_upload_parts ENABLE ROW LEVEL SECURITY;

CREATE POLICY s3_upload_parts_delete_admin ON public.s3_upload_parts FOR DELETE TO atelier_admin USING (true);

CREATE POLICY s3_upload_parts_delete_user ON public.s3_upload_parts FOR DELETE TO atelier_user USING ((upload_owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_upload_parts_insert_admin ON public.s3_upload_parts FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY s3_upload_parts_insert_user ON public.s3_upload_parts FOR INSERT TO atelier_user WITH CHECK ((upload_owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_upload_parts_select_admin ON public.s3_upload_parts FOR SELECT TO atelier_admin USING (true);

CREATE POLICY s3_upload_parts_select_user ON public.s3_upload_parts FOR SELECT TO atelier_user USING ((upload_owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_upload_parts_update_admin ON public.s3_upload_parts FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

CREATE POLICY s3_upload_parts_update_user ON public.s3_upload_parts FOR UPDATE TO atelier_user USING ((upload_owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id))) WITH CHECK ((upload_owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

ALTER TABLE public.s3_uploads ENABLE ROW LEVEL SECURITY;

CREATE POLICY s3_uploads_delete_admin ON public.s3_uploads FOR DELETE TO atelier_admin USING (true);

CREATE POLICY s3_uploads_delete_user ON public.s3_uploads FOR DELETE TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_uploads_insert_admin ON public.s3_uploads FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY s3_uploads_insert_user ON public.s3_uploads FOR INSERT TO atelier_user WITH CHECK ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_uploads_select_admin ON public.s3_uploads FOR SELECT TO atelier_admin USING (true);

CREATE POLICY s3_uploads_select_user ON public.s3_uploads FOR SELECT TO atelier_user USING ((owner_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY s3_uploads_update_admin ON public.s3_uploads FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

ALTER TABLE public.sessions ENABLE ROW LEVEL SECURITY;

CREATE POLICY sessions_delete_admin ON public.sessions FOR DELETE TO atelier_admin USING (true);

CREATE POLICY sessions_delete_user ON public.sessions FOR DELETE TO atelier_user USING ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY sessions_insert_admin ON public.sessions FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY sessions_insert_user ON public.sessions FOR INSERT TO atelier_user WITH CHECK ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY sessions_select_admin ON public.sessions FOR SELECT TO atelier_admin USING (true);

CREATE POLICY sessions_select_user ON public.sessions FOR SELECT TO atelier_user USING ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY sessions_update_admin ON public.sessions FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

ALTER TABLE public.ui_state ENABLE ROW LEVEL SECURITY;

CREATE POLICY ui_state_delete_own ON public.ui_state FOR DELETE TO atelier_user, atelier_admin USING ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY ui_state_insert_own ON public.ui_state FOR INSERT TO atelier_user, atelier_admin WITH CHECK ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY ui_state_select_own ON public.ui_state FOR SELECT TO atelier_user, atelier_admin USING ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY ui_state_update_own ON public.ui_state FOR UPDATE TO atelier_user, atelier_admin USING ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id))) WITH CHECK ((user_id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;

CREATE POLICY users_delete_admin ON public.users FOR DELETE TO atelier_admin USING (true);

CREATE POLICY users_insert_admin ON public.users FOR INSERT TO atelier_admin WITH CHECK (true);

CREATE POLICY users_select_admin ON public.users FOR SELECT TO atelier_admin USING (true);

CREATE POLICY users_select_user ON public.users FOR SELECT TO atelier_user USING ((id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

CREATE POLICY users_select_worker ON public.users FOR SELECT TO atelier_worker USING (true);

CREATE POLICY users_update_admin ON public.users FOR UPDATE TO atelier_admin USING (true) WITH CHECK (true);

CREATE POLICY users_update_user ON public.users FOR UPDATE TO atelier_user USING ((id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id))) WITH CHECK ((id = ( SELECT public.atelier_current_user_id() AS atelier_current_user_id)));

ALTER TABLE public.workers ENABLE ROW LEVEL SECURITY;

CREATE POLICY workers_delete_admin ON public.workers FOR DELETE TO atelier_admin USING (true);

CREATE POLICY workers_delete_worker ON public.workers FOR DELETE TO atelier_worker USING (true);

CREATE POLICY workers_insert_worker ON public.workers FOR INSERT TO atelier_worker WITH CHECK (true);

CREATE POLICY workers_select_admin ON public.workers FOR SELECT TO atelier_admin USING (true);

CREATE POLICY workers_select_worker ON public.workers FOR SELECT TO atelier_worker USING (true);

CREATE POLICY workers_update_worker ON public.workers FOR UPDATE TO atelier_worker USING (true) WITH CHECK (true);

GRANT USAGE ON SCHEMA public TO atelier_user;
GRANT USAGE ON SCHEMA public TO atelier_admin;
GRANT USAGE ON SCHEMA public TO atelier_worker;

REVOKE ALL ON FUNCTION public.atelier_adopt(p_from uuid, p_to uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.atelier_adopt(p_from uuid, p_to uuid) TO atelier_admin;

REVOKE ALL ON FUNCTION public.atelier_guard_last_admin() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.atelier_track_used_bytes() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.auth_admin_exists() FROM PUBLIC;
GRANT ALL ON FUNCTION public.auth_admin_exists() TO atelier_app;

REVOKE ALL ON FUNCTION public.auth_login_lookup(p_email text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.auth_login_lookup(p_email text) TO atelier_app;

REVOKE ALL ON FUNCTION public.auth_resolve_session(p_session_id uuid, p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.auth_resolve_session(p_session_id uuid, p_user_id uuid) TO atelier_app;

REVOKE ALL ON FUNCTION public.auth_setup_admin(p_id uuid, p_email text, p_display_name text, p_password_hash text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.auth_setup_admin(p_id uuid, p_email text, p_display_name text, p_password_hash text) TO atelier_app;

REVOKE ALL ON FUNCTION public.auth_throttle_clear(p_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.auth_throttle_clear(p_key text) TO atelier_app;

REVOKE ALL ON FUNCTION public.auth_throttle_hit(p_key text, p_limit integer, p_window_secs double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION public.auth_throttle_hit(p_key text, p_limit integer, p_window_secs double precision) TO atelier_app;

REVOKE ALL ON FUNCTION public.queue_charge(p_owner uuid, p_band smallint, p_delta double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION public.queue_charge(p_owner uuid, p_band smallint, p_delta double precision) TO atelier_worker;

REVOKE ALL ON FUNCTION public.queue_checkpoints_drop() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.queue_counts() FROM PUBLIC;
GRANT ALL ON FUNCTION public.queue_counts() TO atelier_user;
GRANT ALL ON FUNCTION public.queue_counts() TO atelier_admin;

REVOKE ALL ON FUNCTION public.queue_items_before_insert() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.queue_items_sync() FROM PUBLIC;

REVOKE ALL ON FUNCTION public.queue_list(p_id uuid, p_finished integer, p_after bigint, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.queue_list(p_id uuid, p_finished integer, p_after bigint, p_limit integer) TO atelier_user;
GRANT ALL ON FUNCTION public.queue_list(p_id uuid, p_finished integer, p_after bigint, p_limit integer) TO atelier_admin;

GRANT ALL ON FUNCTION public.queue_lock() TO atelier_user;
GRANT ALL ON FUNCTION public.queue_lock() TO atelier_admin;
GRANT ALL ON FUNCTION public.queue_lock() TO atelier_worker;

REVOKE ALL ON FUNCTION public.queue_progress(p_id uuid, p_step integer, p_total integer, p_preview text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.queue_progress(p_id uuid, p_step integer, p_total integer, p_preview text) TO atelier_worker;

REVOKE ALL ON FUNCTION public.queue_sync_head(p_owner uuid, p_band smallint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.queue_sync_head(p_owner uuid, p_band smallint) TO atelier_worker;

REVOKE ALL ON FUNCTION public.s3_key_lookup(p_access_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.s3_key_lookup(p_access_key text) TO atelier_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.boards TO atelier_user;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.boards TO atelier_admin;

GRANT SELECT ON TABLE public.gpu_usage TO atelier_user;
GRANT SELECT ON TABLE public.gpu_usage TO atelier_admin;
GRANT SELECT,INSERT,DELETE ON TABLE public.gpu_usage TO atelier_worker;

GRANT UPDATE(seconds) ON TABLE public.gpu_usage TO atelier_worker;

GRANT SELECT,INSERT,DELETE ON TABLE public.images TO atelier_user;
GRANT SELECT,INSERT,DELETE ON TABLE public.images TO atelier_admin;

GRANT UPDATE(owner_id) ON TABLE public.images TO atelier_admin;

GRANT UPDATE(board_id) ON TABLE public.images TO atelier_user;
GRANT UPDATE(board_id) ON TABLE public.images TO atelier_admin;

GRANT UPDATE(starred) ON TABLE public.images TO atelier_user;
GRANT UPDATE(starred) ON TABLE public.images TO atelier_admin;

GRANT UPDATE(file_name) ON TABLE public.images TO atelier_user;
GRANT UPDATE(file_name) ON TABLE public.images TO atelier_admin;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.model_installs TO atelier_admin;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.models TO atelier_admin;

GRANT SELECT(id) ON TABLE public.models TO atelier_user;
GRANT SELECT(id) ON TABLE public.models TO atelier_worker;

GRANT SELECT(name) ON TABLE public.models TO atelier_user;
GRANT SELECT(name) ON TABLE public.models TO atelier_worker;

GRANT SELECT(base) ON TABLE public.models TO atelier_user;
GRANT SELECT(base) ON TABLE public.models TO atelier_worker;

GRANT SELECT(type) ON TABLE public.models TO atelier_user;
GRANT SELECT(type) ON TABLE public.models TO atelier_worker;

GRANT SELECT(format) ON TABLE public.models TO atelier_user;
GRANT SELECT(format) ON TABLE public.models TO atelier_worker;

GRANT SELECT(location) ON TABLE public.models TO atelier_worker;

GRANT SELECT(size_bytes) ON TABLE public.models TO atelier_user;
GRANT SELECT(size_bytes) ON TABLE public.models TO atelier_worker;

GRANT SELECT(hash) ON TABLE public.models TO atelier_user;
GRANT SELECT(hash) ON TABLE public.models TO atelier_worker;

GRANT SELECT(defaults) ON TABLE public.models TO atelier_user;
GRANT SELECT(defaults) ON TABLE public.models TO atelier_worker;

GRANT SELECT(description) ON TABLE public.models TO atelier_user;
GRANT SELECT(description) ON TABLE public.models TO atelier_worker;

GRANT SELECT(created_at) ON TABLE public.models TO atelier_user;
GRANT SELECT(created_at) ON TABLE public.models TO atelier_worker;

GRANT SELECT(updated_at) ON TABLE public.models TO atelier_user;
GRANT SELECT(updated_at) ON TABLE public.models TO atelier_worker;

GRANT SELECT ON TABLE public.queue_bands TO atelier_user;
GRANT SELECT,INSERT ON TABLE public.queue_bands TO atelier_admin;
GRANT SELECT ON TABLE public.queue_bands TO atelier_worker;

GRANT UPDATE(vtime) ON TABLE public.queue_bands TO atelier_worker;

GRANT UPDATE(tokens) ON TABLE public.queue_bands TO atelier_worker;

GRANT UPDATE(updated_at) ON TABLE public.queue_bands TO atelier_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.queue_checkpoints TO atelier_worker;

GRANT SELECT ON TABLE public.queue_control TO atelier_user;
GRANT SELECT,INSERT ON TABLE public.queue_control TO atelier_admin;
GRANT SELECT ON TABLE public.queue_control TO atelier_worker;

GRANT UPDATE(paused) ON TABLE public.queue_control TO atelier_admin;

GRANT UPDATE(updated_at) ON TABLE public.queue_control TO atelier_admin;

GRANT SELECT,DELETE ON TABLE public.queue_items TO atelier_user;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.queue_items TO atelier_admin;
GRANT SELECT ON TABLE public.queue_items TO atelier_worker;

GRANT INSERT(id) ON TABLE public.queue_items TO atelier_user;

GRANT INSERT(owner_id) ON TABLE public.queue_items TO atelier_user;

GRANT UPDATE(status) ON TABLE public.queue_items TO atelier_user;
GRANT UPDATE(status) ON TABLE public.queue_items TO atelier_worker;

GRANT INSERT(params) ON TABLE public.queue_items TO atelier_user;

GRANT INSERT(est_cost) ON TABLE public.queue_items TO atelier_user;

GRANT UPDATE(error) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(result_image_ids) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(attempts) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(worker) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(lease_until) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(started_at) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(finished_at) ON TABLE public.queue_items TO atelier_user;
GRANT UPDATE(finished_at) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(vstart) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(remaining_cost) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(charged) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(suspended_by) ON TABLE public.queue_items TO atelier_worker;

GRANT UPDATE(step) ON TABLE public.queue_items TO atelier_worker;

GRANT SELECT ON TABLE public.queue_users TO atelier_user;
GRANT SELECT,INSERT ON TABLE public.queue_users TO atelier_admin;
GRANT SELECT ON TABLE public.queue_users TO atelier_worker;

GRANT UPDATE(weight) ON TABLE public.queue_users TO atelier_admin;

GRANT UPDATE(finish_tag) ON TABLE public.queue_users TO atelier_worker;

GRANT SELECT,INSERT,DELETE ON TABLE public.s3_keys TO atelier_user;
GRANT SELECT,INSERT,DELETE ON TABLE public.s3_keys TO atelier_admin;

GRANT UPDATE(owner_id) ON TABLE public.s3_keys TO atelier_admin;

GRANT UPDATE(label) ON TABLE public.s3_keys TO atelier_user;
GRANT UPDATE(label) ON TABLE public.s3_keys TO atelier_admin;

GRANT SELECT,INSERT,DELETE ON TABLE public.s3_upload_parts TO atelier_user;
GRANT SELECT,INSERT,DELETE ON TABLE public.s3_upload_parts TO atelier_admin;

GRANT UPDATE(byte_size) ON TABLE public.s3_upload_parts TO atelier_user;
GRANT UPDATE(byte_size) ON TABLE public.s3_upload_parts TO atelier_admin;

GRANT UPDATE(etag) ON TABLE public.s3_upload_parts TO atelier_user;
GRANT UPDATE(etag) ON TABLE public.s3_upload_parts TO atelier_admin;

GRANT SELECT,INSERT,DELETE ON TABLE public.s3_uploads TO atelier_user;
GRANT SELECT,INSERT,DELETE ON TABLE public.s3_uploads TO atelier_admin;

GRANT UPDATE(owner_id) ON TABLE public.s3_uploads TO atelier_admin;

GRANT SELECT,INSERT,DELETE ON TABLE public.sessions TO atelier_user;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.sessions TO atelier_admin;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.ui_state TO atelier_user;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.ui_state TO atelier_admin;

GRANT SELECT ON TABLE public.users TO atelier_user;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.users TO atelier_admin;

GRANT SELECT(id) ON TABLE public.users TO atelier_worker;

GRANT UPDATE(display_name) ON TABLE public.users TO atelier_user;

GRANT UPDATE(password_hash) ON TABLE public.users TO atelier_user;

GRANT SELECT(is_active) ON TABLE public.users TO atelier_worker;

GRANT UPDATE(updated_at) ON TABLE public.users TO atelier_user;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.workers TO atelier_worker;
GRANT SELECT,DELETE ON TABLE public.workers TO atelier_admin;

