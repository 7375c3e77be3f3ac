//! The real binary under systemd's protocol, as a `Type=notify` unit runs it: the data
//! directory from `$STATE_DIRECTORY`, READY=1 only once it serves, watchdog pings, STOPPING=1
//! and a clean exit on SIGTERM; and the same for a worker.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::cli::{atelier, free_port};

/// systemd's end of the notify socket: the datagrams one process sends.
struct NotifySocket {
    socket: UnixDatagram,
}

impl NotifySocket {
    fn bind(path: &Path) -> Self {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Self { socket }
    }

    /// Waits (up to `limit`) for a datagram with the line `line`; returns every line seen.
    fn wait_for(&self, line: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let found = text.lines().any(|l| l == line);
                seen.extend(text.lines().map(str::to_owned));
                if found {
                    return seen;
                }
            }
        }
        panic!("no {line} within {limit:?}; seen {seen:?}");
    }
}

#[tokio::test]
async fn serve_and_a_worker_speak_systemds_notify_protocol_and_use_the_state_directory() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // Before the server: a worker refuses to start the embedded cluster itself (it would hold
    // the data directory and keep the server from starting); systemd's Restart= retries it.
    let early = atelier(&state)
        .env_remove("ATELIER__DATA_DIR")
        .env("STATE_DIRECTORY", &state)
        .env("ATELIER__WORKER__DEVICE", "cpu")
        .arg("worker")
        .output()
        .unwrap();
    assert!(!early.status.success());
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(stderr.contains("start `atelier serve` first"), "{stderr}");
    assert!(!state.join("pg").exists(), "the worker started no cluster");
    let notify = NotifySocket::bind(&dir.path().join("notify"));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut server = atelier(&state)
        .env_remove("ATELIER__DATA_DIR")
        .env("STATE_DIRECTORY", &state)
        .env("NOTIFY_SOCKET", dir.path().join("notify"))
        .env("WATCHDOG_USEC", "1000000")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();

    // READY=1 comes once it serves: the very next request is answered (PostgreSQL, which speaks
    // the protocol too, does not get the socket: its READY=1 would come before ours).
    let seen = notify.wait_for("READY=1", Duration::from_secs(90));
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "{seen:?}");
    assert!(
        state.join("pg/PG_VERSION").is_file(),
        "the cluster lives in $STATE_DIRECTORY"
    );
    assert!(state.join("secrets").is_dir());
    // WatchdogSec=1s: pinged at half that.
    notify.wait_for("WATCHDOG=1", Duration::from_secs(3));
    notify.wait_for("WATCHDOG=1", Duration::from_secs(3));

    // A worker on the same state directory reaches the server's cluster (it opens the database
    // before it says it is ready) and is ready too.
    let worker_notify = NotifySocket::bind(&dir.path().join("worker-notify"));
    let mut worker = atelier(&state)
        .env_remove("ATELIER__DATA_DIR")
        .env("STATE_DIRECTORY", &state)
        .env("NOTIFY_SOCKET", dir.path().join("worker-notify"))
        .env("ATELIER__WORKER__DEVICE", "cpu")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("worker.log")).unwrap())
        .spawn()
        .unwrap();
    worker_notify.wait_for("READY=1", Duration::from_secs(60));
    kill_term(worker.id());
    worker_notify.wait_for("STOPPING=1", Duration::from_secs(10));
    assert!(worker.wait().unwrap().success());

    kill_term(server.id());
    notify.wait_for("STOPPING=1", Duration::from_secs(10));
    assert!(server.wait().unwrap().success());
    assert!(
        !crate::cli::postgres_running_for(&state),
        "SIGTERM stops the embedded PostgreSQL"
    );
}

#[test]
fn a_bad_gpu_index_is_refused_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = atelier(dir.path())
        .env("ATELIER__WORKER__DEVICE", "cuda:first")
        .args(["serve", "--print-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cuda:N"), "{stderr}");
}

fn kill_term(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
