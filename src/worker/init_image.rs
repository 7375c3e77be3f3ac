//! Image to image: the worker reads the job's init image as the job's owner (so RLS applies),
//! from the object store, and resizes it to the requested size.

use image::imageops::FilterType;
use uuid::Uuid;

use super::engine::RgbImage;
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
    let gone = || format!("the init image {id} no longer exists");
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
        Err(error) => return Err(format!("reading the init image failed: {error}")),
    };
    tokio::task::spawn_blocking(move || {
        let decoded = image::load_from_memory(&bytes)
            .map_err(|e| format!("the init image cannot be decoded: {e}"))?;
        let rgb = decoded
            .resize_exact(width, height, FilterType::Triangle)
            .into_rgb8();
        Ok(RgbImage {
            width,
            height,
            rgb: rgb.into_raw(),
        })
    })
    .await
    .map_err(|e| format!("decoding the init image failed: {e}"))?
}
