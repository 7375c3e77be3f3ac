//! The database's availability as this process sees it, and its supervision: a task probes the
//! pool every second, restarts the embedded cluster (with backoff) when its postmaster is gone,
//! and logs each outage once when it starts and once when it ends (with how many requests were
//! refused meanwhile), never once per request. Requests that meet a dead or restarting database
//! answer 503 `database_unavailable` (see `error`), `/readyz` fails while it is down, and
//! `/healthz` fails once an outage has lasted longer than `database.unhealthy_after_secs`, so a
//! supervisor (systemd, Kubernetes) restarts a process that cannot heal itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;

use super::embedded::EmbeddedCluster;

/// How often the supervisor probes the database while it is up.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long one probe may take before it counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between two restarts of the embedded cluster.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A dependency that fails and recovers, logged once per change of state.
pub struct Outage {
    what: &'static str,
    /// Since when it has been failing, and how many failures were seen since.
    since: Mutex<Option<(Instant, u64)>>,
}

impl Outage {
    /// A dependency named `what` in the log ("the database", "the event listener").
    pub const fn new(what: &'static str) -> Self {
        Self {
            what,
            since: Mutex::new(None),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Option<(Instant, u64)>> {
        self.since.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a failure; logs it (without a backtrace) only if it starts an outage.
    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let mut state = self.state();
        match &mut *state {
            Some((_, count)) => *count += 1,
            None => {
                tracing::warn!(error = %error, "{} is failing; logging again when it recovers", self.what);
                *state = Some((Instant::now(), 1));
            }
        }
    }

    /// Records a success; logs the end of an outage, with its length and failure count.
    pub fn recovered(&self) {
        if let Some((since, count)) = self.state().take() {
            let secs = since.elapsed().as_secs_f64();
            tracing::info!(
                seconds = format!("{secs:.1}"),
                failures = count,
                "{} recovered",
                self.what
            );
        }
    }

    /// How long the current outage has lasted (None: not failing).
    pub fn down_for(&self) -> Option<Duration> {
        self.state().map(|(since, _)| since.elapsed())
    }
}

/// What the server knows about its database.
pub struct DbHealth {
    outage: Outage,
    /// Requests answered `database_unavailable` during the current outage.
    refused: AtomicU64,
    /// Outages longer than this make `/healthz` fail.
    pub unhealthy_after: Duration,
    /// When a refusal while the probe said "up" was last logged.
    odd_refusal_logged: Mutex<Option<Instant>>,
}

impl DbHealth {
    /// A healthy state.
    pub fn new(unhealthy_after: Duration) -> Self {
        Self {
            outage: Outage::new("the database"),
            refused: AtomicU64::new(0),
            unhealthy_after,
            odd_refusal_logged: Mutex::new(None),
        }
    }

    /// Whether the database is known to be down.
    pub fn is_down(&self) -> bool {
        self.outage.down_for().is_some()
    }

    /// Whether the process should be restarted: down for longer than `unhealthy_after`.
    pub fn is_unhealthy(&self) -> bool {
        self.outage
            .down_for()
            .is_some_and(|down| down > self.unhealthy_after)
    }

    /// Counts a request refused because the database is unavailable (logged at recovery).
    /// A refusal while the probe says the database is up is either the first second of an
    /// outage or a bug that closes connections: it is logged, at most once a minute.
    pub fn refused_one(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if self.is_down() {
            return;
        }
        let mut logged = self
            .odd_refusal_logged
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if logged.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
            *logged = Some(Instant::now());
            tracing::warn!(
                "a request met an unreachable database while the last probe found it up \
                 (an outage starting, or connections closed by something else)"
            );
        }
    }

    fn failed(&self, error: &dyn std::fmt::Display) {
        self.outage.failed(error);
    }

    fn recovered(&self) {
        if self.is_down() {
            let refused = self.refused.swap(0, Ordering::Relaxed);
            tracing::info!(
                refused,
                "requests refused while the database was unavailable"
            );
        }
        self.outage.recovered();
    }
}

/// Whether `error` (or anything in its chain) says the database cannot be reached now: a
/// refused or closed connection, a server shutting down or starting, a connection that could
/// not be made in time. Such errors are the outage's, not the request's.
pub fn is_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(pg) = error.downcast_ref::<tokio_postgres::Error>()
            && (pg.is_closed()
                || pg.code().is_some_and(unavailable_state)
                || std::error::Error::source(pg).is_some_and(|s| s.is::<std::io::Error>()))
        {
            return true;
        }
        if let Some(pool) = error.downcast_ref::<deadpool_postgres::PoolError>() {
            use deadpool_postgres::{PoolError, TimeoutType};
            match pool {
                PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle)
                | PoolError::Closed => return true,
                PoolError::Backend(pg) if is_unavailable(pg) => return true,
                _ => {}
            }
        }
        next = error.source();
    }
    false
}

fn unavailable_state(code: &SqlState) -> bool {
    [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::CONNECTION_EXCEPTION,
        SqlState::CONNECTION_DOES_NOT_EXIST,
        SqlState::CONNECTION_FAILURE,
        SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
    ]
    .contains(code)
}

/// Probes on a connection of its own, so a pool busy with slow requests is not taken for an
/// outage.
struct Prober {
    config: tokio_postgres::Config,
    client: Option<tokio_postgres::Client>,
}

impl Prober {
    /// `select 1` answers in time, reconnecting first if the last connection is gone.
    async fn probe(&mut self) -> anyhow::Result<()> {
        let result = tokio::time::timeout(PROBE_TIMEOUT, self.check())
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "the database did not answer within {PROBE_TIMEOUT:?}"
                ))
            });
        if result.is_err() {
            self.client = None;
        }
        result
    }

    async fn check(&mut self) -> anyhow::Result<()> {
        if self
            .client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            self.client = Some(super::connect_one(&self.config).await?);
        }
        if let Some(client) = &self.client {
            client.simple_query("select 1").await?;
        }
        Ok(())
    }
}

/// The running supervision task. Stop it with [`Supervisor::stop`] before the cluster is
/// stopped, or it would start it again.
pub struct Supervisor {
    stopping: Arc<Stopping>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Stopping {
    flag: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl Stopping {
    fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for `duration` or until stopped; whether to go on.
    async fn pause(&self, duration: Duration) -> bool {
        let woken = self.wake.notified();
        if self.is_set() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = woken => {}
        }
        !self.is_set()
    }
}

impl Supervisor {
    /// Starts watching the database at `config` (the runtime login's settings). With `cluster`
    /// (this process started the embedded cluster), a postmaster found dead is started again,
    /// waiting 1, 2, 4 … up to 30 s between starts until a probe succeeds; the pool replaces
    /// its closed connections by itself.
    pub fn spawn(
        config: tokio_postgres::Config,
        cluster: Option<Arc<EmbeddedCluster>>,
        health: Arc<DbHealth>,
    ) -> Self {
        let stopping = Arc::new(Stopping::default());
        let prober = Prober {
            config,
            client: None,
        };
        let task = tokio::spawn(supervise(prober, cluster, health, Arc::clone(&stopping)));
        Self { stopping, task }
    }

    /// Ends supervision, waiting for a restart in progress to finish.
    pub async fn stop(self) {
        self.stopping.flag.store(true, Ordering::SeqCst);
        self.stopping.wake.notify_waiters();
        let _ = self.task.await;
    }
}

async fn supervise(
    mut prober: Prober,
    cluster: Option<Arc<EmbeddedCluster>>,
    health: Arc<DbHealth>,
    stopping: Arc<Stopping>,
) {
    let restarts = Outage::new("restarting the embedded PostgreSQL");
    let mut backoff = Duration::from_secs(1);
    while !stopping.is_set() {
        match prober.probe().await {
            Ok(()) => {
                health.recovered();
                restarts.recovered();
                backoff = Duration::from_secs(1);
                stopping.pause(PROBE_EVERY).await;
                continue;
            }
            Err(error) => health.failed(&format!("{error:#}")),
        }
        let Some(cluster) = &cluster else {
            stopping.pause(PROBE_EVERY).await;
            continue;
        };
        let starting = Arc::clone(cluster);
        let flag = Arc::clone(&stopping);
        let started = tokio::task::spawn_blocking(move || {
            if flag.is_set() || starting.is_running() {
                return Ok(false);
            }
            starting.start(None).map(|()| true)
        })
        .await;
        let wait = match started {
            Ok(Ok(true)) => {
                tracing::info!("the embedded PostgreSQL was down and has been started again");
                PROBE_EVERY.min(backoff)
            }
            Ok(Ok(false)) => PROBE_EVERY,
            Ok(Err(error)) => {
                restarts.failed(&format!("{error:#}"));
                backoff
            }
            Err(error) => {
                restarts.failed(&error);
                backoff
            }
        };
        // The backoff grows until a probe succeeds, so a cluster that starts and dies again
        // at once is not restarted every second.
        backoff = (backoff * 2).min(MAX_BACKOFF);
        stopping.pause(wait).await;
    }
}
