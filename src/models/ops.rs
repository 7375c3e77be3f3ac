//! Catalogue operations shared by the API and the CLI: install (from a path, a staged download or
//! upload), edit, delete and scan. Every write runs as the given admin caller, so the database's
//! policies apply to the CLI too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use super::files;
use super::model::{ModelDefaults, ModelView, valid_name};
use super::probe::{self, Probed};
use super::repo::{self, NewModel};
use crate::config::Config;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode, on_db_error};

/// Reports bytes processed.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Database refusals of catalogue writes.
const REFUSALS: &[(&str, ErrorCode, &str)] = &[
    (
        "models_name_key",
        ErrorCode::ModelNameTaken,
        "another model has this name",
    ),
    (
        "models_hash_key",
        ErrorCode::ModelDuplicate,
        "this model is installed already",
    ),
    (
        "models_location_key",
        ErrorCode::ModelDuplicate,
        "this location is registered already",
    ),
    ("42501", ErrorCode::Forbidden, "admin rights required"),
];

/// Where models live, and the pool to record them in.
#[derive(Clone)]
pub struct Catalogue {
    /// The runtime pool.
    pub db: deadpool_postgres::Pool,
    /// Where installs are copied to.
    pub dir: PathBuf,
    /// Directories whose models are registered in place.
    pub extra_dirs: Vec<PathBuf>,
    /// Largest download or upload.
    pub max_download_bytes: u64,
    /// `models.allow_private_urls`.
    pub allow_private_urls: bool,
}

/// Optional settings for an install.
#[derive(Clone, Debug, Default)]
pub struct InstallOptions {
    /// The name (default: the file or folder name without extension).
    pub name: Option<String>,
    /// A description.
    pub description: Option<String>,
}

impl Catalogue {
    /// The catalogue of `config`, creating the models directory.
    pub fn new(db: deadpool_postgres::Pool, config: &Config) -> anyhow::Result<Self> {
        let dir = config.models_dir();
        std::fs::create_dir_all(dir.join(".incoming"))?;
        let catalogue = Self {
            db,
            dir,
            extra_dirs: config.models.extra_dirs.clone(),
            max_download_bytes: config.models.max_download_bytes,
            allow_private_urls: config.models.allow_private_urls,
        };
        catalogue.clean_incoming();
        Ok(catalogue)
    }

    /// Every configured models directory.
    pub fn dirs(&self) -> Vec<PathBuf> {
        std::iter::once(self.dir.clone())
            .chain(self.extra_dirs.iter().cloned())
            .collect()
    }

    /// A fresh directory for a download or upload in progress (not created yet), removed with
    /// everything in it when the guard is dropped: also when the request is aborted midway.
    pub fn incoming(&self) -> Incoming {
        Incoming(self.dir.join(".incoming").join(Uuid::now_v7().to_string()))
    }

    /// Removes what crashed processes left in `.incoming/` (entries older than a day; a
    /// running transfer in another process sharing the directory is younger).
    pub fn clean_incoming(&self) {
        let Ok(entries) = std::fs::read_dir(self.dir.join(".incoming")) else {
            return;
        };
        let day = std::time::Duration::from_secs(24 * 3600);
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A transfer's directory under `.incoming/`, deleted on drop.
#[derive(Debug)]
pub struct Incoming(PathBuf);

impl Incoming {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks an install path before any work: pickles are refused by name, and unless `explicit`
/// (the CLI, run by an admin on the server) it must lie inside a models directory. Returns the
/// path to read and whether it is to be registered in place.
pub fn check_path(
    catalogue: &Catalogue,
    path: &Path,
    explicit: bool,
) -> Result<(PathBuf, bool), ApiError> {
    if probe::has_pickle_extension(&path.to_string_lossy()) {
        return Err(probe::pickle_refused());
    }
    if let Some(resolved) = files::inside(path, &catalogue.dirs()) {
        return Ok((resolved, true));
    }
    if !explicit {
        return Err(ApiError::new(
            ErrorCode::ModelPathOutside,
            "the path is not inside a configured models directory",
        ));
    }
    let resolved = path.canonicalize().map_err(|e| {
        ApiError::new(
            ErrorCode::ModelUnrecognized,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok((resolved, false))
}

/// Probes without hashing (header reads only), off the runtime.
pub async fn probe(path: &Path) -> Result<Probed, ApiError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || probe::probe(&path))
        .await
        .map_err(ApiError::internal)?
}

/// Installs from a checked path (see [`check_path`]): probe, hash, refuse duplicates, copy into
/// the models directory unless registered in place, then record. `source` is what the admin
/// named (a path or URL).
pub async fn install(
    catalogue: &Catalogue,
    caller: &Caller,
    path: &Path,
    in_place: bool,
    source: &str,
    options: InstallOptions,
    progress: Progress,
) -> Result<ModelView, ApiError> {
    let probed = probe(path).await?;
    let (size, hash) = {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || files::hash(&path, &*progress))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = valid_name(options.name.as_deref().unwrap_or(&stem))?;
    let description = options.description.unwrap_or_default();
    if description.chars().count() > 2000 {
        return Err(ApiError::validation(
            "description must have at most 2000 characters",
        ));
    }
    {
        let mut client = catalogue.db.get().await?;
        let tx = begin_as(&mut client, caller).await?;
        if let Some(existing) = repo::name_by_hash(&tx, &hash).await? {
            return Err(ApiError::new(
                ErrorCode::ModelDuplicate,
                format!("this model is installed already, as {existing:?}"),
            ));
        }
    }
    let id = Uuid::now_v7();
    let location = if in_place {
        path.to_path_buf()
    } else {
        let file_name =
            files::safe_file_name(&path.file_name().unwrap_or_default().to_string_lossy());
        let target = catalogue.dir.join(id.to_string()).join(file_name);
        place(path, &target).await?;
        target
    };
    let recorded = record(
        catalogue,
        caller,
        id,
        &name,
        probed,
        source,
        &location,
        size,
        &hash,
        &description,
    )
    .await;
    if recorded.is_err() && !in_place {
        let _ = tokio::fs::remove_dir_all(catalogue.dir.join(id.to_string())).await;
    }
    recorded
}

/// Moves a staged download into place, or copies an admin's file.
async fn place(path: &Path, target: &Path) -> Result<(), ApiError> {
    let (path, target) = (path.to_path_buf(), target.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let incoming = path.ancestors().any(|p| p.ends_with(".incoming"));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if incoming {
            std::fs::rename(&path, &target)
        } else {
            files::copy(&path, &target)
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

#[expect(clippy::too_many_arguments, reason = "one row's columns")]
async fn record(
    catalogue: &Catalogue,
    caller: &Caller,
    id: Uuid,
    name: &str,
    probed: Probed,
    source: &str,
    location: &Path,
    size: u64,
    hash: &str,
    description: &str,
) -> Result<ModelView, ApiError> {
    let mut client = catalogue.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let location = location.to_string_lossy();
    let new = NewModel {
        id,
        name,
        probed,
        source,
        location: &location,
        size_bytes: i64::try_from(size).map_err(ApiError::internal)?,
        hash,
        description,
    };
    let model = repo::insert(&tx, &new)
        .await
        .map_err(|e| on_db_error(e, REFUSALS))?;
    tx.commit().await?;
    tracing::info!(model = %model.name, base = model.base.as_str(), "model installed");
    Ok(model)
}

/// What an admin may change.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPatch {
    /// A new unique name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New default settings (replacing the old ones).
    pub defaults: Option<ModelDefaults>,
}

/// Edits a model.
pub async fn update(
    catalogue: &Catalogue,
    caller: &Caller,
    id: Uuid,
    patch: ModelPatch,
) -> Result<ModelView, ApiError> {
    let name = patch.name.as_deref().map(valid_name).transpose()?;
    if patch
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        return Err(ApiError::validation(
            "description must have at most 2000 characters",
        ));
    }
    let defaults = match &patch.defaults {
        Some(defaults) => {
            defaults.validate()?;
            Some(serde_json::to_value(defaults).map_err(ApiError::internal)?)
        }
        None => None,
    };
    let mut client = catalogue.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let model = repo::update(
        &tx,
        id,
        name.as_deref(),
        patch.description.as_deref(),
        defaults.as_ref(),
    )
    .await
    .map_err(|e| on_db_error(e, REFUSALS))?
    .ok_or_else(model_not_found)?;
    tx.commit().await?;
    Ok(model)
}

/// Deletes a model. Queued or running jobs that use it make this fail unless `force`, which
/// cancels them. Files the server copied in are removed; files registered in place stay.
pub async fn delete(
    catalogue: &Catalogue,
    caller: &Caller,
    id: Uuid,
    force: bool,
) -> Result<u64, ApiError> {
    let mut client = catalogue.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let model = repo::find(&tx, id, true)
        .await?
        .ok_or_else(model_not_found)?;
    let users = repo::jobs_using(&tx, &model.name).await?;
    if users > 0 && !force {
        return Err(ApiError::new(
            ErrorCode::ModelInUse,
            format!(
                "{users} queued or running jobs use this model; delete with force to cancel them"
            ),
        ));
    }
    let canceled = if users > 0 {
        crate::queue::repo::cancel_all_using(&tx, &model.name).await?
    } else {
        0
    };
    repo::delete(&tx, id)
        .await
        .map_err(|e| on_db_error(e, REFUSALS))?;
    tx.commit().await?;
    let owned = catalogue.dir.join(id.to_string());
    if model
        .location
        .as_deref()
        .is_some_and(|l| Path::new(l).starts_with(&owned))
    {
        let _ = tokio::fs::remove_dir_all(&owned).await;
    }
    Ok(canceled)
}

/// The 404 for a missing model.
pub fn model_not_found() -> ApiError {
    ApiError::new(ErrorCode::ModelNotFound, "model not found")
}

/// A path a scan did not register, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    /// The path.
    pub path: String,
    /// The error code.
    pub code: ErrorCode,
    /// Why.
    pub reason: String,
}

/// What a scan found.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ScanReport {
    /// Newly registered models.
    pub added: Vec<ModelView>,
    /// Candidates that were refused.
    pub skipped: Vec<Skipped>,
}

/// Registers, in place, every model under the models directories that is not registered yet:
/// `.safetensors` files and diffusers folders, two levels deep, without following links out.
pub async fn scan(catalogue: &Catalogue, caller: &Caller) -> Result<ScanReport, ApiError> {
    let known: Vec<PathBuf> = {
        let mut client = catalogue.db.get().await?;
        let tx = begin_as(&mut client, caller).await?;
        repo::locations(&tx)
            .await?
            .into_iter()
            .map(PathBuf::from)
            .collect()
    };
    let dirs = catalogue.dirs();
    let candidates = tokio::task::spawn_blocking(move || candidates(&dirs))
        .await
        .map_err(ApiError::internal)?;
    let mut report = ScanReport::default();
    for path in candidates {
        if known
            .iter()
            .any(|k| path.starts_with(k) || k.starts_with(&path))
        {
            continue;
        }
        let source = path.to_string_lossy().into_owned();
        let result = async {
            let (path, in_place) = check_path(catalogue, &path, false)?;
            install(
                catalogue,
                caller,
                &path,
                in_place,
                &source,
                InstallOptions::default(),
                Arc::new(|_| {}),
            )
            .await
        }
        .await;
        match result {
            Ok(model) => report.added.push(model),
            Err(error) => report.skipped.push(Skipped {
                path: source,
                code: error.code(),
                reason: error.message().to_owned(),
            }),
        }
    }
    Ok(report)
}

fn candidates(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        walk(dir, 0, &mut found);
    }
    found
}

fn walk(dir: &Path, depth: u8, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if name.starts_with('.') || kind.is_symlink() {
            continue;
        }
        let path = entry.path();
        if kind.is_dir() {
            if path.join("model_index.json").is_file() || path.join("config.json").is_file() {
                found.push(path);
            } else if depth < 2 {
                walk(&path, depth + 1, found);
            }
        } else if name.ends_with(".safetensors") || probe::has_pickle_extension(&name) {
            found.push(path);
        }
    }
}
