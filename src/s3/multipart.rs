//! Multipart uploads through the S3 door. An upload is bound to its owner and key in
//! `s3_uploads`; each part is staged in the object store under
//! `system/s3-uploads/{upload}/{part}` (so any server process may take the next part)
//! and recorded with its size, and the parts of one upload together may not exceed the upload
//! limit. Completing concatenates the named parts into a staging file and stores it through the
//! gallery's ingest like a `PutObject`; the sweeper aborts uploads left open for a day.

use std::io::Write;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput, ETag,
    UploadPartInput, UploadPartOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Response, S3Result, s3_error};
use uuid::Uuid;

use super::door::KeyUser;
use super::errors::{from_api, from_db, from_storage};
use super::gateway::{check_bucket, too_large};
use super::objects::{self, caller, etag};
use super::{names, repo};
use crate::app::App;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode};
use crate::images::ingest::{self, Source, Staged};
use crate::storage::Storage;
use crate::users::SYSTEM_USER_ID;

/// Uploads open this long are aborted by the sweep.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Open uploads per user.
pub const MAX_OPEN_UPLOADS: i64 = 16;

/// Where staged parts live: outside every user's prefix (no user reads them; the upload's row
/// says whose they are), so the sweep finds them without listing every user's images.
const PARTS_PREFIX: &str = "system/s3-uploads";

fn part_key(upload: Uuid, number: i32) -> ObjectPath {
    ObjectPath::from(format!("{PARTS_PREFIX}/{upload}/{number:05}"))
}

fn no_such_upload() -> S3Error {
    s3_error!(NoSuchUpload)
}

/// The owner's upload `id` of `key`.
async fn open_upload(app: &App, user: KeyUser, id: &str, key: &str) -> S3Result<Uuid> {
    let id: Uuid = id.parse().map_err(|_| no_such_upload())?;
    let mut client = app.db.get().await.map_err(from_db)?;
    let tx = begin_as(&mut client, &caller(user))
        .await
        .map_err(from_db)?;
    let bound = repo::upload_key(&tx, user.owner, id)
        .await
        .map_err(from_db)?;
    tx.commit().await.map_err(from_db)?;
    match bound {
        Some(bound) if bound == key => Ok(id),
        _ => Err(no_such_upload()),
    }
}

/// `CreateMultipartUpload`: checks the key now, so a bad one fails before any part is sent.
pub async fn create(
    app: &App,
    user: KeyUser,
    input: CreateMultipartUploadInput,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    check_bucket(&input.bucket)?;
    names::parse(&input.key).map_err(|e| objects::key_error(&e))?;
    let id = Uuid::new_v4();
    let mut client = app.db.get().await.map_err(from_db)?;
    let tx = begin_as(&mut client, &caller(user))
        .await
        .map_err(from_db)?;
    if repo::count_uploads(&tx, user.owner)
        .await
        .map_err(from_db)?
        >= MAX_OPEN_UPLOADS
    {
        return Err(S3Error::with_message(
            S3ErrorCode::SlowDown,
            format!("at most {MAX_OPEN_UPLOADS} multipart uploads may be open at once"),
        ));
    }
    repo::insert_upload(&tx, id, user.owner, &input.key)
        .await
        .map_err(from_db)?;
    tx.commit().await.map_err(from_db)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(id.to_string()),
        ..Default::default()
    }))
}

/// `UploadPart`: reserves the part's declared size (refused when the upload's parts together
/// would pass the limit), then stages its bytes, at most the declared size.
pub async fn upload_part(
    app: &App,
    user: KeyUser,
    input: UploadPartInput,
) -> S3Result<S3Response<UploadPartOutput>> {
    check_bucket(&input.bucket)?;
    let number = input.part_number;
    if !(1..=10_000).contains(&number) {
        return Err(s3_error!(InvalidArgument, "part numbers are 1 to 10000"));
    }
    let upload = open_upload(app, user, &input.upload_id, &input.key).await?;
    let max = app.config.storage.max_upload_bytes;
    let declared = input
        .content_length
        .ok_or_else(|| s3_error!(MissingContentLength, "parts need a Content-Length"))?;
    let declared_bytes = u64::try_from(declared).map_err(|_| too_large(max))?;
    if declared_bytes > max {
        return Err(too_large(max));
    }
    {
        let mut client = app.db.get().await.map_err(from_db)?;
        let tx = begin_as(&mut client, &caller(user))
            .await
            .map_err(from_db)?;
        let total = repo::reserve_part(&tx, user.owner, upload, number, declared)
            .await
            .map_err(from_db)?;
        if u64::try_from(total).unwrap_or(u64::MAX) > max {
            return Err(too_large(max)); // rolled back: nothing reserved
        }
        tx.commit().await.map_err(from_db)?;
    }
    let stored = stage_part(app, upload, input.body, declared_bytes, number).await;
    let mut client = app.db.get().await.map_err(from_db)?;
    let tx = begin_as(&mut client, &caller(user))
        .await
        .map_err(from_db)?;
    let tag = match stored {
        Ok((size, tag)) => {
            repo::finish_part(&tx, user.owner, upload, number, size, &tag)
                .await
                .map_err(from_db)?;
            tag
        }
        Err(error) => {
            repo::drop_part(&tx, user.owner, upload, number)
                .await
                .map_err(from_db)?;
            tx.commit().await.map_err(from_db)?;
            return Err(error);
        }
    };
    tx.commit().await.map_err(from_db)?;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(ETag::Strong(tag)),
        ..Default::default()
    }))
}

/// Stages a part's body (at most `limit` bytes) in the object store; its size and ETag.
async fn stage_part(
    app: &App,
    upload: Uuid,
    body: Option<s3s::dto::StreamingBlob>,
    limit: u64,
    number: i32,
) -> S3Result<(i64, String)> {
    let max = app.config.storage.max_upload_bytes;
    let body = body.ok_or_else(|| s3_error!(IncompleteBody))?;
    let staged = ingest::stage_stream(body, None, &app.staging_dir, limit, |e| {
        ApiError::new(
            ErrorCode::InvalidUpload,
            format!("the body could not be read: {e}"),
        )
    })
    .await
    .map_err(|e| match e.code() {
        ErrorCode::PayloadTooLarge => too_large(max),
        _ => from_api(e),
    })?;
    let key = part_key(upload, number);
    match &staged.source {
        Source::Memory(bytes) => app
            .storage
            .put_bytes(&key, bytes.clone())
            .await
            .map_err(from_storage)?,
        Source::File(path) => app
            .storage
            .put_file(&key, path)
            .await
            .map_err(|e| from_api(ApiError::internal(e)))?,
    }
    let size = i64::try_from(staged.size).unwrap_or(i64::MAX);
    Ok((size, Uuid::new_v4().simple().to_string()))
}

/// `CompleteMultipartUpload`: the named parts, in order, become one image at the key.
pub async fn complete(
    app: &App,
    user: KeyUser,
    input: CompleteMultipartUploadInput,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    check_bucket(&input.bucket)?;
    let upload = open_upload(app, user, &input.upload_id, &input.key).await?;
    let named = input
        .multipart_upload
        .and_then(|m| m.parts)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| s3_error!(InvalidPart, "name at least one part"))?;
    let stored = {
        let mut client = app.db.get().await.map_err(from_db)?;
        let tx = begin_as(&mut client, &caller(user))
            .await
            .map_err(from_db)?;
        let parts = repo::parts(&tx, user.owner, upload)
            .await
            .map_err(from_db)?;
        tx.commit().await.map_err(from_db)?;
        parts
    };
    let mut order = Vec::with_capacity(named.len());
    for part in &named {
        let number = part.part_number.ok_or_else(|| s3_error!(InvalidPart))?;
        if order.last().is_some_and(|last| *last >= number) {
            return Err(s3_error!(InvalidPartOrder));
        }
        let found = stored
            .iter()
            .find(|p| p.number == number && !p.etag.is_empty())
            .ok_or_else(|| s3_error!(InvalidPart, "a named part was not uploaded"))?;
        if let Some(tag) = &part.e_tag
            && tag.value() != found.etag
        {
            return Err(s3_error!(InvalidPart, "a part's ETag does not match"));
        }
        order.push(number);
    }
    let staged = concatenate(app, upload, &order).await?;
    let entry = objects::write(app, user, &input.key, &staged).await?;
    drop_upload(&app.db, &app.storage, &caller(user), user.owner, upload).await?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        e_tag: Some(etag(entry.id)),
        ..Default::default()
    }))
}

/// The parts, in order, in one staging file.
async fn concatenate(app: &App, upload: Uuid, order: &[i32]) -> S3Result<Staged> {
    let internal = |e: std::io::Error| from_api(ApiError::internal(e));
    let file = tempfile::NamedTempFile::new_in(&app.staging_dir).map_err(internal)?;
    let mut out = std::io::BufWriter::new(file.reopen().map_err(internal)?);
    let mut size = 0u64;
    for number in order {
        let got = app
            .storage
            .get(&part_key(upload, *number), None)
            .await
            .map_err(from_storage)?;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(from_storage)?;
            size += chunk.len() as u64;
            out.write_all(&chunk).map_err(internal)?;
        }
    }
    out.flush().map_err(internal)?;
    if size > app.config.storage.max_upload_bytes {
        return Err(too_large(app.config.storage.max_upload_bytes));
    }
    Ok(Staged {
        source: Source::File(file.path().to_path_buf()),
        file: Some(file),
        size,
        declared_type: None,
    })
}

/// Deletes an upload's row (and its parts' rows), then its staged parts.
async fn drop_upload(
    pool: &deadpool_postgres::Pool,
    storage: &Storage,
    caller: &Caller,
    owner: Uuid,
    upload: Uuid,
) -> S3Result<bool> {
    let parts = {
        let mut client = pool.get().await.map_err(from_db)?;
        let tx = begin_as(&mut client, caller).await.map_err(from_db)?;
        let parts = repo::parts(&tx, owner, upload).await.map_err(from_db)?;
        let existed = repo::delete_upload(&tx, owner, upload)
            .await
            .map_err(from_db)?;
        tx.commit().await.map_err(from_db)?;
        if !existed {
            return Ok(false);
        }
        parts
    };
    for part in parts {
        if let Err(error) = storage.delete(&part_key(upload, part.number)).await {
            tracing::warn!(%error, %upload, "failed to delete a staged part");
        }
    }
    Ok(true)
}

/// `AbortMultipartUpload`.
pub async fn abort(
    app: &App,
    user: KeyUser,
    input: AbortMultipartUploadInput,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    check_bucket(&input.bucket)?;
    let upload = open_upload(app, user, &input.upload_id, &input.key).await?;
    if !drop_upload(&app.db, &app.storage, &caller(user), user.owner, upload).await? {
        return Err(no_such_upload());
    }
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// Aborts uploads started more than `age` ago, of any owner, then deletes staged parts older
/// than `age` whose upload is gone (a user deleted with uploads open, a crash mid-abort);
/// returns how many uploads were aborted.
pub async fn sweep(
    pool: &deadpool_postgres::Pool,
    storage: &Storage,
    age: std::time::Duration,
) -> anyhow::Result<u64> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(age)?;
    let admin = Caller::admin(SYSTEM_USER_ID);
    let stale = {
        let mut client = pool.get().await?;
        let tx = begin_as(&mut client, &admin).await?;
        let stale = repo::stale_uploads(&tx, cutoff).await?;
        tx.commit().await?;
        stale
    };
    let mut aborted = 0;
    for (upload, owner) in stale {
        if drop_upload(pool, storage, &admin, owner, upload)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            aborted += 1;
        }
    }
    sweep_orphan_parts(pool, storage, cutoff).await?;
    Ok(aborted)
}

/// Deletes staged parts older than `cutoff` that no open upload owns.
async fn sweep_orphan_parts(
    pool: &deadpool_postgres::Pool,
    storage: &Storage,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let mut old: Vec<(ObjectPath, Uuid)> = Vec::new();
    let mut listing = storage.list(&ObjectPath::from(PARTS_PREFIX));
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        let upload = meta
            .location
            .parts()
            .nth(2)
            .and_then(|p| p.as_ref().parse::<Uuid>().ok());
        if let Some(upload) = upload
            && meta.last_modified < cutoff
        {
            old.push((meta.location, upload));
        }
    }
    if old.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = old.iter().map(|(_, id)| *id).collect();
    let open = {
        let mut client = pool.get().await?;
        let tx = begin_as(&mut client, &Caller::admin(SYSTEM_USER_ID)).await?;
        let open = repo::open_uploads(&tx, &ids).await?;
        tx.commit().await?;
        open
    };
    for (key, upload) in old {
        if !open.contains(&upload) {
            storage.delete(&key).await?;
            tracing::info!(%key, "deleted a staged part of an upload that is gone");
        }
    }
    Ok(())
}
