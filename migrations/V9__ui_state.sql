-- V9: each user's browser UI state (the Generate form's last parameters and similar), stored on
-- the server so a reload or another browser restores it.
--
-- Strictly personal: admins get no policy over other users' rows, because nothing an admin does
-- needs another user's form. The column is `user_id`, not `owner_id`, so `atelier_adopt` leaves
-- it alone (preferences are not data to hand over).

create table ui_state (
    user_id     uuid        not null,
    state       jsonb       not null,
    updated_at  timestamptz not null default now(),
    constraint ui_state_pkey primary key (user_id),
    constraint ui_state_user_id_fkey foreign key (user_id) references users (id) on delete cascade,
    constraint ui_state_state_check check (jsonb_typeof(state) = 'object')
);

alter table ui_state enable row level security;
alter table ui_state force row level security;

create policy ui_state_select_own on ui_state for select to atelier_user, atelier_admin
    using (user_id = (select atelier_current_user_id()));
create policy ui_state_insert_own on ui_state for insert to atelier_user, atelier_admin
    with check (user_id = (select atelier_current_user_id()));
create policy ui_state_update_own on ui_state for update to atelier_user, atelier_admin
    using (user_id = (select atelier_current_user_id()))
    with check (user_id = (select atelier_current_user_id()));
create policy ui_state_delete_own on ui_state for delete to atelier_user, atelier_admin
    using (user_id = (select atelier_current_user_id()));

grant select, insert, update, delete on ui_state to atelier_user, atelier_admin;
