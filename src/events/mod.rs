//! Live events: every API process LISTENs on PostgreSQL's `atelier_events` channel, so events
//! from any worker or replica reach every socket; each socket routes them for its user
//! (`route`). Workers and triggers publish with `pg_notify` (V7).

pub mod audience;
pub mod slots;
pub mod socket;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;

use audience::Notice;

/// The channel every notification uses.
pub const CHANNEL: &str = "atelier_events";

/// Fans notifications out to this process's sockets.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Notice>>,
    listening: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// A hub with no listener yet.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        let (listening, _) = tokio::sync::watch::channel(false);
        Self {
            tx,
            listening: Arc::new(listening),
        }
    }

    /// Waits until the listener is connected and subscribed.
    pub async fn wait_listening(&self) {
        let mut rx = self.listening.subscribe();
        let _ = rx.wait_for(|listening| *listening).await;
    }

    /// A receiver of every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.tx.subscribe()
    }

    /// Listens on `config`'s database until the process ends, reconnecting after errors.
    pub fn spawn_listener(&self, config: tokio_postgres::Config) -> tokio::task::JoinHandle<()> {
        let tx = self.tx.clone();
        let listening = Arc::clone(&self.listening);
        tokio::spawn(async move {
            let outage = crate::db::health::Outage::new("the event listener's connection");
            loop {
                let result = listen(&config, &tx, &listening, &outage).await;
                listening.send_replace(false);
                match result {
                    Err(error) => outage.failed(&error),
                    Ok(()) => outage.failed(&"the database closed the connection"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }
}

/// One listening connection: runs until it fails.
async fn listen(
    config: &tokio_postgres::Config,
    tx: &broadcast::Sender<Arc<Notice>>,
    listening: &tokio::sync::watch::Sender<bool>,
    outage: &crate::db::health::Outage,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let subscribe = async move {
        let result = client.batch_execute(&format!("listen {CHANNEL}")).await;
        result.map(|()| client)
    };
    // The LISTEN completes only while the connection is polled, so both run together.
    let mut subscribe = std::pin::pin!(subscribe);
    let client = loop {
        tokio::select! {
            result = &mut subscribe => break result?,
            message = messages.next() => match message {
                Some(Ok(message)) => forward(message, tx),
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            },
        }
    };
    tracing::debug!("listening for events");
    outage.recovered();
    listening.send_replace(true);
    while let Some(message) = messages.next().await {
        forward(message?, tx);
    }
    drop(client);
    Ok(())
}

fn forward(message: AsyncMessage, tx: &broadcast::Sender<Arc<Notice>>) {
    if let AsyncMessage::Notification(note) = message {
        let _ = tx.send(Arc::new(Notice::parse(note.payload())));
    }
}
