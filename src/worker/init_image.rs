//! Image to image and inpainting: the worker reads the job's init image and mask as the job's
//! owner (so RLS applies), from the object store, and resizes them to the requested size.

use image::imageops::FilterType;
use uuid::Uuid;

use super::engine::{GrayImage, RgbImage};
use crate::app::App;
use crate::db::{Caller, begin_as};
use crate::images::{keys, repo};

/// The owner's image `id` as RGB8 at `width` x `height`, or why it cannot be had. Errors are
/// messages for the job's owner; none of them is worth a retry.
pub(super) async fn load(
    app: &App,
    owner: Uuid,
    id: Uuid,
    width: u32,
    height: u32,
) -> Result<RgbImage, String> {
    let image = read(app, owner, id, width, height, "init image").await?;
    Ok(RgbImage {
        width,
        height,
        rgb: image.into_rgb8().into_raw(),
    })
}

/// The owner's mask image `id` as luma at `width` x `height` (white: repaint).
pub(super) async fn load_mask(
    app: &App,
    owner: Uuid,
    id: Uuid,
    width: u32,
    height: u32,
) -> Result<GrayImage, String> {
    let image = read(app, owner, id, width, height, "mask").await?;
    Ok(GrayImage {
        width,
        height,
        luma: image.into_luma8().into_raw(),
    })
}

async fn read(
    app: &App,
    owner: Uuid,
    id: Uuid,
    width: u32,
    height: u32,
    what: &'static str,
) -> Result<image::DynamicImage, String> {
    let gone = || format!("the {what} {id} no longer exists");
    let record = {
        let mut client = app.db.get().await.map_err(|e| e.to_string())?;
        let tx = begin_as(&mut client, &Caller::user(owner))
            .await
            .map_err(|e| e.to_string())?;
        let found = repo::find(&tx, id, false)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        found.ok_or_else(gone)?
    };
    let key = keys::image(record.owner_id, record.id, record.image_type());
    let bytes = match app.storage.get(&key, None).await {
        Ok(object) => object.bytes().await.map_err(|e| e.to_string())?,
        Err(object_store::Error::NotFound { .. }) => return Err(gone()),
        Err(error) => return Err(format!("reading the {what} failed: {error}")),
    };
    tokio::task::spawn_blocking(move || {
        let decoded = image::load_from_memory(&bytes)
            .map_err(|e| format!("the {what} cannot be decoded: {e}"))?;
        Ok(decoded.resize_exact(width, height, FilterType::Triangle))
    })
    .await
    .map_err(|e| format!("decoding the {what} failed: {e}"))?
}
