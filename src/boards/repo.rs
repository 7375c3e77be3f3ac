//! SQL for boards, run inside the caller's transaction; row-level security scopes every query.

use deadpool_postgres::GenericClient;

use crate::db::cached;
use uuid::Uuid;

use super::model::{BoardView, UncategorizedView};

const SELECT: &str = "select b.id, b.name, b.owner_id, u.display_name as owner_name, b.created_at,
    (select count(*) from images i where i.owner_id = b.owner_id and i.board_id = b.id and i.category = 'general') as image_count,
    (select count(*) from images i where i.owner_id = b.owner_id and i.board_id = b.id and i.category = 'user') as asset_count,
    (select i.id from images i where i.owner_id = b.owner_id and i.board_id = b.id
      order by i.created_at desc, i.id desc limit 1) as cover_image_id
    from boards b join users u on u.id = b.owner_id";

/// Inserts a board for `owner`.
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    owner: Uuid,
    name: &str,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "insert into boards (id, owner_id, name) values ($1, $2, $3)",
        &[&id, &owner, &name],
    )
    .await?;
    Ok(())
}

/// One visible board.
pub async fn find(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<BoardView>, tokio_postgres::Error> {
    let row = cached::query_opt(db, &format!("{SELECT} where b.id = $1"), &[&id]).await?;
    row.as_ref().map(BoardView::try_from).transpose()
}

/// Whether `board` is visible to the caller.
pub async fn is_visible(
    db: &impl GenericClient,
    board: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let row = cached::query_opt(db, "select 1 from boards where id = $1", &[&board]).await?;
    Ok(row.is_some())
}

/// Whether `board` is visible and belongs to `owner`.
pub async fn is_owned_by(
    db: &impl GenericClient,
    board: Uuid,
    owner: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select 1 from boards where id = $1 and owner_id = $2",
        &[&board, &owner],
    )
    .await?;
    Ok(row.is_some())
}

/// Visible boards, optionally of one owner, by owner name then board name.
pub async fn list(
    db: &impl GenericClient,
    owner: Option<Uuid>,
) -> Result<Vec<BoardView>, tokio_postgres::Error> {
    let rows = match owner {
        Some(owner) => {
            cached::query(
                db,
                &format!("{SELECT} where b.owner_id = $1 order by b.name"),
                &[&owner],
            )
            .await?
        }
        None => {
            cached::query(
                db,
                &format!("{SELECT} order by u.display_name, b.owner_id, b.name"),
                &[],
            )
            .await?
        }
    };
    rows.iter().map(BoardView::try_from).collect()
}

/// The counts and cover of `owner`'s Uncategorized.
pub async fn uncategorized(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<UncategorizedView, tokio_postgres::Error> {
    let row = cached::query_one(db,
            "select
               (select count(*) from images where owner_id = $1 and board_id is null and category = 'general'),
               (select count(*) from images where owner_id = $1 and board_id is null and category = 'user'),
               (select id from images where owner_id = $1 and board_id is null
                 and category <> 'mask' order by created_at desc, id desc limit 1)",
            &[&owner],
        )
        .await?;
    Ok(UncategorizedView {
        owner_id: owner,
        image_count: row.get(0),
        asset_count: row.get(1),
        cover_image_id: row.get(2),
    })
}

/// Renames a visible board; returns whether it existed.
pub async fn rename(
    db: &impl GenericClient,
    id: Uuid,
    name: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(
        db,
        "update boards set name = $2 where id = $1",
        &[&id, &name],
    )
    .await?
        == 1)
}

/// Deletes a visible board; its remaining images fall back to Uncategorized (FK `set null`).
pub async fn delete(db: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(db, "delete from boards where id = $1", &[&id]).await? == 1)
}
