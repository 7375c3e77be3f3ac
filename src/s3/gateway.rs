//! The S3 operations of the door (`impl S3`): one bucket, `images`, per key; reads and listings
//! of the key user's images, writes through the gallery's ingest, deletions that delete the
//! image, copies within the bucket, and multipart uploads (`multipart`). Everything else is
//! `NotImplemented` (versioning, ACLs, bucket creation and the like).

use std::sync::Arc;
use std::time::SystemTime;

use s3s::dto::{
    Bucket, CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource, DeleteObjectInput,
    DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject,
    GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, Object, PutObjectInput, PutObjectOutput, StreamingBlob, Timestamp,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use uuid::Uuid;

use super::door::{KeyUser, user_of};
use super::errors::{from_api, from_db, from_storage};
use super::listing::{self, Query};
use super::names::{self, BUCKET, ImageEntry};
use super::objects::{self, caller, etag};
use super::repo;
use crate::app::App;
use crate::db::begin_as;
use crate::error::{ApiError, ErrorCode};
use crate::images::ops;
use crate::images::{ingest, keys};

/// The S3 service of one server.
pub struct Gateway {
    pub(super) app: Arc<App>,
}

/// Refuses any bucket but the one each user has.
pub(super) fn check_bucket(bucket: &str) -> S3Result<()> {
    if bucket == BUCKET {
        Ok(())
    } else {
        Err(s3_error!(NoSuchBucket, "the only bucket is `images`"))
    }
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp::from(SystemTime::from(at))
}

fn content_type(entry: &ImageEntry) -> Option<s3s::dto::ContentType> {
    let mime = match entry.extension {
        "jpg" => "image/jpeg",
        "webp" => "image/webp",
        _ => "image/png",
    };
    mime.parse().ok()
}

impl Gateway {
    /// Every key of the user's, sorted; narrowed to one board when the prefix names it.
    async fn keys(&self, user: KeyUser, prefix: &str) -> S3Result<Vec<(String, ImageEntry)>> {
        let mut client = self.app.db.get().await.map_err(from_db)?;
        let tx = begin_as(&mut client, &caller(user))
            .await
            .map_err(from_db)?;
        let boards = repo::boards(&tx, user.owner).await.map_err(from_db)?;
        let only = if prefix.starts_with(&format!("{}/", names::UNCATEGORIZED)) {
            Some(None)
        } else {
            None
        };
        let images = repo::images(&tx, user.owner, only).await.map_err(from_db)?;
        tx.commit().await.map_err(from_db)?;
        Ok(names::object_keys(&boards, images))
    }

    /// Reads a staged body into an image at `key`.
    async fn put(
        &self,
        user: KeyUser,
        key: &str,
        body: Option<StreamingBlob>,
        length: Option<i64>,
    ) -> S3Result<ImageEntry> {
        names::parse(key).map_err(|e| objects::key_error(&e))?;
        let max = self.app.config.storage.max_upload_bytes;
        if length.is_some_and(|n| u64::try_from(n).unwrap_or(u64::MAX) > max) {
            return Err(too_large(max));
        }
        let body = body.ok_or_else(|| s3_error!(IncompleteBody))?;
        let staged = ingest::stage_stream(body, None, &self.app.staging_dir, max, |e| {
            ApiError::new(
                ErrorCode::InvalidUpload,
                format!("the body could not be read: {e}"),
            )
        })
        .await
        .map_err(from_api)?;
        objects::write(&self.app, user, key, &staged).await
    }
}

/// `EntityTooLarge` for bodies over `max` bytes.
pub(super) fn too_large(max: u64) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::EntityTooLarge,
        format!("an image has at most {max} bytes"),
    )
}

#[async_trait::async_trait]
impl S3 for Gateway {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        user_of(&req.extensions)?;
        let bucket = Bucket {
            name: Some(BUCKET.to_owned()),
            creation_date: Some(Timestamp::from(SystemTime::UNIX_EPOCH)),
            bucket_region: None,
        };
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(vec![bucket]),
            ..Default::default()
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        user_of(&req.extensions)?;
        check_bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        user_of(&req.extensions)?;
        check_bucket(&req.input.bucket)?;
        // us-east-1 is the empty constraint, as on AWS.
        let region = &self.app.config.s3.region;
        let location_constraint = (region != "us-east-1")
            .then(|| s3s::dto::BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let v2 = self.list_objects_v2(req.map_input(Into::into)).await?;
        Ok(v2.map_output(|v2| ListObjectsOutput {
            next_marker: v2.next_continuation_token,
            contents: v2.contents,
            common_prefixes: v2.common_prefixes,
            delimiter: v2.delimiter,
            encoding_type: v2.encoding_type,
            name: v2.name,
            prefix: v2.prefix,
            max_keys: v2.max_keys,
            is_truncated: v2.is_truncated,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let user = user_of(&req.extensions)?;
        let input = req.input;
        check_bucket(&input.bucket)?;
        let prefix = input.prefix.as_deref().unwrap_or("");
        let keys = self.keys(user, prefix).await?;
        let after = match (
            input.continuation_token.as_deref(),
            input.start_after.as_deref(),
        ) {
            (Some(token), Some(start)) => Some(token.max(start)),
            (token, start) => token.or(start),
        };
        let max_keys = usize::try_from(input.max_keys.unwrap_or(1000)).unwrap_or(0);
        let query = Query {
            prefix,
            delimiter: input.delimiter.as_deref(),
            after,
            max_keys,
        };
        let page = listing::page(&keys, &query);
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == "url");
        let encode = |key: &str| {
            if url {
                listing::url_encode(key)
            } else {
                key.to_owned()
            }
        };
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(key, entry)| Object {
                key: Some(encode(key)),
                size: Some(entry.byte_size),
                last_modified: Some(timestamp(entry.created_at)),
                e_tag: Some(etag(entry.id)),
                ..Default::default()
            })
            .collect();
        let prefixes: Vec<s3s::dto::CommonPrefix> = page
            .prefixes
            .iter()
            .map(|p| s3s::dto::CommonPrefix {
                prefix: Some(encode(p)),
            })
            .collect();
        let count = contents.len() + prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some(count as i32),
            max_keys: input.max_keys.or(Some(1000)),
            is_truncated: Some(page.truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            next_continuation_token: page.truncated.then_some(page.last).flatten(),
            continuation_token: input.continuation_token,
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let user = user_of(&req.extensions)?;
        check_bucket(&req.input.bucket)?;
        let entry = objects::find(&self.app, user, &req.input.key).await?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(entry.byte_size),
            content_type: content_type(&entry),
            last_modified: Some(timestamp(entry.created_at)),
            e_tag: Some(etag(entry.id)),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let user = user_of(&req.extensions)?;
        let input = req.input;
        check_bucket(&input.bucket)?;
        let entry = objects::find(&self.app, user, &input.key).await?;
        let total = u64::try_from(entry.byte_size).unwrap_or(0);
        let range = input
            .range
            .map(|r| r.check(total))
            .transpose()
            .map_err(|_| s3_error!(InvalidRange))?;
        let kind = crate::images::model::ImageType::from_extension(entry.extension);
        let key = keys::image(user.owner, entry.id, kind);
        let got = self
            .app
            .storage
            .get(&key, range.clone())
            .await
            .map_err(from_storage)?;
        let length = range.as_ref().map_or(total, |r| r.end - r.start);
        let content_range = range
            .as_ref()
            .map(|r| format!("bytes {}-{}/{total}", r.start, r.end.saturating_sub(1)));
        let stream = sync_wrapper::SyncStream::new(got.into_stream());
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(length as i64),
            content_range,
            content_type: content_type(&entry),
            last_modified: Some(timestamp(entry.created_at)),
            e_tag: Some(etag(entry.id)),
            accept_ranges: Some("bytes".to_owned()),
            ..Default::default()
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let user = user_of(&req.extensions)?;
        let input = req.input;
        check_bucket(&input.bucket)?;
        let entry = self
            .put(user, &input.key, input.body, input.content_length)
            .await?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(entry.id)),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let user = user_of(&req.extensions)?;
        check_bucket(&req.input.bucket)?;
        // S3 answers a delete of a missing key with success, too.
        if let Ok(entry) = objects::find(&self.app, user, &req.input.key).await {
            ops::delete(&self.app, &caller(user), &[entry.id])
                .await
                .map_err(from_api)?;
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let user = user_of(&req.extensions)?;
        let input = req.input;
        check_bucket(&input.bucket)?;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "at most 1000 keys per request"));
        }
        let mut ids: Vec<Uuid> = Vec::new();
        let mut deleted = Vec::new();
        for object in input.delete.objects {
            if let Ok(entry) = objects::find(&self.app, user, &object.key).await {
                ids.push(entry.id);
            }
            deleted.push(DeletedObject {
                key: Some(object.key),
                ..Default::default()
            });
        }
        ops::delete(&self.app, &caller(user), &ids)
            .await
            .map_err(from_api)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet).then_some(deleted),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let user = user_of(&req.extensions)?;
        let input = req.input;
        check_bucket(&input.bucket)?;
        let CopySource::Bucket { bucket, key, .. } = &input.copy_source else {
            return Err(s3_error!(
                NotImplemented,
                "copies are within the `images` bucket"
            ));
        };
        check_bucket(bucket)?;
        let source = objects::find(&self.app, user, key).await?;
        let entry = objects::copy(&self.app, user, source.id, &input.key).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(entry.id)),
                last_modified: Some(timestamp(entry.created_at)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<s3s::dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<s3s::dto::CreateMultipartUploadOutput>> {
        let user = user_of(&req.extensions)?;
        super::multipart::create(&self.app, user, req.input).await
    }

    async fn upload_part(
        &self,
        req: S3Request<s3s::dto::UploadPartInput>,
    ) -> S3Result<S3Response<s3s::dto::UploadPartOutput>> {
        let user = user_of(&req.extensions)?;
        super::multipart::upload_part(&self.app, user, req.input).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<s3s::dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<s3s::dto::CompleteMultipartUploadOutput>> {
        let user = user_of(&req.extensions)?;
        super::multipart::complete(&self.app, user, req.input).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<s3s::dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<s3s::dto::AbortMultipartUploadOutput>> {
        let user = user_of(&req.extensions)?;
        super::multipart::abort(&self.app, user, req.input).await
    }
}
