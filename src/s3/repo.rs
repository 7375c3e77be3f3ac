//! SQL for the S3 door, run in the key owner's transaction (`begin_as`), except `lookup`, which
//! runs before a request has an identity (through the SECURITY DEFINER `s3_key_lookup`).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::names::{BoardEntry, ImageEntry};
use crate::db::cached;
use crate::images::model::ImageType;

/// An access key as its owner (or an admin) sees it; never the secret.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// The access key id (`AT` and 18 characters).
    pub access_key_id: String,
    /// The owner.
    pub owner_id: Uuid,
    /// The owner's label.
    pub label: String,
    /// Whether the key may only read.
    pub read_only: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl KeyView {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            access_key_id: row.try_get("access_key_id")?,
            owner_id: row.try_get("owner_id")?,
            label: row.try_get("label")?,
            read_only: row.try_get("read_only")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

const KEY_COLUMNS: &str = "access_key_id, owner_id, label, read_only, created_at";

/// Stores a new key with its sealed secret.
pub async fn insert_key(
    db: &impl GenericClient,
    key: &KeyView,
    sealed: &[u8],
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "insert into s3_keys (access_key_id, owner_id, label, read_only, secret_sealed, created_at)
         values ($1, $2, $3, $4, $5, $6)",
        &[
            &key.access_key_id,
            &key.owner_id,
            &key.label,
            &key.read_only,
            &sealed,
            &key.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// Takes a transaction lock on `owner`'s keys, so that concurrent creations count each other.
pub async fn lock_keys_of(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "select pg_advisory_xact_lock(hashtextextended('s3_keys ' || $1::uuid::text, 0))",
        &[&owner],
    )
    .await?;
    Ok(())
}

/// Visible keys of `owner`, newest first.
pub async fn list_keys(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<Vec<KeyView>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        &format!("select {KEY_COLUMNS} from s3_keys where owner_id = $1 order by created_at desc"),
        &[&owner],
    )
    .await?;
    rows.iter().map(KeyView::from_row).collect()
}

/// Relabels a visible key.
pub async fn relabel_key(
    db: &impl GenericClient,
    access_key_id: &str,
    label: &str,
) -> Result<Option<KeyView>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        &format!("update s3_keys set label = $2 where access_key_id = $1 returning {KEY_COLUMNS}"),
        &[&access_key_id, &label],
    )
    .await?;
    row.as_ref().map(KeyView::from_row).transpose()
}

/// Deletes a visible key; false when there was none.
pub async fn delete_key(
    db: &impl GenericClient,
    access_key_id: &str,
) -> Result<bool, tokio_postgres::Error> {
    let n = cached::execute(
        db,
        "delete from s3_keys where access_key_id = $1",
        &[&access_key_id],
    )
    .await?;
    Ok(n > 0)
}

/// What an access key opens, read before the request has an identity.
pub struct KeyOwner {
    /// Whose key it is.
    pub owner_id: Uuid,
    /// The sealed secret.
    pub secret_sealed: Vec<u8>,
    /// Whether it may only read.
    pub read_only: bool,
}

/// An active user's key, or None.
pub async fn lookup(
    db: &impl GenericClient,
    access_key_id: &str,
) -> Result<Option<KeyOwner>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select owner_id, secret_sealed, read_only from s3_key_lookup($1)",
        &[&access_key_id],
    )
    .await?;
    row.map(|row| {
        Ok(KeyOwner {
            owner_id: row.try_get("owner_id")?,
            secret_sealed: row.try_get("secret_sealed")?,
            read_only: row.try_get("read_only")?,
        })
    })
    .transpose()
}

/// The owner's boards.
pub async fn boards(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<Vec<BoardEntry>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        "select id, name, created_at from boards where owner_id = $1",
        &[&owner],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(BoardEntry {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

const IMAGE_COLUMNS: &str = "id, board_id, file_name, content_type, byte_size, created_at";

fn image_entry(row: &Row) -> Result<ImageEntry, tokio_postgres::Error> {
    let content_type: String = row.try_get("content_type")?;
    let kind = ImageType::from_content_type(&content_type).unwrap_or(ImageType::Png);
    Ok(ImageEntry {
        id: row.try_get("id")?,
        board_id: row.try_get("board_id")?,
        file_name: row.try_get("file_name")?,
        extension: kind.extension(),
        byte_size: row.try_get("byte_size")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The owner's listed images (generated and uploaded; masks are not listed), restricted to one
/// board (`Some(None)`: Uncategorized) when the listing's prefix names it.
pub async fn images(
    db: &impl GenericClient,
    owner: Uuid,
    board: Option<Option<Uuid>>,
) -> Result<Vec<ImageEntry>, tokio_postgres::Error> {
    let base =
        format!("select {IMAGE_COLUMNS} from images where owner_id = $1 and category <> 'mask'");
    let rows = match board {
        None => cached::query(db, &base, &[&owner]).await?,
        Some(None) => cached::query(db, &format!("{base} and board_id is null"), &[&owner]).await?,
        Some(Some(board)) => {
            cached::query(db, &format!("{base} and board_id = $2"), &[&owner, &board]).await?
        }
    };
    rows.iter().map(image_entry).collect()
}

/// The oldest of the owner's boards called `name`.
pub async fn board_named(
    db: &impl GenericClient,
    owner: Uuid,
    name: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select id from boards where owner_id = $1 and name = $2 order by created_at, id limit 1",
        &[&owner, &name],
    )
    .await?;
    row.map(|r| r.try_get(0)).transpose()
}

/// The newest of the owner's listed images called `name` in the board called `board` (the
/// oldest board of that name), or in no board when `board` is None: a key's common case in one
/// statement.
pub async fn image_at(
    db: &impl GenericClient,
    owner: Uuid,
    board: Option<&str>,
    name: &str,
) -> Result<Option<ImageEntry>, tokio_postgres::Error> {
    let in_board = match board {
        None => "i.board_id is null",
        Some(_) => {
            "i.board_id = (select b.id from boards b where b.owner_id = $1 and b.name = $3
                           order by b.created_at, b.id limit 1)"
        }
    };
    let sql = format!(
        "select {IMAGE_COLUMNS} from images i where i.owner_id = $1 and i.file_name = $2
         and i.category <> 'mask' and {in_board} order by i.created_at desc, i.id desc limit 1"
    );
    let row = match board {
        None => cached::query_opt(db, &sql, &[&owner, &name]).await?,
        Some(board) => cached::query_opt(db, &sql, &[&owner, &name, &board]).await?,
    };
    row.as_ref().map(image_entry).transpose()
}

/// The owner's listed images in `board` whose file name is `name`, newest first.
pub async fn images_named(
    db: &impl GenericClient,
    owner: Uuid,
    board: Option<Uuid>,
    name: &str,
) -> Result<Vec<ImageEntry>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        &format!(
            "select {IMAGE_COLUMNS} from images where owner_id = $1
             and board_id is not distinct from $2 and file_name = $3 and category <> 'mask'
             order by created_at desc, id desc"
        ),
        &[&owner, &board, &name],
    )
    .await?;
    rows.iter().map(image_entry).collect()
}

/// One of the owner's listed images in `board`, by id.
pub async fn image_in(
    db: &impl GenericClient,
    owner: Uuid,
    board: Option<Uuid>,
    id: Uuid,
) -> Result<Option<ImageEntry>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        &format!(
            "select {IMAGE_COLUMNS} from images where id = $3 and owner_id = $1
             and board_id is not distinct from $2 and category <> 'mask'"
        ),
        &[&owner, &board, &id],
    )
    .await?;
    row.as_ref().map(image_entry).transpose()
}

/// Starts a multipart upload of `key`.
pub async fn insert_upload(
    db: &impl GenericClient,
    id: Uuid,
    owner: Uuid,
    key: &str,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "insert into s3_uploads (id, owner_id, object_key) values ($1, $2, $3)",
        &[&id, &owner, &key],
    )
    .await?;
    Ok(())
}

/// The owner's open uploads.
pub async fn count_uploads(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    let row = cached::query_one(
        db,
        "select count(*) from s3_uploads where owner_id = $1",
        &[&owner],
    )
    .await?;
    row.try_get(0)
}

/// The key of the owner's upload `id`, or None.
pub async fn upload_key(
    db: &impl GenericClient,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select object_key from s3_uploads where id = $1 and owner_id = $2",
        &[&id, &owner],
    )
    .await?;
    row.map(|r| r.try_get(0)).transpose()
}

/// Reserves room for part `number` of `upload` (replacing an earlier one of that number) and
/// returns the total then reserved by the upload's parts, this one included. Concurrent
/// reservations of one upload take turns (a transaction lock), so parts sent in parallel cannot
/// together pass the limit; the caller refuses the part when the total is too large.
pub async fn reserve_part(
    db: &impl GenericClient,
    owner: Uuid,
    upload: Uuid,
    number: i32,
    size: i64,
) -> Result<i64, tokio_postgres::Error> {
    cached::execute(
        db,
        "select pg_advisory_xact_lock(hashtextextended('s3_upload ' || $1::uuid::text, 0))",
        &[&upload],
    )
    .await?;
    cached::execute(
        db,
        "insert into s3_upload_parts (upload_id, upload_owner_id, part_number, byte_size, etag)
         values ($1, $2, $3, $4, '')
         on conflict (upload_id, part_number)
         do update set byte_size = excluded.byte_size, etag = ''",
        &[&upload, &owner, &number, &size],
    )
    .await?;
    let row = cached::query_one(
        db,
        "select coalesce(sum(byte_size), 0)::bigint from s3_upload_parts
         where upload_id = $1 and upload_owner_id = $2",
        &[&upload, &owner],
    )
    .await?;
    row.try_get(0)
}

/// Records a staged part's real size and ETag (after its bytes are stored).
pub async fn finish_part(
    db: &impl GenericClient,
    owner: Uuid,
    upload: Uuid,
    number: i32,
    size: i64,
    etag: &str,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(
        db,
        "update s3_upload_parts set byte_size = $4, etag = $5
         where upload_id = $1 and upload_owner_id = $2 and part_number = $3",
        &[&upload, &owner, &number, &size, &etag],
    )
    .await
}

/// Forgets a part whose bytes could not be stored.
pub async fn drop_part(
    db: &impl GenericClient,
    owner: Uuid,
    upload: Uuid,
    number: i32,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "delete from s3_upload_parts where upload_id = $1 and upload_owner_id = $2 and part_number = $3",
        &[&upload, &owner, &number],
    )
    .await?;
    Ok(())
}

/// A staged part.
#[derive(Clone, Debug)]
pub struct Part {
    /// Its number (1 to 10,000).
    pub number: i32,
    /// Its size.
    pub size: i64,
    /// The ETag returned for it.
    pub etag: String,
}

/// The staged parts of an upload, by number.
pub async fn parts(
    db: &impl GenericClient,
    owner: Uuid,
    upload: Uuid,
) -> Result<Vec<Part>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        "select part_number, byte_size, etag from s3_upload_parts
         where upload_id = $1 and upload_owner_id = $2 order by part_number",
        &[&upload, &owner],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Part {
                number: row.try_get(0)?,
                size: row.try_get(1)?,
                etag: row.try_get(2)?,
            })
        })
        .collect()
}

/// Ends an upload (its parts go with it); false when there was none.
pub async fn delete_upload(
    db: &impl GenericClient,
    owner: Uuid,
    upload: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let n = cached::execute(
        db,
        "delete from s3_uploads where id = $1 and owner_id = $2",
        &[&upload, &owner],
    )
    .await?;
    Ok(n > 0)
}

/// Uploads of any owner started before `cutoff` (run as the system admin by the sweeper).
pub async fn stale_uploads(
    db: &impl GenericClient,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(Uuid, Uuid)>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        "select id, owner_id from s3_uploads where created_at < $1 limit 1000",
        &[&cutoff],
    )
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Which of `ids` are open uploads (of any owner, for the sweeper running as the system admin).
pub async fn open_uploads(
    db: &impl GenericClient,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, tokio_postgres::Error> {
    let rows = cached::query(db, "select id from s3_uploads where id = any($1)", &[&ids]).await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}
