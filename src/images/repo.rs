//! SQL for image records. Every function runs in a caller's transaction (`begin_as`): row-level
//! security decides what is visible; the owner filter here only serves listing and index use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};
use deadpool_postgres::GenericClient;

use crate::db::cached;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::model::{Category, ImageType, ImageView};

const SELECT: &str =
    "select i.id, i.owner_id, u.display_name as owner_name, i.board_id, i.category,
    i.content_type, i.width, i.height, i.byte_size, i.starred, i.created_at, i.metadata,
    i.file_name from images i join users u on u.id = i.owner_id";

/// A record to insert (the bytes are already stored).
#[derive(Debug)]
pub struct NewImage {
    /// The image id, also in the object key.
    pub id: Uuid,
    /// The owner.
    pub owner_id: Uuid,
    /// The board, or None for Uncategorized.
    pub board_id: Option<Uuid>,
    /// Generated or uploaded.
    pub category: Category,
    /// The format.
    pub kind: ImageType,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size of the full image.
    pub byte_size: u64,
    /// Generation metadata or PNG text chunks.
    pub metadata: Option<serde_json::Value>,
    /// The name it was uploaded under, if any.
    pub file_name: Option<String>,
}

/// Inserts a record; the same-owner foreign key refuses another user's board.
pub async fn insert(db: &impl GenericClient, new: &NewImage) -> Result<(), tokio_postgres::Error> {
    let (width, height) = (new.width as i32, new.height as i32);
    let byte_size = i64::try_from(new.byte_size).unwrap_or(i64::MAX);
    cached::execute(db,
        "insert into images (id, owner_id, board_id, category, content_type, width, height, byte_size, metadata, file_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[&new.id, &new.owner_id, &new.board_id, &new.category.as_str(), &new.kind.content_type(),
          &width, &height, &byte_size, &new.metadata, &new.file_name],
    )
    .await?;
    Ok(())
}

/// One visible image.
pub async fn find(
    db: &impl GenericClient,
    id: Uuid,
    with_metadata: bool,
) -> Result<Option<ImageView>, tokio_postgres::Error> {
    let row = cached::query_opt(db, &format!("{SELECT} where i.id = $1"), &[&id]).await?;
    row.as_ref()
        .map(|r| ImageView::from_row(r, with_metadata))
        .transpose()
}

/// Which board a listing covers.
#[derive(Clone, Copy, Debug)]
pub enum BoardFilter {
    /// Every board and Uncategorized.
    Any,
    /// Only Uncategorized.
    Uncategorized,
    /// One board.
    Board(Uuid),
}

/// The position after the last item of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    starred: bool,
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    /// The cursor after `image`.
    pub fn after(image: &ImageView) -> Self {
        Self {
            starred: image.starred,
            created_at: image.created_at,
            id: image.id,
        }
    }

    /// An opaque string for the client.
    pub fn encode(&self) -> String {
        let raw = format!(
            "{}.{}.{}",
            u8::from(self.starred),
            self.created_at.timestamp_micros(),
            self.id
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Parses a string from [`Cursor::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let mut parts = raw.split('.');
        let starred = parts.next()? == "1";
        let created_at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
        // PostgreSQL's timestamps end at 4713 BC and 294276 AD; a forged cursor beyond what any
        // row can hold is refused here rather than by the database.
        if !(1..=9999).contains(&created_at.year()) {
            return None;
        }
        let id = parts.next()?.parse().ok()?;
        Some(Self {
            starred,
            created_at,
            id,
        })
    }
}

/// A page request.
#[derive(Debug)]
pub struct ListQuery {
    /// Whose images (None: whatever RLS shows, used with a specific board).
    pub owner: Option<Uuid>,
    /// Which board.
    pub board: BoardFilter,
    /// Generated images, assets or masks; None: generated images and assets.
    pub category: Option<Category>,
    /// Starred images first.
    pub starred_first: bool,
    /// Continue after this item.
    pub after: Option<Cursor>,
    /// Page size.
    pub limit: i64,
}

/// A page of images, newest first (optionally starred first), by keyset.
pub async fn list(
    db: &impl GenericClient,
    query: &ListQuery,
) -> Result<Vec<ImageView>, tokio_postgres::Error> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let category = query.category.map(Category::as_str);
    let board_id;
    if let Some(owner) = &query.owner {
        params.push(owner);
        conditions.push(format!("i.owner_id = ${}", params.len()));
    }
    match query.board {
        BoardFilter::Any => {}
        BoardFilter::Uncategorized => conditions.push("i.board_id is null".into()),
        BoardFilter::Board(id) => {
            board_id = id;
            params.push(&board_id);
            let n = params.len();
            // The board's owner owns its images (a foreign key says so); naming the owner lets
            // the gallery indexes (V19, owner first) serve admins too, whose policy has no owner.
            conditions.push(format!(
                "i.board_id = ${n} and i.owner_id = (select b.owner_id from boards b where b.id = ${n})"
            ));
        }
    }
    match &category {
        Some(category) => {
            params.push(category);
            conditions.push(format!("i.category = ${}", params.len()));
        }
        None => conditions.push("i.category <> 'mask'".into()),
    }
    if let Some(after) = &query.after {
        let n = params.len();
        if query.starred_first {
            params.extend([
                &after.starred as &(dyn ToSql + Sync),
                &after.created_at,
                &after.id,
            ]);
            conditions.push(format!(
                "(i.starred, i.created_at, i.id) < (${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3
            ));
        } else {
            params.extend([&after.created_at as &(dyn ToSql + Sync), &after.id]);
            conditions.push(format!("(i.created_at, i.id) < (${}, ${})", n + 1, n + 2));
        }
    }
    params.push(&query.limit);
    let limit = params.len();
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("where {}", conditions.join(" and "))
    };
    let order = if query.starred_first {
        "i.starred desc, i.created_at desc, i.id desc"
    } else {
        "i.created_at desc, i.id desc"
    };
    let sql = format!("{SELECT} {filter} order by {order} limit ${limit}");
    let rows = cached::query(db, &sql, &params).await?;
    rows.iter().map(|r| ImageView::from_row(r, false)).collect()
}

/// Stars or unstars visible images; returns how many changed.
pub async fn set_starred(
    db: &impl GenericClient,
    ids: &[Uuid],
    starred: bool,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(
        db,
        "update images set starred = $2 where id = any($1)",
        &[&ids, &starred],
    )
    .await
}

/// Moves visible images to `board` (None: Uncategorized); the same-owner FK refuses foreign boards.
pub async fn set_board(
    db: &impl GenericClient,
    ids: &[Uuid],
    board: Option<Uuid>,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(
        db,
        "update images set board_id = $2 where id = any($1)",
        &[&ids, &board],
    )
    .await
}

/// Deletes visible records and returns the object keys' parts of what was deleted.
pub async fn delete(
    db: &impl GenericClient,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, ImageType)>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        "delete from images where id = any($1) returning id, owner_id, content_type",
        &[&ids],
    )
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let kind = ImageType::from_content_type(r.get("content_type"))?;
            Some((r.get("id"), r.get("owner_id"), kind))
        })
        .collect())
}

/// Deletes the records of a board's images, returning what was deleted.
pub async fn delete_in_board(
    db: &impl GenericClient,
    board: Uuid,
) -> Result<Vec<(Uuid, Uuid, ImageType)>, tokio_postgres::Error> {
    let ids: Vec<Uuid> = cached::query(db, "select id from images where board_id = $1", &[&board])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    delete(db, &ids).await
}

/// Bytes used by `owner` and their quota override (None: the configured default).
pub async fn usage(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<Option<(i64, Option<i64>)>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select used_bytes, quota_bytes from users where id = $1",
        &[&owner],
    )
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The (id, owner) of those of `ids` that have records (the sweeper's question; as an admin).
pub async fn existing(
    db: &impl GenericClient,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        "select id, owner_id from images where id = any($1)",
        &[&ids],
    )
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
