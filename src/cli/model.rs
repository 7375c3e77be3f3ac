//! `atelier model …`: install, list, remove and scan catalogue models from the server's shell.
//! Runs as the system admin through `models::ops`, so the database's policies apply; an explicit
//! path may lie outside the models directories (it is copied in).

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::db::{self, Caller, begin_as, open::Purpose};
use crate::models::installs::{self, InstallRequest};
use crate::models::ops::{self, Catalogue};
use crate::models::repo;
use crate::users::SYSTEM_USER_ID;

const SYSTEM_ADMIN: Caller = Caller::admin(SYSTEM_USER_ID);

/// Model catalogue commands.
#[derive(Debug, Subcommand)]
pub(super) enum ModelCommand {
    /// Installs a `.safetensors` file or diffusers folder (PATH), or downloads one (URL).
    Add {
        /// A path on this machine, or an http(s) URL.
        source: String,
        /// The model's name (default: the file or folder name).
        #[arg(long)]
        name: Option<String>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Lists installed models.
    List {
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Deletes a model (by name or id).
    Rm {
        /// Name or id.
        model: String,
        /// Also cancel the queued and running jobs that use it.
        #[arg(long)]
        force: bool,
    },
    /// Registers, in place, the models found in the models directories.
    Scan,
    /// Writes a tiny random-weight diffusers model into DIR, for trying the pipeline without a
    /// real checkpoint (its images are noise). Without `--sd15` its 128-wide cross-attention
    /// belongs to no family the probe accepts: register it with `atelier db psql`.
    WriteTiny {
        /// The directory to write (created).
        dir: std::path::PathBuf,
        /// Make it 768 wide like SD 1.x (about 180 MB), so `model add` and the API install it.
        #[arg(long, conflicts_with = "sdxl")]
        sd15: bool,
        /// Make it SDXL-shaped (two text encoders, added conditioning; about 40 MB); register
        /// it with base `sdxl` in `atelier db psql`.
        #[arg(long, conflicts_with = "lora")]
        sdxl: bool,
        /// Also write a LoRA for it to this file (an SD 1.x LoRA with `--sd15`).
        #[arg(long)]
        lora: Option<std::path::PathBuf>,
    },
}

impl ModelCommand {
    pub(super) async fn run(self, config: Config) -> anyhow::Result<()> {
        if let ModelCommand::WriteTiny {
            dir,
            sd15,
            sdxl,
            lora,
        } = &self
        {
            use crate::diffusion::tiny::{
                Width, write_diffusers, write_lora, write_sdxl_diffusers,
            };
            let width = if *sd15 { Width::Sd15 } else { Width::Tiny };
            std::fs::create_dir_all(dir)?;
            if *sdxl {
                write_sdxl_diffusers(dir)?;
            } else {
                write_diffusers(dir, width)?;
            }
            println!("wrote a tiny model to {}", dir.display());
            if let Some(lora) = lora {
                write_lora(lora, width)?;
                println!("wrote a LoRA for it to {}", lora.display());
            }
            return Ok(());
        }
        let database = db::open(&config, Purpose::Cli).await?;
        let catalogue = Catalogue::new(database.pool.clone(), &config)?;
        let result = self.run_with(&catalogue).await;
        database.close().await?;
        result
    }

    async fn run_with(self, catalogue: &Catalogue) -> anyhow::Result<()> {
        let caller = &SYSTEM_ADMIN;
        match self {
            ModelCommand::Add {
                source,
                name,
                description,
            } => {
                let request = InstallRequest {
                    source,
                    name,
                    description,
                };
                let job = installs::start_with(catalogue, caller, request, true).await?;
                follow(catalogue, job.id).await
            }
            ModelCommand::List { json } => {
                let mut client = catalogue.db.get().await?;
                let tx = begin_as(&mut client, caller).await?;
                let models = repo::list(&tx, true).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&models)?);
                } else {
                    println!(
                        "{:<32} {:<5} {:<5} {:<11} {:>10}  location",
                        "name", "base", "type", "format", "MiB"
                    );
                    for m in &models {
                        println!(
                            "{:<32} {:<5} {:<5} {:<11} {:>10.1}  {}",
                            m.name,
                            m.base.as_str(),
                            m.kind.as_str(),
                            m.format.as_str(),
                            m.size_bytes as f64 / f64::from(1 << 20),
                            m.location.as_deref().unwrap_or_default()
                        );
                    }
                }
                Ok(())
            }
            ModelCommand::Rm { model, force } => {
                let found = {
                    let mut client = catalogue.db.get().await?;
                    let tx = begin_as(&mut client, caller).await?;
                    repo::find_by_name_or_id(&tx, &model).await?
                };
                let found = found.with_context(|| format!("no model named {model:?}"))?;
                let canceled = ops::delete(catalogue, caller, found.id, force).await?;
                println!("deleted {} ({canceled} jobs cancelled)", found.name);
                Ok(())
            }
            ModelCommand::WriteTiny { .. } => Ok(()),
            ModelCommand::Scan => {
                let report = ops::scan(catalogue, caller).await?;
                for model in &report.added {
                    println!(
                        "added {} ({}, {})",
                        model.name,
                        model.base.as_str(),
                        model.kind.as_str()
                    );
                }
                for skipped in &report.skipped {
                    println!("skipped {}: {}", skipped.path, skipped.reason);
                }
                Ok(())
            }
        }
    }
}

/// Shows the job's progress until it ends.
async fn follow(catalogue: &Catalogue, id: uuid::Uuid) -> anyhow::Result<()> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {bar:40} {bytes_per_sec}")
            .expect("the template is valid"),
    );
    loop {
        let job = {
            let mut client = catalogue.db.get().await?;
            let tx = begin_as(&mut client, &SYSTEM_ADMIN).await?;
            repo::find_install(&tx, id)
                .await?
                .context("the install job vanished")?
        };
        if let Some(total) = job.bytes_total {
            bar.set_length(u64::try_from(total).unwrap_or(0));
        }
        bar.set_position(u64::try_from(job.bytes_done).unwrap_or(0));
        match job.status.as_str() {
            "completed" => {
                bar.finish_and_clear();
                let mut client = catalogue.db.get().await?;
                let tx = begin_as(&mut client, &SYSTEM_ADMIN).await?;
                let model = match job.model_id {
                    Some(model) => repo::find(&tx, model, true).await?,
                    None => None,
                };
                match model {
                    Some(m) => println!(
                        "installed {} ({}, {}, {})",
                        m.name,
                        m.base.as_str(),
                        m.kind.as_str(),
                        m.hash
                    ),
                    None => println!("installed"),
                }
                return Ok(());
            }
            "failed" => {
                bar.abandon();
                anyhow::bail!(
                    "{} ({})",
                    job.error.unwrap_or_default(),
                    job.error_code.unwrap_or_default()
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
