//! Multipart uploads to an S3 store that a crash cannot leak. S3 keeps the parts of an upload
//! that was never completed or aborted (and bills for them) until someone aborts it, and listing
//! such uploads is an API not every S3-compatible store has. So each upload is announced by a
//! marker object, `system/multipart/{upload id as hex}` holding its key and id, written before
//! its first part and deleted when it completes or aborts. `sweep` aborts the uploads whose
//! marker is older than the grace period: those of a process that died mid-upload (each part
//! rewrites the marker, so a slow upload stays young). Markers live outside `users/`, so no
//! user's prefix (and no orphan sweep) ever sees them. A crash between starting an upload and
//! writing its marker still leaks it: an `AbortIncompleteMultipartUpload` lifecycle rule on the
//! bucket is the backstop for that window.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Where the markers live.
pub const MARKER_PREFIX: &str = "system/multipart";

/// An upload in progress: parts go up one at a time, in order.
pub struct Upload {
    store: Arc<dyn ObjectStore>,
    multipart: Arc<dyn MultipartStore>,
    key: ObjectPath,
    id: String,
    marker: ObjectPath,
    parts: Vec<PartId>,
}

fn marker_for(id: &str) -> ObjectPath {
    let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    ObjectPath::from(format!("{MARKER_PREFIX}/{hex}"))
}

impl Upload {
    /// Starts an upload to `key` and writes its marker.
    pub(super) async fn begin(
        store: Arc<dyn ObjectStore>,
        multipart: Arc<dyn MultipartStore>,
        key: &ObjectPath,
    ) -> anyhow::Result<Self> {
        let id = multipart.create_multipart(key).await?;
        let marker = marker_for(&id);
        let note = format!("{key}\n{id}");
        if let Err(error) = store.put(&marker, PutPayload::from(note)).await {
            let _ = multipart.abort_multipart(key, &id).await;
            return Err(error).context("failed to record the upload");
        }
        Ok(Self {
            store,
            multipart,
            key: key.clone(),
            id,
            marker,
            parts: Vec::new(),
        })
    }

    /// Uploads the next part, and rewrites the marker so that an upload that is still moving
    /// never looks abandoned, however long it takes.
    pub async fn put_part(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        let index = self.parts.len();
        let part = self
            .multipart
            .put_part(&self.key, &self.id, index, PutPayload::from_bytes(bytes))
            .await?;
        self.parts.push(part);
        let note = format!("{}\n{}", self.key, self.id);
        self.store.put(&self.marker, PutPayload::from(note)).await?;
        Ok(())
    }

    /// Completes the upload and removes its marker.
    pub async fn complete(self) -> anyhow::Result<()> {
        self.multipart
            .complete_multipart(&self.key, &self.id, self.parts.clone())
            .await?;
        self.forget().await;
        Ok(())
    }

    /// Aborts the upload (its parts are deleted) and removes its marker.
    pub async fn abort(self) {
        if let Err(error) = self.multipart.abort_multipart(&self.key, &self.id).await {
            tracing::warn!(error = %error, key = %self.key, "aborting an upload failed; the sweep will retry");
            return;
        }
        self.forget().await;
    }

    async fn forget(&self) {
        if let Err(error) = self.store.delete(&self.marker).await {
            tracing::debug!(error = %error, "an upload's marker stays until the sweep");
        }
    }
}

/// Aborts the uploads whose marker is older than `grace` and deletes their markers. Returns
/// how many were aborted (an upload the store no longer knows counts too: it is gone).
pub async fn sweep(
    store: &Arc<dyn ObjectStore>,
    multipart: &Arc<dyn MultipartStore>,
    grace: std::time::Duration,
) -> anyhow::Result<u64> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(grace).context("grace period too long")?;
    let mut stale = Vec::new();
    let mut listing = store.list(Some(&ObjectPath::from(MARKER_PREFIX)));
    while let Some(meta) = listing.next().await {
        let meta = meta.context("failed to list upload markers")?;
        if meta.last_modified < cutoff {
            stale.push(meta.location);
        }
    }
    let mut aborted = 0;
    for marker in stale {
        // Another sweeper, or the upload itself, may have removed it meanwhile.
        let note = match store.get(&marker).await {
            Ok(found) => found.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(error) => return Err(error.into()),
        };
        let note = String::from_utf8_lossy(&note);
        let Some((key, id)) = note.split_once('\n') else {
            forget(store, &marker).await?;
            continue;
        };
        let key = ObjectPath::parse(key).context("an upload marker names a bad key")?;
        match multipart.abort_multipart(&key, &id.to_owned()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(error = %error, key = %key, "aborting a stale upload failed");
                continue;
            }
        }
        forget(store, &marker).await?;
        aborted += 1;
    }
    Ok(aborted)
}

/// Deletes a marker; one already gone is fine.
async fn forget(store: &Arc<dyn ObjectStore>, marker: &ObjectPath) -> anyhow::Result<()> {
    match store.delete(marker).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
