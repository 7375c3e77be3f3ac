-- V2: boards and images, isolated by row-level security, plus per-user storage quotas.
--
-- Image bytes live in the object store under users/{owner_id}/...; these rows are the records.
-- An image's board must belong to the image's owner: a composite foreign key enforces it, because
-- foreign-key checks ignore row-level security (rls.md pitfall 7).

alter table users
    add column quota_bytes bigint,                         -- null: the configured default
    add column used_bytes  bigint not null default 0,      -- maintained by a trigger on images
    add constraint users_quota_bytes_check check (quota_bytes is null or quota_bytes >= 0);

-- ---------------------------------------------------------------------------------------------
create table boards (
    id          uuid        not null,
    owner_id    uuid        not null,
    name        text        not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint boards_pkey primary key (id),
    constraint boards_owner_id_fkey foreign key (owner_id) references users (id) on delete cascade,
    constraint boards_owner_id_name_key unique (owner_id, name),   -- leads with the policy column
    constraint boards_id_owner_id_key unique (id, owner_id),       -- target of the same-owner FK
    constraint boards_name_check check (char_length(name) between 1 and 100)
);

alter table boards enable row level security;
alter table boards force row level security;

create policy boards_select_user on boards for select to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy boards_insert_user on boards for insert to atelier_user
    with check (owner_id = (select atelier_current_user_id()));
create policy boards_update_user on boards for update to atelier_user
    using (owner_id = (select atelier_current_user_id()))
    with check (owner_id = (select atelier_current_user_id()));
create policy boards_delete_user on boards for delete to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy boards_select_admin on boards for select to atelier_admin using (true);
create policy boards_insert_admin on boards for insert to atelier_admin with check (true);
create policy boards_update_admin on boards for update to atelier_admin using (true) with check (true);
create policy boards_delete_admin on boards for delete to atelier_admin using (true);

grant select, insert, update, delete on boards to atelier_user, atelier_admin;
create trigger boards_touch_updated_at before update on boards
    for each row execute function atelier_touch_updated_at();

-- ---------------------------------------------------------------------------------------------
create table images (
    id            uuid        not null,
    owner_id      uuid        not null,
    board_id      uuid,                                   -- null: the owner's Uncategorized
    category      text        not null,
    content_type  text        not null,
    width         integer     not null,
    height        integer     not null,
    byte_size     bigint      not null,
    starred       boolean     not null default false,
    metadata      jsonb,
    created_at    timestamptz not null default now(),
    constraint images_pkey primary key (id),
    constraint images_owner_id_fkey foreign key (owner_id) references users (id) on delete cascade,
    constraint images_board_same_owner_fkey foreign key (board_id, owner_id)
        references boards (id, owner_id) on delete set null (board_id),
    constraint images_category_check check (category in ('general', 'user')),
    constraint images_content_type_check check (content_type in ('image/png', 'image/jpeg', 'image/webp')),
    constraint images_size_check check (width > 0 and height > 0 and byte_size >= 0)
);
-- Every index leads with owner_id (the policy column) and ends with the sort key (rls.md §4).
create index images_owner_board_category_created_idx
    on images (owner_id, board_id, category, created_at desc, id desc);
create index images_owner_board_category_starred_idx
    on images (owner_id, board_id, category, starred desc, created_at desc, id desc);
create index images_owner_category_created_idx
    on images (owner_id, category, created_at desc, id desc);

alter table images enable row level security;
alter table images force row level security;

create policy images_select_user on images for select to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy images_insert_user on images for insert to atelier_user
    with check (owner_id = (select atelier_current_user_id()));
create policy images_update_user on images for update to atelier_user
    using (owner_id = (select atelier_current_user_id()))
    with check (owner_id = (select atelier_current_user_id()));
create policy images_delete_user on images for delete to atelier_user
    using (owner_id = (select atelier_current_user_id()));
create policy images_select_admin on images for select to atelier_admin using (true);
create policy images_insert_admin on images for insert to atelier_admin with check (true);
create policy images_update_admin on images for update to atelier_admin using (true) with check (true);
create policy images_delete_admin on images for delete to atelier_admin using (true);

grant select, insert, delete on images to atelier_user, atelier_admin;
-- The record is immutable but for its star and its board; the owner changes only by adoption.
grant update (starred, board_id) on images to atelier_user;
grant update (starred, board_id, owner_id) on images to atelier_admin;

-- ---------------------------------------------------------------------------------------------
-- users.used_bytes follows the owner's images. SECURITY DEFINER: users cannot write that column.
-- The UPDATE takes the owner's row lock, so concurrent uploads by one user serialise on it and
-- the quota check that follows in the same transaction sees every committed byte.
create function atelier_track_used_bytes() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
begin
    if tg_op in ('DELETE', 'UPDATE') then
        update public.users set used_bytes = used_bytes - old.byte_size where id = old.owner_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        update public.users set used_bytes = used_bytes + new.byte_size where id = new.owner_id;
    end if;
    return null;
end $$;
revoke all on function atelier_track_used_bytes() from public;
create trigger images_track_used_bytes after insert or delete or update of owner_id on images
    for each row execute function atelier_track_used_bytes();
