//! Object storage for image bytes: a local directory by default, or any S3-compatible store.
//! Keys are built only by `images::keys` from ids, never from names users supply.

use std::ops::Range;
use std::path::Path;
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

/// Files up to this size are sent in one request; larger ones in parts of this size.
const PART_SIZE: usize = 8 << 20;

/// The object store, shared by requests, the worker and the sweeper.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
}

impl Storage {
    /// Wraps any object store (tests pass an S3 client for their in-process server).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// The configured backend.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match config.storage.backend {
            StorageBackend::Local => {
                let dir = config
                    .storage
                    .local_dir
                    .clone()
                    .unwrap_or_else(|| config.data_dir.join("objects"));
                crate::secrets::ensure_private_dir(&dir)?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&dir)
                        .context("failed to open the local object store")?,
                )
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
        Ok(Self::new(store))
    }

    /// Stores `bytes` at `key`.
    pub async fn put_bytes(&self, key: &ObjectPath, bytes: Bytes) -> object_store::Result<()> {
        self.store
            .put(key, PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
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

    /// Reads `key`, optionally a byte range of it.
    pub async fn get(
        &self,
        key: &ObjectPath,
        range: Option<Range<u64>>,
    ) -> object_store::Result<GetResult> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        self.store.get_opts(key, options).await
    }

    /// Copies `from` to `to` (server-side where the store supports it).
    pub async fn copy(&self, from: &ObjectPath, to: &ObjectPath) -> object_store::Result<()> {
        self.store.copy(from, to).await
    }

    /// Deletes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &ObjectPath) -> object_store::Result<()> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
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
