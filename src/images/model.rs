//! Image records as the API shows them, and the closed sets of types and categories.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

/// The accepted image formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageType {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

impl ImageType {
    /// The MIME type stored in the record and sent as Content-Type.
    pub const fn content_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Webp => "image/webp",
        }
    }

    /// The type of a stored extension (`extension`'s inverse); PNG for anything else.
    pub fn from_extension(extension: &str) -> Self {
        match extension {
            "jpg" => ImageType::Jpeg,
            "webp" => ImageType::Webp,
            _ => ImageType::Png,
        }
    }

    /// The file extension of the object key.
    pub const fn extension(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpg",
            ImageType::Webp => "webp",
        }
    }

    /// Parses a stored content type.
    pub fn from_content_type(value: &str) -> Option<Self> {
        match value {
            "image/png" => Some(ImageType::Png),
            "image/jpeg" | "image/jpg" => Some(ImageType::Jpeg),
            "image/webp" => Some(ImageType::Webp),
            _ => None,
        }
    }

    /// The type of a sniffed format, if accepted.
    pub fn from_format(format: image::ImageFormat) -> Option<Self> {
        match format {
            image::ImageFormat::Png => Some(ImageType::Png),
            image::ImageFormat::Jpeg => Some(ImageType::Jpeg),
            image::ImageFormat::WebP => Some(ImageType::Webp),
            _ => None,
        }
    }
}

/// `general` for generated images, `user` for uploaded assets (InvokeAI's categories), `mask`
/// for inpainting masks (out of the gallery unless asked for; swept when unused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Generated images.
    General,
    /// Uploaded assets.
    User,
    /// Inpainting masks, uploaded by the mask editor.
    Mask,
}

impl Category {
    /// The stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::General => "general",
            Category::User => "user",
            Category::Mask => "mask",
        }
    }
}

/// An image record.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ImageView {
    /// The image id.
    pub id: Uuid,
    /// The owner.
    pub owner_id: Uuid,
    /// The owner's display name.
    pub owner_name: String,
    /// The board, or null for Uncategorized.
    pub board_id: Option<Uuid>,
    /// `general`, `user` or `mask`.
    pub category: String,
    /// The name it was uploaded under (the browser's or an S3 key's), or null.
    pub file_name: Option<String>,
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// Size of the full image in bytes.
    pub byte_size: i64,
    /// Starred by the owner.
    pub starred: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Generation metadata and PNG text chunks (only on the single-image endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// The full image URL (authorised by the media cookie or a bearer token).
    pub image_url: String,
    /// The thumbnail URL.
    pub thumbnail_url: String,
}

impl ImageView {
    /// Maps a row of `images::repo`'s select list.
    pub fn from_row(row: &Row, with_metadata: bool) -> Result<Self, tokio_postgres::Error> {
        let id: Uuid = row.try_get("id")?;
        Ok(Self {
            id,
            owner_id: row.try_get("owner_id")?,
            owner_name: row.try_get("owner_name")?,
            board_id: row.try_get("board_id")?,
            category: row.try_get("category")?,
            file_name: row.try_get("file_name")?,
            content_type: row.try_get("content_type")?,
            width: row.try_get("width")?,
            height: row.try_get("height")?,
            byte_size: row.try_get("byte_size")?,
            starred: row.try_get("starred")?,
            created_at: row.try_get("created_at")?,
            // A record stored before `ingest` made numbers safe may not read back: no metadata
            // rather than a 500 for the image.
            metadata: if with_metadata {
                row.try_get("metadata").unwrap_or_else(|error| {
                    tracing::warn!(%id, %error, "an image's metadata does not read back");
                    None
                })
            } else {
                None
            },
            image_url: format!("/api/v1/images/{id}/full"),
            thumbnail_url: format!("/api/v1/images/{id}/thumbnail"),
        })
    }

    /// The stored type.
    pub fn image_type(&self) -> ImageType {
        ImageType::from_content_type(&self.content_type)
            .expect("the content_type check constraint holds")
    }
}
