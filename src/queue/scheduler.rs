//! The fair-share GPU scheduler: start-time fair queueing (VTC-style) on estimated GPU-seconds.
//! Pure and synchronous: no IO and no clock (callers pass the time in), so it is tested
//! exhaustively and driven by the simulation benchmark exactly as in production.
//!
//! Policy (see `../shared/notes/scheduling.md`):
//! - each user has a tag `F_u`; the dispatcher serves, in the highest runnable band, the user
//!   with the smallest `(F_u, head job's submit order)`, and charges `est / weight` at dispatch;
//! - completion reconciles the charge with the measured GPU-seconds (`(measured - charged) / w`);
//! - a user becoming active is lifted to the band's virtual time `V` (the smallest tag among
//!   active users): idle time is never banked as credit;
//! - bands are strict, but a band with a cap may use at most `cap` of the GPU-seconds (token
//!   bucket) while lower bands have work: it cannot starve them;
//! - with a quantum, a job runs one quantum at a time and goes back to the head of its user's
//!   queue (suspended, keeping its latents), so a user with a smaller tag takes the GPU at the
//!   next step boundary; the running job keeps it on ties (no needless switches);
//! - an affinity slack lets a job whose model is already loaded go first, if its user's tag is
//!   within `slack` of the minimum. The scheduler is work-conserving: `pick` returns a job
//!   whenever any job is queued.

use std::collections::{BTreeMap, VecDeque};

/// Strict priority bands, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Band {
    /// Batch work.
    Background = 0,
    /// Ordinary generations.
    Interactive = 1,
    /// Admin jobs.
    Admin = 2,
}

/// All bands, highest first.
const BANDS: [Band; 3] = [Band::Admin, Band::Interactive, Band::Background];

/// A unit of work waiting for the GPU: a whole job, or the rest of a suspended one.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedJob<J, U, M> {
    /// The job's id.
    pub id: J,
    /// Its owner.
    pub user: U,
    /// Its band.
    pub band: Band,
    /// The model it needs (affinity).
    pub model: M,
    /// Estimated GPU-seconds still to run.
    pub remaining: f64,
    /// Submit order, for FIFO ties.
    pub seq: u64,
    /// Whether it already ran and was suspended.
    pub suspended: bool,
}

/// What `pick` decided: run `job` for `charge` estimated GPU-seconds (a quantum or the rest).
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatch<J, U, M> {
    /// The job (with its remaining estimate before this run).
    pub job: QueuedJob<J, U, M>,
    /// Estimated GPU-seconds charged for this run.
    pub charge: f64,
}

/// Tunables.
#[derive(Clone, Debug)]
pub struct Config {
    /// Preemption quantum in GPU-seconds; None runs jobs to completion.
    pub quantum: Option<f64>,
    /// Affinity slack in GPU-seconds (0 disables).
    pub affinity_slack: f64,
    /// Per-band caps: (band, share of GPU-seconds, bucket window in seconds).
    pub band_caps: Vec<(Band, f64, f64)>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            quantum: Some(1.5),
            affinity_slack: 0.0,
            band_caps: vec![(Band::Admin, 0.5, 600.0)],
        }
    }
}

#[derive(Clone, Debug)]
struct UserState<J, U, M> {
    weight: f64,
    /// Finish tag: everything charged so far, divided by the weight.
    tag: f64,
    /// The part of `tag` charged for units still running (their start tag is `tag - this`).
    in_flight: f64,
    queue: VecDeque<QueuedJob<J, U, M>>,
    running: u32,
}

#[derive(Clone, Debug)]
struct Bucket {
    share: f64,
    capacity: f64,
    tokens: f64,
    updated_at: f64,
}

/// The scheduler state. `J`, `U`, `M` are job, user and model keys.
#[derive(Clone, Debug)]
pub struct Scheduler<J, U, M> {
    config: Config,
    users: BTreeMap<U, UserState<J, U, M>>,
    /// Per band: the virtual time, the tag of the last dispatched unit's user before charging.
    vtime: BTreeMap<Band, f64>,
    buckets: BTreeMap<Band, Bucket>,
    next_seq: u64,
}

impl<J: Clone + PartialEq, U: Clone + Ord, M: Clone + PartialEq> Scheduler<J, U, M> {
    /// An empty scheduler.
    pub fn new(config: Config) -> Self {
        let buckets = config
            .band_caps
            .iter()
            .map(|&(band, share, window)| {
                let capacity = share * window;
                (
                    band,
                    Bucket {
                        share,
                        capacity,
                        tokens: capacity,
                        updated_at: 0.0,
                    },
                )
            })
            .collect();
        Self {
            config,
            users: BTreeMap::new(),
            vtime: BTreeMap::new(),
            buckets,
            next_seq: 0,
        }
    }

    /// Sets a user's weight (default 1). Takes effect for the next charges.
    pub fn set_weight(&mut self, user: U, weight: f64) {
        let weight = if weight.is_finite() && weight > 0.0 {
            weight
        } else {
            1.0
        };
        self.user_mut(user).weight = weight;
    }

    /// The user's current tag (virtual finish time of their charged service / weight).
    pub fn tag(&self, user: &U) -> Option<f64> {
        self.users.get(user).map(|u| u.tag)
    }

    /// The band's virtual time: the smallest start tag among its active users, or the last one
    /// seen when none is active.
    pub fn virtual_time(&self, band: Band) -> f64 {
        self.min_active_tag(band)
            .unwrap_or_else(|| self.vtime.get(&band).copied().unwrap_or(0.0))
    }

    /// Queues a job. A user who had nothing queued or running is lifted to the virtual time.
    pub fn enqueue(&mut self, id: J, user: U, band: Band, model: M, estimate: f64) {
        let v = self.virtual_time(band);
        let seq = self.next_seq;
        self.next_seq += 1;
        let state = self.user_mut(user.clone());
        if state.queue.is_empty() && state.running == 0 {
            state.tag = state.tag.max(v);
        }
        let remaining = if estimate.is_finite() && estimate > 0.0 {
            estimate
        } else {
            0.0
        };
        state.queue.push_back(QueuedJob {
            id,
            user,
            band,
            model,
            remaining,
            seq,
            suspended: false,
        });
    }

    /// Removes a queued (not running) job; returns whether it was queued.
    pub fn cancel(&mut self, user: &U, id: &J) -> bool {
        let Some(state) = self.users.get_mut(user) else {
            return false;
        };
        let before = state.queue.len();
        state.queue.retain(|j| &j.id != id);
        before != state.queue.len()
    }

    /// Number of queued units.
    pub fn queued(&self) -> usize {
        self.users.values().map(|u| u.queue.len()).sum()
    }

    /// Chooses the next unit for a free GPU whose loaded models are `resident`, at time `now`
    /// (seconds), and charges its user. None only when nothing is queued.
    pub fn pick(&mut self, resident: &[M], now: f64) -> Option<Dispatch<J, U, M>> {
        let band = self.runnable_band(now)?;
        let user = self.choose_user(band, resident)?;
        let quantum = self.config.quantum;
        let state = self.users.get_mut(&user).expect("chosen users exist");
        let job = state
            .queue
            .pop_front()
            .expect("chosen users have a head job");
        let charge = unit_charge(job.remaining, quantum);
        self.vtime.insert(band, state.tag);
        state.tag += charge / state.weight;
        state.in_flight += charge / state.weight;
        state.running += 1;
        if let Some(bucket) = self.buckets.get_mut(&band) {
            bucket.tokens -= charge;
        }
        Some(Dispatch { job, charge })
    }

    /// Reports that a dispatched unit ran for `measured` GPU-seconds. If `rest` is given, the job
    /// was suspended at a step boundary with that much estimated work left and goes back to the
    /// head of its user's queue; otherwise it finished (or failed, or was cancelled).
    pub fn complete(&mut self, dispatch: &Dispatch<J, U, M>, measured: f64, rest: Option<f64>) {
        let band = dispatch.job.band;
        let state = self.user_mut(dispatch.job.user.clone());
        state.running = state.running.saturating_sub(1);
        state.in_flight = if state.running == 0 {
            0.0
        } else {
            (state.in_flight - dispatch.charge / state.weight).max(0.0)
        };
        let measured = if measured.is_finite() && measured >= 0.0 {
            measured
        } else {
            dispatch.charge
        };
        state.tag += (measured - dispatch.charge) / state.weight;
        if let Some(rest) = rest {
            let mut job = dispatch.job.clone();
            job.remaining = rest.max(0.0);
            job.suspended = true;
            state.queue.push_front(job);
        }
        if let Some(bucket) = self.buckets.get_mut(&band) {
            bucket.tokens -= measured - dispatch.charge;
        }
    }

    /// Whether a running unit of `user` in `band` should yield at this step boundary: someone
    /// in a higher band waits, or someone in the same band has a strictly smaller tag.
    pub fn should_preempt(&self, user: &U, band: Band, now: f64) -> bool {
        if self.config.quantum.is_none() {
            return false;
        }
        let Some(runnable) = self.peek_runnable_band(now) else {
            return false;
        };
        if runnable > band {
            return true;
        }
        let own = self.users.get(user).map_or(f64::INFINITY, |u| u.tag);
        runnable == band && self.heads(band).any(|(u, tag, _)| u != user && tag < own)
    }

    fn user_mut(&mut self, user: U) -> &mut UserState<J, U, M> {
        self.users.entry(user).or_insert_with(|| UserState {
            weight: 1.0,
            tag: 0.0,
            in_flight: 0.0,
            queue: VecDeque::new(),
            running: 0,
        })
    }

    /// SFQ's virtual time: the smallest *start* tag among active users, where a running unit
    /// counts from its start (its charge is already in the finish tag).
    fn min_active_tag(&self, band: Band) -> Option<f64> {
        self.users
            .values()
            .filter(|u| u.running > 0 || u.queue.front().is_some_and(|j| j.band == band))
            .map(|u| u.tag - u.in_flight)
            .min_by(f64::total_cmp)
    }

    fn heads(&self, band: Band) -> impl Iterator<Item = (&U, f64, &QueuedJob<J, U, M>)> {
        self.users.iter().filter_map(move |(user, state)| {
            let head = state.queue.front()?;
            (head.band == band).then_some((user, state.tag, head))
        })
    }

    /// The highest band with queued work whose cap allows it, refilling buckets to `now`; a
    /// capped band still runs when no lower band has work (work conservation).
    fn runnable_band(&mut self, now: f64) -> Option<Band> {
        for bucket in self.buckets.values_mut() {
            bucket.tokens = refill(
                bucket.tokens,
                bucket.share,
                bucket.capacity,
                now - bucket.updated_at,
            );
            bucket.updated_at = now;
        }
        self.peek_runnable_band(now)
    }

    fn peek_runnable_band(&self, _now: f64) -> Option<Band> {
        // One pass over the users (not one per band): this runs at every dispatch.
        let mut present = [false; BANDS.len()];
        for head in self.users.values().filter_map(|u| u.queue.front()) {
            present[head.band as usize] = true;
            if present.iter().all(|p| *p) {
                break;
            }
        }
        let waiting: Vec<Band> = BANDS
            .iter()
            .copied()
            .filter(|b| present[*b as usize])
            .collect();
        runnable_band(&waiting, |b| {
            self.buckets
                .get(&b)
                .is_none_or(|bucket| bucket.tokens > 0.0)
        })
    }

    fn choose_user(&self, band: Band, resident: &[M]) -> Option<U> {
        // Suspended jobs sort before fresh ones on equal tags: the running job keeps the GPU.
        let key = |tag: f64, job: &QueuedJob<J, U, M>| (tag, !job.suspended, job.seq);
        let best = self.heads(band).min_by(|a, b| {
            key(a.1, a.2)
                .partial_cmp(&key(b.1, b.2))
                .expect("tags are finite")
        })?;
        let slack = self.config.affinity_slack;
        if slack > 0.0 && !resident.contains(&best.2.model) {
            let warm = self
                .heads(band)
                .filter(|(_, tag, job)| *tag <= best.1 + slack && resident.contains(&job.model))
                .min_by(|a, b| {
                    key(a.1, a.2)
                        .partial_cmp(&key(b.1, b.2))
                        .expect("tags are finite")
                });
            if let Some((user, _, _)) = warm {
                return Some(user.clone());
            }
        }
        Some(best.0.clone())
    }
}

/// The estimated GPU-seconds one dispatch charges: a quantum, or the rest of the job.
pub fn unit_charge(remaining: f64, quantum: Option<f64>) -> f64 {
    match quantum {
        Some(q) if remaining > q => q,
        _ => remaining,
    }
}

/// A capped band's bucket after `elapsed` seconds: it refills at `share` GPU-seconds per second
/// up to `capacity`.
pub fn refill(tokens: f64, share: f64, capacity: f64, elapsed: f64) -> f64 {
    (tokens + elapsed.max(0.0) * share).min(capacity)
}

/// The band to serve: the highest waiting band whose cap allows it (`open`), or, when every
/// waiting band is over its cap, the highest waiting one (work conservation). `waiting` is
/// highest first.
pub fn runnable_band(waiting: &[Band], open: impl Fn(Band) -> bool) -> Option<Band> {
    let first_open = waiting.iter().copied().find(|b| open(*b));
    first_open.or_else(|| waiting.first().copied())
}

impl Band {
    /// The band stored in `queue_items.band`.
    pub fn from_db(band: i16) -> Option<Self> {
        match band {
            0 => Some(Band::Background),
            1 => Some(Band::Interactive),
            2 => Some(Band::Admin),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
