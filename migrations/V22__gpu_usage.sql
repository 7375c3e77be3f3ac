-- GPU-seconds each user's jobs measured, per hour: what the fair scheduler reconciles charges
-- with, kept so admins can see who uses the box over the last day and week (queue items can be
-- deleted by their owners; this ledger outlives them). Written by workers, pruned after 35 days.
create table gpu_usage (
    user_id  uuid             not null,
    hour     timestamptz      not null,
    band     smallint         not null,
    seconds  double precision not null default 0,
    constraint gpu_usage_pkey primary key (user_id, hour, band),
    constraint gpu_usage_user_id_fkey foreign key (user_id) references users (id) on delete cascade,
    constraint gpu_usage_band_check check (band between 0 and 2),
    constraint gpu_usage_seconds_check check (seconds >= 0)
);
create index gpu_usage_hour_idx on gpu_usage (hour);
alter table gpu_usage enable row level security;
alter table gpu_usage force row level security;
create policy gpu_usage_select_user on gpu_usage for select to atelier_user
    using (user_id = (select atelier_current_user_id()));
create policy gpu_usage_select_admin on gpu_usage for select to atelier_admin using (true);
create policy gpu_usage_select_worker on gpu_usage for select to atelier_worker using (true);
create policy gpu_usage_insert_worker on gpu_usage for insert to atelier_worker with check (true);
create policy gpu_usage_update_worker on gpu_usage for update to atelier_worker
    using (true) with check (true);
create policy gpu_usage_delete_worker on gpu_usage for delete to atelier_worker using (true);
grant select on gpu_usage to atelier_user, atelier_admin;
grant select, insert, update (seconds), delete on gpu_usage to atelier_worker;
