//! Catalogue entries as the API shows them, and the values that make them up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::ApiError;
use crate::job_limits::{MAX_CLIP_SKIP, SAMPLERS};

/// The model family, which decides what it can be combined with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Base {
    /// Stable Diffusion 1.x (CLIP ViT-L, 768-wide cross-attention).
    #[serde(rename = "sd-1")]
    Sd1,
    /// Stable Diffusion 2.x (OpenCLIP ViT-H, 1024-wide).
    #[serde(rename = "sd-2")]
    Sd2,
    /// SDXL (2048-wide).
    #[serde(rename = "sdxl")]
    Sdxl,
    /// Fits several families (VAEs).
    #[serde(rename = "any")]
    Any,
}

/// What the model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    /// A full pipeline checkpoint (UNet, text encoder, VAE).
    Main,
    /// A VAE alone.
    Vae,
    /// A LoRA adapter, applied to a main model of its family.
    Lora,
}

/// How its weights are laid out on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A diffusers folder (`model_index.json`, `unet/`, `vae/`, …).
    Diffusers,
    /// One `.safetensors` file with the original LDM key names.
    SingleFile,
}

macro_rules! db_text {
    ($ty:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            /// Parses the stored text.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}
db_text!(Base { Sd1 => "sd-1", Sd2 => "sd-2", Sdxl => "sdxl", Any => "any" });
db_text!(ModelType { Main => "main", Vae => "vae", Lora => "lora" });
db_text!(Format { Diffusers => "diffusers", SingleFile => "single_file" });

/// Default generation settings for a model; absent fields use the server's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelDefaults {
    /// Denoising steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    /// Guidance scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cfg_scale: Option<f64>,
    /// Sampler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<String>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// CLIP skip (SD 1.x and 2.x: 1 to 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_skip: Option<u32>,
}

impl ModelDefaults {
    /// Checks each present field against the same limits as a generation.
    pub fn validate(&self) -> Result<(), ApiError> {
        let bad = |msg: &str| Err(ApiError::validation(format!("defaults: {msg}")));
        if self.steps.is_some_and(|s| !(1..=150).contains(&s)) {
            return bad("steps must be between 1 and 150");
        }
        if self
            .cfg_scale
            .is_some_and(|c| !c.is_finite() || !(0.0..=30.0).contains(&c))
        {
            return bad("cfg_scale must be between 0 and 30");
        }
        if self
            .sampler
            .as_deref()
            .is_some_and(|s| !SAMPLERS.contains(&s))
        {
            return bad("sampler is not one of the engine's samplers");
        }
        if self
            .clip_skip
            .is_some_and(|s| !(1..=MAX_CLIP_SKIP).contains(&s))
        {
            return bad("clip_skip must be between 1 and 4");
        }
        for size in [self.width, self.height].into_iter().flatten() {
            if size % 8 != 0 || !(64..=2048).contains(&size) {
                return bad("width and height must be multiples of 8 between 64 and 2048");
            }
        }
        Ok(())
    }
}

/// Validates a model name: 1-100 characters, no control characters, trimmed.
pub fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name must have 1 to 100 characters and no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// A catalogue entry. `source` and `location` are shown to admins only (users' column grant
/// does not include them).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ModelView {
    /// The model id.
    pub id: Uuid,
    /// Its unique name, used in generation parameters.
    pub name: String,
    /// `sd-1`, `sd-2`, `sdxl` or `any`.
    pub base: Base,
    /// `main` or `vae`.
    #[serde(rename = "type")]
    pub kind: ModelType,
    /// `diffusers` or `single_file`.
    pub format: Format,
    /// Bytes on disk.
    pub size_bytes: i64,
    /// BLAKE3 of the content (hex).
    pub hash: String,
    /// Default generation settings.
    pub defaults: ModelDefaults,
    /// Free text.
    pub description: String,
    /// Where it came from (admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where it is stored (admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Installed.
    pub created_at: DateTime<Utc>,
    /// Last edited.
    pub updated_at: DateTime<Utc>,
}

impl ModelView {
    /// Reads a row; `source` and `location` only where the query selected them.
    pub fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        let text = |column: &str| -> Result<String, tokio_postgres::Error> { row.try_get(column) };
        let defaults: serde_json::Value = row.try_get("defaults")?;
        Ok(Self {
            id: row.try_get("id")?,
            name: text("name")?,
            base: Base::parse(&text("base")?).unwrap_or(Base::Any),
            kind: ModelType::parse(&text("type")?).unwrap_or(ModelType::Main),
            format: Format::parse(&text("format")?).unwrap_or(Format::SingleFile),
            size_bytes: row.try_get("size_bytes")?,
            hash: text("hash")?,
            defaults: serde_json::from_value(defaults).unwrap_or_default(),
            description: text("description")?,
            source: row.try_get("source").ok(),
            location: row.try_get("location").ok(),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// An install job as admins see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InstallView {
    /// The job id.
    pub id: Uuid,
    /// The path or URL.
    pub source: String,
    /// `pending`, `running`, `completed` or `failed`.
    pub status: String,
    /// Bytes read so far.
    pub bytes_done: i64,
    /// Bytes in all, when known.
    pub bytes_total: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The stable code of the failure (see `docs/errors.md`).
    pub error_code: Option<String>,
    /// The model it installed.
    pub model_id: Option<Uuid>,
    /// Started.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&Row> for InstallView {
    type Error = tokio_postgres::Error;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            source: row.try_get("source")?,
            status: row.try_get("status")?,
            bytes_done: row.try_get("bytes_done")?,
            bytes_total: row.try_get("bytes_total")?,
            error: row.try_get("error")?,
            error_code: row.try_get("error_code")?,
            model_id: row.try_get("model_id")?,
            created_at: row.try_get("created_at")?,
        })
    }
}
