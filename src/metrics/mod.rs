//! Prometheus metrics: the names and recording helpers every module uses, the recorder, and
//! (in `listener`) the separate `metrics.listen` endpoint. Nothing is recorded unless that
//! listener is configured; labels never carry a raw path, a user id or an email.

pub mod listener;

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Every metric this crate exports, with its type and meaning; `docs/operations.md` lists the
/// same (a test keeps them in step).
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        HTTP_REQUESTS,
        "counter",
        "HTTP requests by method, route template and status",
    ),
    (
        HTTP_SECONDS,
        "histogram",
        "HTTP request latency by method and route template",
    ),
    (
        QUEUE_ITEMS,
        "gauge",
        "queue items by band and status (pending, in_progress), read from the database at scrape",
    ),
    (
        QUEUE_OLDEST,
        "gauge",
        "seconds the oldest pending item of each band has waited, at scrape",
    ),
    (
        QUEUE_WAIT,
        "histogram",
        "seconds from enqueue to a job's first start, by band",
    ),
    (
        GPU_SECONDS,
        "histogram",
        "measured GPU-seconds of each unit run, by band (its _sum is GPU time used)",
    ),
    (
        JOBS,
        "counter",
        "units that ended, by outcome (completed, failed, preempted, canceled, released)",
    ),
    (STEP_SECONDS, "histogram", "seconds per denoising step"),
    (
        WORKER_HEARTBEATS,
        "counter",
        "this worker's reports to the workers table",
    ),
    (
        WORKER_MODEL_BYTES,
        "gauge",
        "bytes of model weights this worker holds loaded",
    ),
    (
        WORKERS_ONLINE,
        "gauge",
        "workers that reported within three periods, at scrape",
    ),
    (
        DB_POOL,
        "gauge",
        "database pool connections by state (size, available, waiting, max)",
    ),
    (
        DB_REFUSED,
        "counter",
        "requests refused because the database was unavailable",
    ),
    (
        LOGIN_FAILURES,
        "counter",
        "logins refused for a wrong email or password",
    ),
    (
        LOGIN_THROTTLED,
        "counter",
        "login and setup attempts refused by the throttle",
    ),
    (
        OBJECT_STORE_ERRORS,
        "counter",
        "object store calls that failed, by operation",
    ),
    (BUILD_INFO, "gauge", "1, labelled with the version"),
];

/// `atelier_http_requests_total`.
pub const HTTP_REQUESTS: &str = "atelier_http_requests_total";
/// `atelier_http_request_duration_seconds`.
pub const HTTP_SECONDS: &str = "atelier_http_request_duration_seconds";
/// `atelier_queue_items`.
pub const QUEUE_ITEMS: &str = "atelier_queue_items";
/// `atelier_queue_oldest_pending_seconds`.
pub const QUEUE_OLDEST: &str = "atelier_queue_oldest_pending_seconds";
/// `atelier_queue_wait_seconds`.
pub const QUEUE_WAIT: &str = "atelier_queue_wait_seconds";
/// `atelier_gpu_seconds`.
pub const GPU_SECONDS: &str = "atelier_gpu_seconds";
/// `atelier_jobs_total`.
pub const JOBS: &str = "atelier_jobs_total";
/// `atelier_engine_step_seconds`.
pub const STEP_SECONDS: &str = "atelier_engine_step_seconds";
/// `atelier_worker_heartbeats_total`.
pub const WORKER_HEARTBEATS: &str = "atelier_worker_heartbeats_total";
/// `atelier_worker_model_bytes`.
pub const WORKER_MODEL_BYTES: &str = "atelier_worker_model_bytes";
/// `atelier_workers_online`.
pub const WORKERS_ONLINE: &str = "atelier_workers_online";
/// `atelier_db_pool_connections`.
pub const DB_POOL: &str = "atelier_db_pool_connections";
/// `atelier_db_refused_total`.
pub const DB_REFUSED: &str = "atelier_db_refused_total";
/// `atelier_login_failures_total`.
pub const LOGIN_FAILURES: &str = "atelier_login_failures_total";
/// `atelier_login_throttled_total`.
pub const LOGIN_THROTTLED: &str = "atelier_login_throttled_total";
/// `atelier_object_store_errors_total`.
pub const OBJECT_STORE_ERRORS: &str = "atelier_object_store_errors_total";
/// `atelier_build_info`.
pub const BUILD_INFO: &str = "atelier_build_info";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle).
pub fn install() -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let latency = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let long = [
        0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
    ];
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_SECONDS.into()), &latency)?
        .set_buckets_for_metric(Matcher::Full(STEP_SECONDS.into()), &latency)?
        .set_buckets(&long)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("a metrics recorder is already installed: {e}"))?;
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(HANDLE.get_or_init(|| handle))
}

/// A band's label: `background`, `interactive` or `admin`.
pub fn band_label(band: i16) -> &'static str {
    match band {
        0 => "background",
        2 => "admin",
        _ => "interactive",
    }
}

/// One HTTP response (`route`: the matched template, or `unmatched`).
pub fn record_http(method: &str, route: &str, status: u16, elapsed: Duration) {
    let (method, route) = (method.to_owned(), route.to_owned());
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_SECONDS, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// The measured GPU-seconds of one unit.
pub fn record_gpu_seconds(band: i16, seconds: f64) {
    histogram!(GPU_SECONDS, "band" => band_label(band)).record(seconds);
}

/// How long a job waited for its first start.
pub fn record_queue_wait(band: i16, seconds: f64) {
    histogram!(QUEUE_WAIT, "band" => band_label(band)).record(seconds);
}

/// A unit ended with `outcome`.
pub fn record_job(outcome: &'static str) {
    counter!(JOBS, "outcome" => outcome).increment(1);
}

/// One denoising step took `elapsed`.
pub fn record_step(elapsed: Duration) {
    histogram!(STEP_SECONDS).record(elapsed.as_secs_f64());
}

/// The worker reported itself, holding `model_bytes` of weights.
pub fn record_heartbeat(model_bytes: i64) {
    counter!(WORKER_HEARTBEATS).increment(1);
    gauge!(WORKER_MODEL_BYTES).set(model_bytes as f64);
}

/// A request was refused for an unavailable database.
pub fn record_db_refused() {
    counter!(DB_REFUSED).increment(1);
}

/// A login was refused for a wrong email or password.
pub fn record_login_failure() {
    counter!(LOGIN_FAILURES).increment(1);
}

/// A login or setup attempt was refused by the throttle.
pub fn record_login_throttled() {
    counter!(LOGIN_THROTTLED).increment(1);
}

/// An object store call failed.
pub fn record_object_store_error(op: &'static str) {
    counter!(OBJECT_STORE_ERRORS, "op" => op).increment(1);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_operations_guide_lists_every_metric_and_nothing_else() {
        let guide = include_str!("../../docs/operations.md");
        for (name, kind, _) in super::CATALOGUE {
            assert!(
                guide.contains(&format!("| `{name}` | {kind} |")),
                "{name} is missing from docs/operations.md"
            );
        }
        let listed = guide
            .lines()
            .filter(|l| l.starts_with("| `atelier_"))
            .count();
        assert_eq!(listed, super::CATALOGUE.len());
    }
}
