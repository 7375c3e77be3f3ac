-- V6: workers claim pending items in band order, then submit order, with FOR UPDATE SKIP LOCKED.
-- This index serves that scan (the V5 pending index orders by seq only).

drop index queue_items_pending_idx;
create index queue_items_claim_idx on queue_items (band desc, seq) where status = 'pending';
create index queue_items_lease_idx on queue_items (lease_until) where status = 'in_progress';

-- Workers must see whether an item's owner is still active (pending items of deactivated users
-- are rejected), and nothing else about users.
create policy users_select_worker on users for select to atelier_worker using (true);
grant select (id, is_active) on users to atelier_worker;
