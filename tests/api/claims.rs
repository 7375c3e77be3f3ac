//! Workers claiming from the PostgreSQL queue: exactly-once claims under concurrency, leases
//! that return a dead worker's item to its place, idempotent completion, pause, and rejection of
//! deactivated owners' items.

use std::collections::BTreeSet;

use atelier::db::{Caller, begin_as};
use atelier::queue::claims;
use uuid::Uuid;

use crate::helpers::{app_pool, fresh_database, superuser_client};

async fn seed(dbname: &str, items: usize) -> (Uuid, Vec<Uuid>) {
    let db = superuser_client(dbname).await;
    let owner = Uuid::now_v7();
    db.execute("insert into users (id, email, display_name, password_hash) values ($1, 'o@example.com', 'O', 'h')", &[&owner])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..items {
        let id = Uuid::now_v7();
        db.execute(
            "insert into queue_items (id, owner_id, params, est_cost) values ($1, $2, '{}', 1)",
            &[&id, &owner],
        )
        .await
        .unwrap();
        ids.push(id);
    }
    (owner, ids)
}

async fn claim(
    pool: &deadpool_postgres::Pool,
    worker: &str,
    lease: f64,
) -> Option<claims::Claimed> {
    claim_units(pool, worker, lease, None).await
}

/// Claims with a quantum (units of `quantum` estimated seconds), or whole items.
async fn claim_units(
    pool: &deadpool_postgres::Pool,
    worker: &str,
    lease: f64,
    quantum: Option<f64>,
) -> Option<claims::Claimed> {
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    let policy = claims::Policy {
        quantum,
        ..claims::Policy::default()
    };
    let claimed = claims::claim_next(&tx, worker, lease, &policy, &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    claimed
}

#[tokio::test]
async fn concurrent_workers_claim_each_item_exactly_once_in_order() {
    let dbname = fresh_database().await;
    seed(&dbname, 40).await;
    let pool = app_pool(&dbname, 4);
    let workers = (0..4).map(|w| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(item) = claim(&pool, &format!("w{w}"), 30.0).await {
                mine.push(item.id);
            }
            mine
        })
    });
    let mut all = Vec::new();
    for worker in workers.collect::<Vec<_>>() {
        all.extend(worker.await.unwrap());
    }
    assert_eq!(all.len(), 40);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        40,
        "no item was claimed twice"
    );
    let first = claim(&app_pool(&dbname, 1), "late", 30.0).await;
    assert!(first.is_none());
}

#[tokio::test]
async fn a_dead_workers_item_returns_to_its_place_and_completes_once() {
    let dbname = fresh_database().await;
    let (_, ids) = seed(&dbname, 3).await;
    let pool = app_pool(&dbname, 2);
    let lost = claim(&pool, "dies", 0.0).await.unwrap();
    assert_eq!(lost.id, ids[0]);

    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    assert_eq!(claims::recover(&tx).await.unwrap(), 1);
    tx.commit().await.unwrap();
    drop(client);

    let again = claim(&pool, "survivor", 30.0).await.unwrap();
    assert_eq!(
        (again.id, again.attempts),
        (ids[0], 1),
        "the item kept its place; the loss counts as one failure"
    );
    let image = Uuid::now_v7();
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    assert!(
        !claims::finish(&tx, &again, "dies", &[image], 1.0)
            .await
            .unwrap(),
        "the dead worker lost it"
    );
    assert!(
        claims::finish(&tx, &again, "survivor", &[image], 1.0)
            .await
            .unwrap()
    );
    assert!(
        !claims::finish(&tx, &again, "survivor", &[image], 1.0)
            .await
            .unwrap(),
        "completion is idempotent"
    );
    tx.commit().await.unwrap();
    let db = superuser_client(&dbname).await;
    let row = db
        .query_one(
            "select status, result_image_ids from queue_items where id = $1",
            &[&again.id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "completed");
    assert_eq!(row.get::<_, Vec<Uuid>>(1), vec![image]);
}

/// The owner's tag and the item's estimate not yet charged.
async fn accounts(db: &tokio_postgres::Client, owner: Uuid, id: Uuid) -> (f64, f64) {
    let row = db
        .query_one(
            "select u.finish_tag, q.remaining_cost from queue_users u, queue_items q
              where u.user_id = $1 and q.id = $2",
            &[&owner, &id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn recover(pool: &deadpool_postgres::Pool) {
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    claims::recover(&tx).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn suspended_items_resume_from_their_checkpoint_anywhere_and_lost_progress_is_refunded() {
    let dbname = fresh_database().await;
    let (owner, ids) = seed(&dbname, 1).await;
    let id = ids[0];
    let pool = app_pool(&dbname, 2);
    let db = superuser_client(&dbname).await;
    let quantum = Some(0.25);

    // A worker dies with no checkpoint: the item starts over, and the owner gets back what the
    // lost unit cost before paying for the new one.
    let lost = claim_units(&pool, "x", 0.0, quantum).await.unwrap();
    assert_eq!(accounts(&db, owner, id).await, (0.25, 0.75));
    recover(&pool).await;
    let a = claim_units(&pool, "a", 30.0, quantum).await.unwrap();
    assert_eq!(
        (a.id, a.step, a.attempts, a.checkpointed),
        (lost.id, 0, 1, false)
    );
    assert_eq!(
        accounts(&db, owner, id).await,
        (0.25, 0.75),
        "refunded, then charged"
    );

    // Suspended with a checkpoint: another worker resumes it there; preemption is no failure.
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    assert!(
        claims::suspend(&tx, &a, "a", a.charge, 5, true, Some(b"five"))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    drop(client);
    let b = claim_units(&pool, "b", 0.0, quantum).await.unwrap();
    assert_eq!(
        (b.step, b.attempts, b.resumed, b.checkpointed),
        (5, 1, false, true)
    );
    assert_eq!(accounts(&db, owner, id).await, (0.5, 0.5));

    // That worker dies too: the item resumes from the checkpoint, refunded to it.
    recover(&pool).await;
    assert_eq!(accounts(&db, owner, id).await, (0.25, 0.75));
    let c = claim_units(&pool, "c", 30.0, quantum).await.unwrap();
    assert_eq!((c.step, c.attempts, c.checkpointed), (5, 2, true));
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    assert_eq!(
        claims::checkpoint(&tx, id).await.unwrap().as_deref(),
        Some(&b"five"[..])
    );
    assert!(claims::finish(&tx, &c, "c", &[], c.charge).await.unwrap());
    tx.commit().await.unwrap();
    let left: i64 = db
        .query_one("select count(*) from queue_checkpoints", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the checkpoint ended with the item");
}

#[tokio::test]
async fn retryable_failures_requeue_until_attempts_run_out() {
    let dbname = fresh_database().await;
    let (_, ids) = seed(&dbname, 1).await;
    let pool = app_pool(&dbname, 1);
    for failures in 0..claims::MAX_ATTEMPTS {
        let item = claim(&pool, "w", 30.0).await.unwrap();
        assert_eq!((item.id, item.attempts), (ids[0], failures));
        let mut client = pool.get().await.unwrap();
        let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
        assert!(
            claims::fail(&tx, &item, "w", "out of memory", true, 0.5)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
    }
    assert!(
        claim(&pool, "w", 30.0).await.is_none(),
        "failed for good after the last attempt"
    );
}

#[tokio::test]
async fn paused_queues_and_deactivated_owners_are_not_served() {
    let dbname = fresh_database().await;
    let (owner, _) = seed(&dbname, 2).await;
    let db = superuser_client(&dbname).await;
    let pool = app_pool(&dbname, 1);
    db.execute("update queue_control set paused = true", &[])
        .await
        .unwrap();
    assert!(claim(&pool, "w", 30.0).await.is_none());
    db.execute("update queue_control set paused = false", &[])
        .await
        .unwrap();

    db.execute(
        "update users set is_active = false where id = $1",
        &[&owner],
    )
    .await
    .unwrap();
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    assert_eq!(claims::recover(&tx).await.unwrap(), 2);
    tx.commit().await.unwrap();
    drop(client);
    assert!(claim(&pool, "w", 30.0).await.is_none());
    let canceled: i64 = db
        .query_one(
            "select count(*) from queue_items where status = 'canceled'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(canceled, 2);
}

/// The claim order in SQL is the pure scheduler's order for the same operations: arrivals while a
/// unit runs (the lift), a weight of 2, and measured times that differ from estimates
/// (reconciliation). Costs are binary fractions, so both sides compute exactly.
#[tokio::test]
async fn claims_follow_the_pure_scheduler_order() {
    use atelier::queue::scheduler::{Band, Config, Scheduler};

    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    let users: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for (i, user) in users.iter().enumerate() {
        db.execute(
            "insert into users (id, email, display_name, password_hash) values ($1, $2, 'u', 'h')",
            &[user, &format!("u{i}@example.com")],
        )
        .await
        .unwrap();
    }
    db.execute(
        "insert into queue_users (user_id, weight) values ($1, 2)",
        &[&users[1]],
    )
    .await
    .unwrap();
    let mut pure: Scheduler<Uuid, Uuid, ()> = Scheduler::new(Config {
        quantum: None,
        affinity_slack: 0.0,
        band_caps: Vec::new(),
    });
    pure.set_weight(users[1], 2.0);
    let pool = app_pool(&dbname, 1);
    // A user's measured time: user 0 runs 1.5x its estimates.
    let measured = |owner: Uuid, charge: f64| {
        if owner == users[0] {
            charge * 1.5
        } else {
            charge
        }
    };

    let mut pure_order = Vec::new();
    let mut sql_order = Vec::new();
    let enqueue = async |pure: &mut Scheduler<Uuid, Uuid, ()>, user: usize, cost: f64| {
        let id = Uuid::now_v7();
        db.execute(
            "insert into queue_items (id, owner_id, params, est_cost) values ($1, $2, '{}', $3)",
            &[&id, &users[user], &cost],
        )
        .await
        .unwrap();
        pure.enqueue(id, users[user], Band::Interactive, (), cost);
    };
    for _ in 0..3 {
        enqueue(&mut pure, 0, 4.0).await;
        enqueue(&mut pure, 1, 1.0).await;
    }
    let finish = async |unit: &claims::Claimed| {
        let mut client = pool.get().await.unwrap();
        let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
        let secs = measured(unit.owner_id, unit.charge);
        assert!(claims::finish(&tx, unit, "w", &[], secs).await.unwrap());
        tx.commit().await.unwrap();
    };
    // One unit runs to completion, a second stays in flight while others arrive.
    let first = claim(&pool, "w", 30.0).await.unwrap();
    let d = pure.pick(&[], 0.0).unwrap();
    pure.complete(&d, measured(d.job.user, d.charge), None);
    pure_order.push(d.job.id);
    sql_order.push(first.id);
    finish(&first).await;
    let running = claim(&pool, "w", 30.0).await.unwrap();
    let in_flight = pure.pick(&[], 0.0).unwrap();
    pure_order.push(in_flight.job.id);
    sql_order.push(running.id);
    enqueue(&mut pure, 2, 2.0).await;
    enqueue(&mut pure, 2, 2.0).await;
    enqueue(&mut pure, 0, 4.0).await;
    pure.complete(
        &in_flight,
        measured(in_flight.job.user, in_flight.charge),
        None,
    );
    finish(&running).await;
    while let Some(unit) = claim(&pool, "w", 30.0).await {
        sql_order.push(unit.id);
        finish(&unit).await;
    }
    while let Some(d) = pure.pick(&[], 0.0) {
        pure.complete(&d, measured(d.job.user, d.charge), None);
        pure_order.push(d.job.id);
    }
    assert_eq!(sql_order.len(), 9);
    assert_eq!(sql_order, pure_order);
}

#[tokio::test]
async fn a_failed_run_drops_its_checkpoint_and_the_retry_starts_over_refunded() {
    let dbname = fresh_database().await;
    let (owner, ids) = seed(&dbname, 1).await;
    let pool = app_pool(&dbname, 2);
    let db = superuser_client(&dbname).await;
    let quantum = Some(0.25);
    let a = claim_units(&pool, "a", 30.0, quantum).await.unwrap();
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    claims::suspend(&tx, &a, "a", a.charge, 5, true, Some(b"five"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b = claim_units(&pool, "b", 30.0, quantum).await.unwrap();
    assert!(b.checkpointed);
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    // The checkpoint may be what failed it: the retry must not resume from it.
    assert!(
        claims::fail(&tx, &b, "b", "the checkpoint does not fit", true, b.charge)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    drop(client);

    let c = claim_units(&pool, "c", 30.0, quantum).await.unwrap();
    assert_eq!(
        (c.id, c.step, c.checkpointed, c.attempts),
        (ids[0], 0, false, 1)
    );
    assert_eq!(
        accounts(&db, owner, ids[0]).await,
        (0.25, 0.75),
        "refunded the half it had paid for, then charged the first quantum again"
    );
}
