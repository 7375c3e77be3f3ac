-- V10: workers report themselves (device, the models they hold and their memory) so admins can
-- see the GPU fleet: one row per worker name, upserted by the worker every few seconds.
-- Nobody's private data: workers write, admins read (and may forget a dead worker); users see
-- nothing (device names and model paths are admins' business).

create table workers (
    name          text        not null,
    device        text        not null,
    started_at    timestamptz not null default now(),
    last_seen     timestamptz not null default now(),
    memory        jsonb       not null default '{}',
    constraint workers_pkey primary key (name),
    constraint workers_name_check check (char_length(name) between 1 and 200),
    constraint workers_memory_check check (jsonb_typeof(memory) = 'object')
);

alter table workers enable row level security;
alter table workers force row level security;

create policy workers_select_worker on workers for select to atelier_worker using (true);
create policy workers_insert_worker on workers for insert to atelier_worker with check (true);
create policy workers_update_worker on workers for update to atelier_worker
    using (true) with check (true);
create policy workers_delete_worker on workers for delete to atelier_worker using (true);
create policy workers_select_admin on workers for select to atelier_admin using (true);
create policy workers_delete_admin on workers for delete to atelier_admin using (true);

grant select, insert, update, delete on workers to atelier_worker;
grant select, delete on workers to atelier_admin;
