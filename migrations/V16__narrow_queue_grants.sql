-- Column grants on queue_items say exactly what each role class may write. Users queue items
-- through the API, which never sets a band, results or bookkeeping; in SQL they could insert a
-- row with the admin band or another item's result ids, so they may now insert only the
-- columns a client chooses (the band defaults to the user band; admins keep full rights and
-- the API sets the admin band for them). Workers may update the columns their claims, leases,
-- units and results write, and nothing else (not owner_id, params or band).
revoke insert on queue_items from atelier_user;
grant insert (id, owner_id, params, est_cost) on queue_items to atelier_user;

revoke update on queue_items from atelier_worker;
grant update (status, worker, attempts, step, lease_until, started_at, finished_at, charged,
              remaining_cost, suspended_by, vstart, measured_cost, result_image_ids, error)
    on queue_items to atelier_worker;
