//! The S3 door's listener: s3s's service (SigV4 through `door::Auth`, admission through
//! `door::Access`, operations in `gateway`) on its own address (`s3.listen`), path-style, with a
//! graceful shutdown that lets requests in flight finish.

use std::future::Future;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use super::door::{Access, Auth, Door};
use super::gateway::Gateway;
use crate::app::App;

/// The S3 service of `app`.
pub fn service(app: Arc<App>) -> s3s::service::S3Service {
    let door = Door::new(Arc::clone(&app));
    let mut builder = S3ServiceBuilder::new(Gateway { app });
    builder.set_auth(Auth(Arc::clone(&door)));
    builder.set_access(Access(door));
    builder.build()
}

/// Serves S3 on `listener` until `shutdown` resolves, then waits for open connections.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let service = service(app);
    let mut http = Builder::new(TokioExecutor::new());
    // A client that opens a connection and sends its request head slowly is cut off.
    http.http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(30));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(error) => {
                    tracing::warn!(%error, "S3 accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses go out in several writes (head, then body chunks): without TCP_NODELAY,
        // Nagle's algorithm holds the last one for the client's delayed ACK (40 ms a request).
        let _ = socket.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(socket), service.clone());
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {
            tracing::warn!("S3 connections still open after 30 s; closing them");
        }
    }
}
