-- V8: the model catalogue. Everyone reads it; only admins write it, by policy and by grant.
-- Where a model lives and where it came from (paths, URLs) are admins' business: users and
-- workers get a column grant without `source`, and workers also read `location` to load it.

create table models (
    id                uuid        not null,
    name              text        not null,
    base              text        not null,
    type              text        not null,
    format            text        not null,
    source            text        not null,
    location          text        not null,
    size_bytes        bigint      not null,
    hash              text        not null,
    defaults          jsonb       not null default '{}',
    description       text        not null default '',
    preview_image_id  uuid,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint models_pkey primary key (id),
    constraint models_name_key unique (name),
    constraint models_hash_key unique (hash),
    constraint models_location_key unique (location),
    constraint models_name_check check (char_length(name) between 1 and 100),
    constraint models_base_check check (base in ('sd-1', 'sd-2', 'sdxl', 'any')),
    constraint models_type_check check (type in ('main', 'vae')),
    constraint models_format_check check (format in ('diffusers', 'single_file')),
    constraint models_size_bytes_check check (size_bytes >= 0),
    constraint models_description_check check (char_length(description) <= 2000)
);
alter table models enable row level security;
alter table models force row level security;
create policy models_select_all on models for select
    to atelier_user, atelier_admin, atelier_worker using (true);
create policy models_insert_admin on models for insert to atelier_admin with check (true);
create policy models_update_admin on models for update to atelier_admin using (true) with check (true);
create policy models_delete_admin on models for delete to atelier_admin using (true);
grant select (id, name, base, type, format, size_bytes, hash, defaults, description,
              preview_image_id, created_at, updated_at) on models to atelier_user;
grant select (id, name, base, type, format, location, size_bytes, hash, defaults, description,
              preview_image_id, created_at, updated_at) on models to atelier_worker;
grant select, insert, update, delete on models to atelier_admin;
create trigger models_touch_updated_at before update on models
    for each row execute function atelier_touch_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Installs run as jobs with progress; only admins see them (they hold paths and URLs).
create table model_installs (
    id           uuid        not null,
    source       text        not null,
    status       text        not null default 'pending',
    bytes_done   bigint      not null default 0,
    bytes_total  bigint,
    error        text,
    error_code   text,
    model_id     uuid,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint model_installs_pkey primary key (id),
    constraint model_installs_model_id_fkey foreign key (model_id) references models (id) on delete set null,
    constraint model_installs_status_check check (status in ('pending', 'running', 'completed', 'failed'))
);
alter table model_installs enable row level security;
alter table model_installs force row level security;
create policy model_installs_all_admin on model_installs for all to atelier_admin
    using (true) with check (true);
grant select, insert, update, delete on model_installs to atelier_admin;
create trigger model_installs_touch_updated_at before update on model_installs
    for each row execute function atelier_touch_updated_at();

create function model_installs_notify() returns trigger
    language plpgsql
    as $$
begin
    perform pg_notify('atelier_events', json_build_object(
        'kind', 'model_install', 'id', new.id, 'status', new.status,
        'bytes_done', new.bytes_done, 'bytes_total', new.bytes_total,
        'error', left(new.error, 500), 'error_code', new.error_code,
        'model_id', new.model_id)::text);
    return null;
end $$;
create trigger model_installs_notify after insert or update on model_installs
    for each row execute function model_installs_notify();
