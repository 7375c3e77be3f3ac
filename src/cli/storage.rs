//! `atelier storage sweep`: deletes orphaned objects (bytes without a record), unused masks and
//! S3 multipart uploads left open for a day, now.

use std::time::Duration;

use clap::Subcommand;

use crate::config::Config;
use crate::db::{self, open::Purpose};
use crate::images::sweep;
use crate::storage::Storage;

/// Object storage commands.
#[derive(Debug, Subcommand)]
pub(super) enum StorageCommand {
    /// Deletes objects that have no image record and are older than the grace period.
    Sweep {
        /// Overrides `storage.orphan_grace_secs`.
        #[arg(long)]
        grace_secs: Option<u64>,
    },
}

impl StorageCommand {
    pub(super) async fn run(self, config: Config) -> anyhow::Result<()> {
        let StorageCommand::Sweep { grace_secs } = self;
        let grace = Duration::from_secs(grace_secs.unwrap_or(config.storage.orphan_grace_secs));
        let storage = Storage::from_config(&config)?;
        let database = db::open(&config, Purpose::Cli).await?;
        let result = sweep::run(&storage, &database.pool, grace).await;
        let masks = crate::images::mask_sweep::run(
            &storage,
            &database.pool,
            crate::images::mask_sweep::KEEP,
        )
        .await;
        let uploads = crate::s3::multipart::sweep(
            &database.pool,
            &storage,
            crate::s3::multipart::STALE_AFTER,
        )
        .await;
        database.close().await?;
        let report = result?;
        println!(
            "scanned {} object(s), deleted {} orphan(s), {} partial file(s) or unfinished upload(s), {} unused mask(s), {} stale S3 upload(s)",
            report.scanned, report.deleted, report.partial, masks?, uploads?
        );
        Ok(())
    }
}
