-- V18: checkpoints of suspended runs, so that any worker can resume a job where another one
-- suspended it (several workers on one queue), and a job whose worker died resumes from its
-- last suspension instead of the first step.
--
-- A worker that suspends an item at a quantum's end (or because it is stopping) writes the
-- engine's checkpoint here in the same transaction that puts the item back in the queue: the
-- latents and the sampler state at `step`, opaque to the database. `remaining` is the item's
-- estimate not yet charged at that point, which a recovery restores (and refunds the owner the
-- difference: work lost to a crash is not the owner's to pay). The row goes when the item ends
-- (completed, failed, canceled) or is deleted. Workers only: users and admins see nothing.

create table queue_checkpoints (
    item_id     uuid             not null,
    step        integer          not null,
    remaining   double precision not null,
    data        bytea            not null,
    created_at  timestamptz      not null default now(),
    constraint queue_checkpoints_pkey primary key (item_id),
    constraint queue_checkpoints_item_id_fkey foreign key (item_id)
        references queue_items (id) on delete cascade,
    constraint queue_checkpoints_step_check check (step >= 0),
    constraint queue_checkpoints_data_check check (octet_length(data) <= 256 * 1024 * 1024)
);

alter table queue_checkpoints enable row level security;
alter table queue_checkpoints force row level security;
create policy queue_checkpoints_select_worker on queue_checkpoints for select
    to atelier_worker using (true);
create policy queue_checkpoints_insert_worker on queue_checkpoints for insert
    to atelier_worker with check (true);
create policy queue_checkpoints_update_worker on queue_checkpoints for update
    to atelier_worker using (true) with check (true);
create policy queue_checkpoints_delete_worker on queue_checkpoints for delete
    to atelier_worker using (true);
grant select, insert, update, delete on queue_checkpoints to atelier_worker;
-- For the trigger below, which runs as the owner (a member of atelier_admin). Admins are
-- granted nothing on the table, so these give them nothing.
create policy queue_checkpoints_select_admin on queue_checkpoints for select
    to atelier_admin using (true);
create policy queue_checkpoints_delete_admin on queue_checkpoints for delete
    to atelier_admin using (true);

-- An item that ends takes its checkpoint with it, whoever ended it (a worker, its owner's
-- cancel, an admin in psql).
create function queue_checkpoints_drop() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
begin
    delete from public.queue_checkpoints c where c.item_id = new.id;
    return null;
end $$;
revoke all on function queue_checkpoints_drop() from public;
create trigger queue_items_drop_checkpoint after update of status on queue_items
    for each row when (new.status in ('completed', 'failed', 'canceled'))
    execute function queue_checkpoints_drop();
