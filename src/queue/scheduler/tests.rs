//! Unit and property tests of the scheduler on a simulated single GPU.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

type Sched = Scheduler<u32, u32, u8>;

fn no_preemption() -> Config {
    Config {
        quantum: None,
        affinity_slack: 0.0,
        band_caps: Vec::new(),
    }
}

/// Runs the GPU until the queue is empty; returns (user, job, start, charge) per unit.
fn drain(s: &mut Sched, start: f64) -> Vec<(u32, u32, f64, f64)> {
    let mut now = start;
    let mut log = Vec::new();
    while let Some(d) = s.pick(&[], now) {
        log.push((d.job.user, d.job.id, now, d.charge));
        now += d.charge;
        let rest = d.job.remaining - d.charge;
        s.complete(&d, d.charge, (rest > 1e-9).then_some(rest));
    }
    log
}

#[test]
fn a_flood_cannot_delay_a_light_job_by_more_than_one_job() {
    let mut s = Sched::new(no_preemption());
    for id in 0..200 {
        s.enqueue(id, 1, Band::Interactive, 0, 33.2);
    }
    let first = s.pick(&[], 0.0).unwrap();
    s.enqueue(1000, 2, Band::Interactive, 0, 0.3);
    s.complete(&first, 33.2, None);
    let next = s.pick(&[], 33.2).unwrap();
    assert_eq!(
        next.job.user, 2,
        "the light user goes right after the job in service"
    );
}

#[test]
fn with_a_quantum_the_light_job_waits_at_most_one_quantum() {
    let mut s = Sched::new(Config {
        quantum: Some(1.0),
        ..no_preemption()
    });
    for id in 0..200 {
        s.enqueue(id, 1, Band::Interactive, 0, 33.2);
    }
    let running = s.pick(&[], 0.0).unwrap();
    assert_eq!(running.charge, 1.0);
    s.enqueue(1000, 2, Band::Interactive, 0, 0.3);
    assert!(s.should_preempt(&1, Band::Interactive, 1.0));
    s.complete(&running, 1.0, Some(32.2));
    let next = s.pick(&[], 1.0).unwrap();
    assert_eq!((next.job.user, next.job.id), (2, 1000));
    s.complete(&next, 0.3, None);
    let resumed = s.pick(&[], 1.3).unwrap();
    assert!(resumed.job.suspended && resumed.job.id == 0 && resumed.job.remaining == 32.2);
}

#[test]
fn a_returning_user_is_lifted_and_banks_no_credit() {
    let mut s = Sched::new(no_preemption());
    for id in 0..50 {
        s.enqueue(id, 1, Band::Interactive, 0, 2.0);
    }
    let log = drain_partial(&mut s, 20);
    let v = s.virtual_time(Band::Interactive);
    assert!(v > 0.0);
    s.enqueue(100, 2, Band::Interactive, 0, 2.0);
    assert!(s.tag(&2).unwrap() >= v);
    assert_eq!(log.len(), 20);
}

fn drain_partial(s: &mut Sched, units: usize) -> Vec<u32> {
    let mut now = 0.0;
    let mut users = Vec::new();
    for _ in 0..units {
        let d = s.pick(&[], now).unwrap();
        now += d.charge;
        users.push(d.job.user);
        s.complete(&d, d.charge, None);
    }
    users
}

#[test]
fn weights_divide_gpu_seconds_proportionally() {
    let mut s = Sched::new(no_preemption());
    for user in 1..=4u32 {
        s.set_weight(user, f64::from(user));
        for id in 0..400 {
            s.enqueue(user * 1000 + id, user, Band::Interactive, 0, 1.0);
        }
    }
    let mut served = BTreeMap::new();
    for user in drain_partial(&mut s, 400) {
        *served.entry(user).or_insert(0.0) += 1.0;
    }
    for user in 1..=4u32 {
        let share = served[&user] / 400.0;
        assert!(
            (share - f64::from(user) / 10.0).abs() <= 0.01,
            "user {user}: {share}"
        );
    }
}

#[test]
fn a_capped_admin_band_leaves_the_rest_to_lower_bands() {
    let mut s = Sched::new(Config {
        quantum: None,
        affinity_slack: 0.0,
        band_caps: vec![(Band::Admin, 0.5, 20.0)],
    });
    for id in 0..500 {
        s.enqueue(id, 1, Band::Admin, 0, 1.0);
        s.enqueue(10_000 + id, 2, Band::Interactive, 0, 1.0);
    }
    let (mut now, mut admin) = (0.0, 0.0);
    for _ in 0..400 {
        let d = s.pick(&[], now).unwrap();
        if d.job.band == Band::Admin {
            admin += d.charge;
        }
        now += d.charge;
        s.complete(&d, d.charge, None);
    }
    assert!(
        admin / now <= 0.5 + 20.0 / now,
        "admin share {}",
        admin / now
    );
    assert!(admin > 0.0);
}

#[test]
fn a_capped_band_still_runs_when_nothing_else_waits() {
    let mut s = Sched::new(Config {
        quantum: None,
        affinity_slack: 0.0,
        band_caps: vec![(Band::Admin, 0.1, 1.0)],
    });
    for id in 0..5 {
        s.enqueue(id, 1, Band::Admin, 0, 10.0);
    }
    assert_eq!(drain(&mut s, 0.0).len(), 5);
}

#[test]
fn affinity_slack_prefers_a_loaded_model_within_the_slack_only() {
    let mut s = Sched::new(Config {
        quantum: None,
        affinity_slack: 1.0,
        band_caps: Vec::new(),
    });
    s.enqueue(1, 1, Band::Interactive, 7, 1.0);
    s.enqueue(2, 2, Band::Interactive, 9, 1.0);
    assert_eq!(
        s.pick(&[9], 0.0).unwrap().job.id,
        2,
        "model 9 is loaded and the tags tie"
    );
    let mut far = Sched::new(Config {
        quantum: None,
        affinity_slack: 1.0,
        band_caps: Vec::new(),
    });
    far.set_weight(2, 0.1);
    far.enqueue(1, 2, Band::Interactive, 9, 1.0);
    let d = far.pick(&[], 0.0).unwrap();
    far.complete(&d, 1.0, None);
    far.enqueue(3, 1, Band::Interactive, 7, 1.0);
    far.enqueue(2, 2, Band::Interactive, 9, 1.0);
    assert_eq!(
        far.pick(&[9], 1.0).unwrap().job.id,
        3,
        "user 2's tag is 10 ahead: beyond the slack"
    );
}

#[test]
fn cancel_removes_only_queued_jobs() {
    let mut s = Sched::new(no_preemption());
    s.enqueue(1, 1, Band::Interactive, 0, 1.0);
    s.enqueue(2, 1, Band::Interactive, 0, 1.0);
    assert!(s.cancel(&1, &2));
    assert!(!s.cancel(&1, &2));
    assert_eq!(s.queued(), 1);
}

fn job_strategy() -> impl Strategy<Value = Vec<(u32, f64)>> {
    prop::collection::vec((0u32..4, 0.1f64..20.0), 1..120)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// SFQ bound: while two users are both backlogged on one GPU, their normalised services
    /// differ by at most C_max_u / w_u + C_max_v / w_v.
    #[test]
    fn the_service_gap_stays_within_the_sfq_bound(
        jobs in job_strategy(),
        weights in prop::collection::vec(1u32..4, 4),
        quantum in prop::option::of(0.5f64..3.0),
    ) {
        let mut s = Sched::new(Config { quantum, affinity_slack: 0.0, band_caps: Vec::new() });
        let mut cmax = [0.0f64; 4];
        let mut left = [0usize; 4];
        for (i, (user, cost)) in jobs.iter().enumerate() {
            s.enqueue(i as u32, *user, Band::Interactive, 0, *cost);
            let unit = quantum.map_or(*cost, |q| cost.min(q));
            cmax[*user as usize] = cmax[*user as usize].max(unit);
            left[*user as usize] += 1;
        }
        for (user, w) in weights.iter().enumerate() {
            s.set_weight(user as u32, f64::from(*w));
        }
        let mut served = [0.0f64; 4];
        let mut now = 0.0;
        while let Some(d) = s.pick(&[], now) {
            let u = d.job.user as usize;
            served[u] += d.charge;
            now += d.charge;
            let rest = d.job.remaining - d.charge;
            let finished = rest <= 1e-9;
            s.complete(&d, d.charge, (!finished).then_some(rest));
            if finished {
                left[u] -= 1;
            }
            for a in 0..4 {
                for b in 0..4 {
                    if a < b && left[a] > 0 && left[b] > 0 {
                        let (wa, wb) = (f64::from(weights[a]), f64::from(weights[b]));
                        let gap = (served[a] / wa - served[b] / wb).abs();
                        prop_assert!(gap <= cmax[a] / wa + cmax[b] / wb + 1e-6, "gap {gap} users {a} {b}");
                    }
                }
            }
        }
    }

    /// Work conservation, per-user FIFO and the lift rule, on arrivals spread over time.
    #[test]
    fn the_scheduler_is_work_conserving_fifo_per_user_and_lifts_returners(
        jobs in prop::collection::vec((0u32..4, 0.1f64..5.0, 0.0f64..30.0), 1..80),
        quantum in prop::option::of(0.5f64..2.0),
    ) {
        let mut arrivals: Vec<(f64, u32, f64, u32)> =
            jobs.iter().enumerate().map(|(i, (u, c, t))| (*t, *u, *c, i as u32)).collect();
        arrivals.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.3.cmp(&b.3)));
        let mut s = Sched::new(Config { quantum, affinity_slack: 0.0, band_caps: Vec::new() });
        let mut now = 0.0;
        let mut next = 0;
        let mut first_start: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let rank: BTreeMap<u32, usize> = arrivals.iter().enumerate().map(|(r, a)| (a.3, r)).collect();
        let mut started = std::collections::BTreeSet::new();
        loop {
            while next < arrivals.len() && arrivals[next].0 <= now {
                let (_, user, cost, id) = arrivals[next];
                let active = s.users.get(&user).is_some_and(|u| !u.queue.is_empty() || u.running > 0);
                let v = s.virtual_time(Band::Interactive);
                s.enqueue(id, user, Band::Interactive, 0, cost);
                if !active {
                    prop_assert!(s.tag(&user).unwrap() >= v - 1e-9, "lift");
                }
                next += 1;
            }
            let queued = s.queued();
            match s.pick(&[], now) {
                Some(d) => {
                    if started.insert(d.job.id) {
                        first_start.entry(d.job.user).or_default().push(rank[&d.job.id]);
                    }
                    now += d.charge;
                    let rest = d.job.remaining - d.charge;
                    s.complete(&d, d.charge, (rest > 1e-9).then_some(rest));
                }
                None => {
                    prop_assert_eq!(queued, 0, "idle while work was queued");
                    if next == arrivals.len() {
                        break;
                    }
                    now = arrivals[next].0;
                }
            }
        }
        for ids in first_start.values() {
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            prop_assert_eq!(ids, &sorted, "per-user FIFO");
        }
    }
}
