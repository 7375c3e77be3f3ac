-- V21: the S3 door (`s3` module). Users reach their own images with S3 clients, with access keys
-- of their own.
--
-- * `images.file_name`: the name an image was uploaded under (browser or S3), which the S3 view
--   lists it as; null for generated images (listed as `<id>.<ext>`).
-- * `s3_keys`: access keys. SigV4 is an HMAC, so the secret must be recoverable: it is stored
--   sealed (XChaCha20-Poly1305 under a key that never enters the database, with the access key
--   id as associated data). Users manage their own keys; admins may list and revoke anyone's.
-- * `s3_key_lookup(access_key)`: the one read that happens before an S3 request has an
--   identity. It answers only for an active user's key, so deactivation and deletion (cascade)
--   take effect on the next request.
-- * `s3_uploads` and `s3_upload_parts`: multipart uploads bound to their owner and key, with
--   the size of each staged part, so that the total staged per upload is bounded.

alter table images add column file_name text;
alter table images add constraint images_file_name_check check (
    file_name is null
    or (char_length(file_name) between 1 and 255 and strpos(file_name, '/') = 0
        and file_name not in ('.', '..')));
grant update (file_name) on images to atelier_user, atelier_admin;
-- A key's lookup: an owner's images by file name (then board).
create index images_owner_file_name_idx on images (owner_id, file_name, board_id)
    where file_name is not null;

create table s3_keys (
    access_key_id text        not null,
    owner_id      uuid        not null,
    label         text        not null default '',
    read_only     boolean     not null default false,
    secret_sealed bytea       not null,
    created_at    timestamptz not null default now(),
    constraint s3_keys_pkey primary key (access_key_id),
    constraint s3_keys_owner_id_fkey foreign key (owner_id) references users (id)
        on delete cascade on update cascade,
    constraint s3_keys_access_key_id_check check (access_key_id ~ '^AT[A-Z2-7]{18}$'),
    constraint s3_keys_label_check check (char_length(label) <= 100),
    constraint s3_keys_secret_sealed_check check (octet_length(secret_sealed) <= 256)
);
create index s3_keys_owner_idx on s3_keys (owner_id, created_at desc);

alter table s3_keys enable row level security;
alter table s3_keys force row level security;
create policy s3_keys_select_user on s3_keys for select to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy s3_keys_insert_user on s3_keys for insert to atelier_user
    with check (owner_id = (select atelier_current_user_id()));
create policy s3_keys_update_user on s3_keys for update to atelier_user
    using (owner_id = (select atelier_current_user_id()))
    with check (owner_id = (select atelier_current_user_id()));
create policy s3_keys_delete_user on s3_keys for delete to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy s3_keys_select_admin on s3_keys for select to atelier_admin using (true);
create policy s3_keys_insert_admin on s3_keys for insert to atelier_admin
    with check (owner_id = (select atelier_current_user_id()));
create policy s3_keys_update_admin on s3_keys for update to atelier_admin
    using (true) with check (true);
create policy s3_keys_delete_admin on s3_keys for delete to atelier_admin using (true);
grant select, insert, delete on s3_keys to atelier_user, atelier_admin;
grant update (label) on s3_keys to atelier_user, atelier_admin;
-- `atelier user adopt` moves keys and open uploads along with everything else.
grant update (owner_id) on s3_keys to atelier_admin;

create function s3_key_lookup(p_access_key text)
    returns table (owner_id uuid, secret_sealed bytea, read_only boolean)
    language sql stable security definer set search_path = pg_catalog, public
    as $$
    select k.owner_id, k.secret_sealed, k.read_only
    from public.s3_keys k join public.users u on u.id = k.owner_id
    where k.access_key_id = p_access_key and u.is_active
$$;
revoke all on function s3_key_lookup(text) from public;
grant execute on function s3_key_lookup(text) to atelier_app;

create table s3_uploads (
    id         uuid        not null,
    owner_id   uuid        not null,
    object_key text        not null,
    created_at timestamptz not null default now(),
    constraint s3_uploads_pkey primary key (id),
    constraint s3_uploads_id_owner_id_key unique (id, owner_id),
    constraint s3_uploads_owner_id_fkey foreign key (owner_id) references users (id)
        on delete cascade on update cascade,
    constraint s3_uploads_object_key_check check (char_length(object_key) between 1 and 1024)
);
create index s3_uploads_owner_idx on s3_uploads (owner_id, created_at);

-- The owner column is `upload_owner_id`, not `owner_id`: `atelier_adopt` moves every
-- `owner_id` table in name order, and parts follow their upload through the cascade below.
create table s3_upload_parts (
    upload_id       uuid    not null,
    upload_owner_id uuid    not null,
    part_number integer not null,
    byte_size   bigint  not null,
    etag        text    not null,
    constraint s3_upload_parts_pkey primary key (upload_id, part_number),
    -- With the owner: foreign keys ignore row-level security, so a part can only name an
    -- upload of its own owner's.
    constraint s3_upload_parts_upload_id_fkey foreign key (upload_id, upload_owner_id)
        references s3_uploads (id, owner_id) on delete cascade on update cascade,
    constraint s3_upload_parts_part_number_check check (part_number between 1 and 10000),
    constraint s3_upload_parts_byte_size_check check (byte_size >= 0)
);
create index s3_upload_parts_owner_idx on s3_upload_parts (upload_owner_id, upload_id);

alter table s3_uploads enable row level security;
alter table s3_uploads force row level security;
alter table s3_upload_parts enable row level security;
alter table s3_upload_parts force row level security;
create policy s3_uploads_select_user on s3_uploads for select to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy s3_uploads_select_admin on s3_uploads for select to atelier_admin using (true);
create policy s3_uploads_insert_user on s3_uploads for insert to atelier_user
    with check (owner_id = (select atelier_current_user_id()));
create policy s3_uploads_insert_admin on s3_uploads for insert to atelier_admin with check (true);
create policy s3_uploads_delete_user on s3_uploads for delete to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy s3_uploads_delete_admin on s3_uploads for delete to atelier_admin using (true);
create policy s3_uploads_update_admin on s3_uploads for update to atelier_admin
    using (true) with check (true);
create policy s3_upload_parts_select_user on s3_upload_parts for select to atelier_user
    using (upload_owner_id = (select atelier_current_user_id()));
create policy s3_upload_parts_select_admin on s3_upload_parts for select to atelier_admin using (true);
create policy s3_upload_parts_insert_user on s3_upload_parts for insert to atelier_user
    with check (upload_owner_id = (select atelier_current_user_id()));
create policy s3_upload_parts_insert_admin on s3_upload_parts for insert to atelier_admin with check (true);
create policy s3_upload_parts_update_user on s3_upload_parts for update to atelier_user
    using (upload_owner_id = (select atelier_current_user_id()))
    with check (upload_owner_id = (select atelier_current_user_id()));
create policy s3_upload_parts_update_admin on s3_upload_parts for update to atelier_admin using (true) with check (true);
create policy s3_upload_parts_delete_user on s3_upload_parts for delete to atelier_user
    using (upload_owner_id = (select atelier_current_user_id()));
create policy s3_upload_parts_delete_admin on s3_upload_parts for delete to atelier_admin using (true);
grant select, insert, delete on s3_uploads to atelier_user, atelier_admin;
grant update (owner_id) on s3_uploads to atelier_admin;
grant select, insert, delete on s3_upload_parts to atelier_user, atelier_admin;
grant update (byte_size, etag) on s3_upload_parts to atelier_user, atelier_admin;

-- Live gallery events: an image added or deleted (by the browser, a job, the S3 door or psql)
-- tells its owner's open pages, which refresh (`events::audience`). Masks are not in the gallery.
create function images_notify() returns trigger
    language plpgsql
    as $$
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
create trigger images_notify after insert or delete on images
    for each row execute function images_notify();
