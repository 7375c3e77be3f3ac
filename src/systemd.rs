//! The service manager's protocol (`sd_notify`): readiness, watchdog pings and stopping, for
//! units of `Type=notify`. Without `NOTIFY_SOCKET` (not under systemd) every call does nothing.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::db::health::DbHealth;

/// Tells systemd the process is ready: `serve` once it listens (after migrations and the
/// database self-check), a worker once its engine and database are up.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd a clean shutdown has begun (so a slow stop is not taken for a hang).
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// With `WatchdogSec=` set, pings systemd at half the interval for as long as the process is
/// healthy: a stuck runtime, or a database unreachable for longer than
/// `database.unhealthy_after_secs` (the same rule as `/healthz`), stops the pings, and systemd
/// restarts the service.
pub fn spawn_watchdog(health: Arc<DbHealth>) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let period = (interval / 2).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            if health.is_unhealthy() {
                tracing::warn!("database unhealthy: withholding the systemd watchdog ping");
                continue;
            }
            send(&[NotifyState::Watchdog]);
        }
    });
}

/// The variables that name systemd's socket and watchdog for this process only: removed from
/// the environment of the programs it spawns (PostgreSQL speaks `sd_notify` too, and its
/// READY=1 must not be taken for ours).
pub const PRIVATE_ENV: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "failed to notify systemd");
    }
}
