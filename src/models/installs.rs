//! Installs from the API run as jobs: a `model_installs` row (admins only) whose progress and
//! outcome are updated as the work goes on, each change announced to admins' event sockets.
//! Cheap checks (a pickle name, a path outside the models directories, an unreadable header)
//! answer at once; downloads, hashes and copies happen in the job.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::model::InstallView;
use super::ops::{self, Catalogue, InstallOptions, Progress};
use super::{probe, repo, url_guard};
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode};

/// What to install.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// An `http(s)://` URL, or a path inside a configured models directory on the server.
    pub source: String,
    /// The model's name (default: the file or folder name).
    #[serde(default)]
    pub name: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
}

enum Source {
    Url(String),
    Path(std::path::PathBuf, bool),
}

/// Checks the request, records the job and starts it. Paths must lie inside a models directory.
pub async fn start(
    catalogue: &Catalogue,
    caller: &Caller,
    request: InstallRequest,
) -> Result<InstallView, ApiError> {
    start_with(catalogue, caller, request, false).await
}

/// As [`start`]; with `explicit` (the CLI, run by an admin on the server) a path may lie
/// anywhere, and is copied into the models directory.
pub async fn start_with(
    catalogue: &Catalogue,
    caller: &Caller,
    request: InstallRequest,
    explicit: bool,
) -> Result<InstallView, ApiError> {
    let source = if request.source.starts_with("http://") || request.source.starts_with("https://")
    {
        let url = http_client::Url::parse(&request.source)
            .map_err(|e| ApiError::validation(format!("source is not a valid URL: {e}")))?;
        if probe::has_pickle_extension(url.path()) {
            return Err(probe::pickle_refused());
        }
        url_guard::check_url(&url, catalogue.allow_private_urls)
            .map_err(|m| ApiError::new(ErrorCode::ModelUrlRefused, m))?;
        Source::Url(request.source.clone())
    } else {
        let (path, in_place) = ops::check_path(catalogue, Path::new(&request.source), explicit)?;
        ops::probe(&path).await?;
        Source::Path(path, in_place)
    };
    if let Some(name) = &request.name {
        super::model::valid_name(name)?;
    }
    let id = Uuid::now_v7();
    let view = {
        let mut client = catalogue.db.get().await?;
        let tx = begin_as(&mut client, caller).await?;
        let view = repo::insert_install(&tx, id, &request.source).await?;
        tx.commit().await?;
        view
    };
    let options = InstallOptions {
        name: request.name,
        description: request.description,
    };
    tokio::spawn(run(
        catalogue.clone(),
        *caller,
        id,
        source,
        request.source,
        options,
    ));
    Ok(view)
}

async fn run(
    catalogue: Catalogue,
    caller: Caller,
    id: Uuid,
    source: Source,
    named: String,
    options: InstallOptions,
) {
    let done = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let reporter = tokio::spawn(report(
        catalogue.clone(),
        caller,
        id,
        Arc::clone(&done),
        Arc::clone(&total),
    ));
    let counter = Arc::clone(&done);
    let progress: Progress = Arc::new(move |n| counter.store(n, Ordering::Relaxed));
    let result = match source {
        Source::Path(path, in_place) => {
            let size = files_size(&path).await;
            total.store(size, Ordering::Relaxed);
            ops::install(
                &catalogue, &caller, &path, in_place, &named, options, progress,
            )
            .await
        }
        Source::Url(url) => {
            let staging = catalogue.incoming();
            let path = staging.path().join(super::files::safe_file_name(
                &http_client::Url::parse(&url)
                    .map_or_else(|_| String::new(), |u| u.path().to_owned()),
            ));
            let fetched = match tokio::fs::create_dir_all(staging.path()).await {
                Ok(()) => {
                    let limits = (catalogue.max_download_bytes, catalogue.allow_private_urls);
                    download(&url, &path, limits, &done, &total).await
                }
                Err(error) => Err(ApiError::internal(error)),
            };
            let result = match fetched {
                Ok(()) => {
                    ops::install(&catalogue, &caller, &path, false, &named, options, progress)
                        .await
                        .map_err(without_content)
                }
                Err(error) => Err(error),
            };
            drop(staging);
            result
        }
    };
    reporter.abort();
    let bytes = (
        i64::try_from(done.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
        Some(i64::try_from(total.load(Ordering::Relaxed)).unwrap_or(i64::MAX)).filter(|t| *t > 0),
    );
    let outcome = match &result {
        Ok(model) => {
            save(
                &catalogue,
                &caller,
                id,
                "completed",
                bytes,
                None,
                Some(model.id),
            )
            .await
        }
        Err(error) => {
            tracing::warn!(install = %id, error = %error.message(), "model install failed");
            let code = serde_json::to_value(error.code())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            save(
                &catalogue,
                &caller,
                id,
                "failed",
                bytes,
                Some((&code, error.message())),
                None,
            )
            .await
        }
    };
    if let Err(error) = outcome {
        tracing::warn!(install = %id, error = %error.message(), "recording the install's outcome failed");
    }
}

async fn files_size(path: &Path) -> u64 {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || super::files::files_of(&path))
        .await
        .ok()
        .and_then(Result::ok)
        .map_or(0, |files| files.iter().map(|(_, n)| n).sum())
}

/// Writes progress to the job row four times a second while the work runs.
async fn report(
    catalogue: Catalogue,
    caller: Caller,
    id: Uuid,
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
) {
    let mut last = u64::MAX;
    loop {
        let now = done.load(Ordering::Relaxed);
        if now != last {
            last = now;
            let total = total.load(Ordering::Relaxed);
            let bytes = (
                i64::try_from(now).unwrap_or(i64::MAX),
                (total > 0).then(|| i64::try_from(total).unwrap_or(i64::MAX)),
            );
            if let Err(error) = save(&catalogue, &caller, id, "running", bytes, None, None).await {
                tracing::debug!(error = %error.message(), "install progress not saved");
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn save(
    catalogue: &Catalogue,
    caller: &Caller,
    id: Uuid,
    status: &str,
    bytes: (i64, Option<i64>),
    error: Option<(&str, &str)>,
    model: Option<Uuid>,
) -> Result<(), ApiError> {
    let mut client = catalogue.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    repo::update_install(&tx, id, status, bytes, error, model).await?;
    tx.commit().await?;
    Ok(())
}

fn download_failed(message: String) -> ApiError {
    ApiError::new(ErrorCode::ModelDownloadFailed, message)
}

/// Streams `url` into `dest`, refusing more than `max` bytes.
/// A downloaded file that is not a model gets a message that says so without quoting what it
/// holds: a URL install must not become a way to read what an address answered.
fn without_content(error: ApiError) -> ApiError {
    match error.code() {
        ErrorCode::ModelCorrupt | ErrorCode::ModelUnrecognized => ApiError::new(
            error.code(),
            "the downloaded file is not a safetensors model this server recognises",
        ),
        _ => error,
    }
}

async fn download(
    url: &str,
    dest: &Path,
    (max, allow_private): (u64, bool),
    done: &AtomicU64,
    total: &AtomicU64,
) -> Result<(), ApiError> {
    let redirects = http_client::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= url_guard::MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        match url_guard::check_url(attempt.url(), allow_private) {
            Ok(()) => attempt.follow(),
            Err(message) => attempt.error(message),
        }
    });
    let mut builder = http_client::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .redirect(redirects);
    if !allow_private {
        // No proxy from the environment either: a proxy would resolve names itself, past the
        // resolver that keeps downloads on public addresses.
        builder = builder
            .no_proxy()
            .dns_resolver(Arc::new(url_guard::PublicResolver));
    }
    let client = builder.build().map_err(ApiError::internal)?;
    let response = client.get(url).send().await.map_err(|e| {
        let text = format!("cannot fetch the URL: {}", error_chain(&e));
        if text.contains(url_guard::NOT_PUBLIC) {
            ApiError::new(ErrorCode::ModelUrlRefused, text)
        } else {
            download_failed(text)
        }
    })?;
    if !response.status().is_success() {
        return Err(download_failed(format!(
            "the URL answered {}",
            response.status()
        )));
    }
    let too_large =
        || download_failed(format!("the model is larger than the limit of {max} bytes"));
    if let Some(length) = response.content_length() {
        if length > max {
            return Err(too_large());
        }
        total.store(length, Ordering::Relaxed);
    }
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = response.bytes_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| download_failed(format!("the download broke off: {e}")))?;
        written += chunk.len() as u64;
        if written > max {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
        done.store(written, Ordering::Relaxed);
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(())
}

/// An error with its causes (the resolver's refusal sits a few sources down).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
