//! Object storage for image bytes: a local directory by default, or any S3-compatible store.
//! Keys are built only by `images::keys` from ids, never from names users supply.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    GetOptions, GetRange, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
    WriteMultipart,
};
use tokio::io::AsyncReadExt;

use crate::config::{Config, StorageBackend};

pub mod multipart;

/// Files up to this size are sent in one request; larger ones in parts of this size.
const PART_SIZE: usize = 8 << 20;

/// Whether `error` (or anything in its chain) is a full disk: no space or quota left where the
/// object store or the staging directory writes, or PostgreSQL's `disk_full`.
pub fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && (io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
                || matches!(io.raw_os_error(), Some(ENOSPC | EDQUOT)))
        {
            return true;
        }
        if let Some(pg) = error.downcast_ref::<tokio_postgres::Error>()
            && pg.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL)
        {
            return true;
        }
        next = error.source();
    }
    false
}

/// The object store, shared by requests, the worker and the sweeper.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The S3 backend's multipart API (large files go up through `multipart::Upload`).
    multipart: Option<Arc<dyn object_store::multipart::MultipartStore>>,
    /// The local backend's directory, where a crash mid-write leaves partial files.
    local_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("store", &self.store)
            .field("multipart", &self.multipart.is_some())
            .field("local_dir", &self.local_dir)
            .finish()
    }
}

impl Storage {
    /// Wraps any object store (tests pass an S3 client for their in-process server).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            multipart: None,
            local_dir: None,
        }
    }

    /// The local backend on `dir`.
    pub fn local(dir: &Path) -> anyhow::Result<Self> {
        crate::secrets::ensure_private_dir(dir)?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .context("failed to open the local object store")?;
        Ok(Self {
            store: Arc::new(store),
            multipart: None,
            local_dir: Some(dir.to_path_buf()),
        })
    }

    /// Deletes what interrupted writes left in the local directory: the store writes each object
    /// to `KEY#N` and renames it when complete, and listings never show those files, so a crash
    /// mid-write (up to a whole upload) would stay forever. Only files older than `grace` go
    /// (a write in progress is younger). Returns how many; S3 backends have none here.
    pub fn sweep_partial_files(&self, grace: std::time::Duration) -> std::io::Result<u64> {
        let Some(dir) = &self.local_dir else {
            return Ok(0);
        };
        let mut deleted = 0;
        let mut pending = vec![dir.clone()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push(entry.path());
                    continue;
                }
                let partial = entry.file_name().to_string_lossy().contains('#');
                let old = entry
                    .metadata()?
                    .modified()?
                    .elapsed()
                    .is_ok_and(|age| age > grace);
                if kind.is_file() && partial && old {
                    std::fs::remove_file(entry.path())?;
                    deleted += 1;
                }
            }
        }
        Ok(deleted)
    }

    /// The configured backend.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let store = match config.storage.backend {
            StorageBackend::Local => {
                let dir = config
                    .storage
                    .local_dir
                    .clone()
                    .unwrap_or_else(|| config.data_dir.join("objects"));
                return Self::local(&dir);
            }
            StorageBackend::S3 => {
                let s3 = &config.storage.s3;
                let store = AmazonS3Builder::new()
                    .with_endpoint(&s3.endpoint)
                    .with_bucket_name(&s3.bucket)
                    .with_region(if s3.region.is_empty() {
                        "us-east-1"
                    } else {
                        &s3.region
                    })
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(&s3.secret_access_key)
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_allow_http(s3.endpoint.starts_with("http://"))
                    .build()
                    .context("invalid S3 storage settings")?;
                Arc::new(store)
            }
        };
        Ok(Self::s3(store))
    }

    /// An S3 store: large files go up as tracked multipart uploads.
    pub fn s3(store: Arc<object_store::aws::AmazonS3>) -> Self {
        Self {
            store: store.clone(),
            multipart: Some(store),
            local_dir: None,
        }
    }

    /// Starts a tracked multipart upload to `key` (S3 backends; see `multipart`).
    pub async fn begin_upload(&self, key: &ObjectPath) -> anyhow::Result<multipart::Upload> {
        let Some(parts) = &self.multipart else {
            anyhow::bail!("this store has no multipart uploads");
        };
        multipart::Upload::begin(Arc::clone(&self.store), Arc::clone(parts), key).await
    }

    /// Aborts the multipart uploads that a crash left unfinished for longer than `grace`.
    /// Returns how many; the local backend has none (see `sweep_partial_files`).
    pub async fn sweep_uploads(&self, grace: std::time::Duration) -> anyhow::Result<u64> {
        match &self.multipart {
            Some(parts) => multipart::sweep(&self.store, parts, grace).await,
            None => Ok(0),
        }
    }

    /// Stores `bytes` at `key`.
    #[tracing::instrument(name = "object_store", level = "debug", skip_all, fields(op = "put"))]
    pub async fn put_bytes(&self, key: &ObjectPath, bytes: Bytes) -> object_store::Result<()> {
        counted(
            "put",
            self.store
                .put(key, PutPayload::from_bytes(bytes))
                .await
                .map(|_| ()),
        )
    }

    /// Streams the file at `path` to `key`: one request when small, 8 MiB parts otherwise.
    pub async fn put_file(&self, key: &ObjectPath, path: &Path) -> anyhow::Result<()> {
        let mut file = tokio::fs::File::open(path)
            .await
            .context("failed to open the staged upload")?;
        let size = file.metadata().await?.len();
        if size <= PART_SIZE as u64 {
            let mut buf = Vec::with_capacity(size as usize);
            file.read_to_end(&mut buf).await?;
            self.put_bytes(key, Bytes::from(buf)).await?;
            return Ok(());
        }
        if self.multipart.is_some() {
            return self.put_file_in_parts(key, file).await;
        }
        let upload = self.store.put_multipart(key).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&chunk[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// A large file to S3, in `PART_SIZE` parts of a tracked upload (aborted on failure).
    async fn put_file_in_parts(
        &self,
        key: &ObjectPath,
        mut file: tokio::fs::File,
    ) -> anyhow::Result<()> {
        let mut upload = self.begin_upload(key).await?;
        let sent = async {
            loop {
                let mut part = Vec::with_capacity(PART_SIZE);
                (&mut file)
                    .take(PART_SIZE as u64)
                    .read_to_end(&mut part)
                    .await?;
                if part.is_empty() {
                    return anyhow::Ok(());
                }
                upload.put_part(Bytes::from(part)).await?;
            }
        }
        .await;
        match sent {
            Ok(()) => upload.complete().await,
            Err(error) => {
                upload.abort().await;
                Err(error)
            }
        }
    }

    /// Reads `key`, optionally a byte range of it.
    #[tracing::instrument(name = "object_store", level = "debug", skip_all, fields(op = "get"))]
    pub async fn get(
        &self,
        key: &ObjectPath,
        range: Option<Range<u64>>,
    ) -> object_store::Result<GetResult> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        counted("get", self.store.get_opts(key, options).await)
    }

    /// Copies `from` to `to` (server-side where the store supports it).
    #[tracing::instrument(name = "object_store", level = "debug", skip_all, fields(op = "copy"))]
    pub async fn copy(&self, from: &ObjectPath, to: &ObjectPath) -> object_store::Result<()> {
        counted("copy", self.store.copy(from, to).await)
    }

    /// Deletes `key`; a missing object is not an error.
    #[tracing::instrument(
        name = "object_store",
        level = "debug",
        skip_all,
        fields(op = "delete")
    )]
    pub async fn delete(&self, key: &ObjectPath) -> object_store::Result<()> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => counted("delete", Err(error)),
        }
    }

    /// Lists every object below `prefix`.
    pub fn list(
        &self,
        prefix: &ObjectPath,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.store.list(Some(prefix))
    }
}

/// Counts a failed object store call (a missing object is an answer, not a failure).
fn counted<T>(op: &'static str, result: object_store::Result<T>) -> object_store::Result<T> {
    if let Err(error) = &result
        && !matches!(error, object_store::Error::NotFound { .. })
    {
        crate::metrics::record_object_store_error(op);
    }
    result
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn partial_files_of_interrupted_writes_are_swept_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path()).unwrap();
        let key = ObjectPath::from("users/u/images/a.png");
        storage
            .put_bytes(&key, Bytes::from_static(b"whole"))
            .await
            .unwrap();
        let images = dir.path().join("users/u/images");
        let old = images.join("b.png#1");
        let fresh = images.join("c.png#2");
        std::fs::write(&old, b"half").unwrap();
        std::fs::write(&fresh, b"half").unwrap();
        let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(day_ago)
            .unwrap();
        let listed: Vec<_> = storage
            .list(&ObjectPath::from("users"))
            .collect::<Vec<_>>()
            .await;
        assert_eq!(listed.len(), 1, "listings hide partial files");

        let swept = storage
            .sweep_partial_files(std::time::Duration::from_secs(3600))
            .unwrap();

        assert_eq!(swept, 1);
        assert!(!old.exists() && fresh.exists());
        assert!(images.join("a.png").exists());
    }
}
