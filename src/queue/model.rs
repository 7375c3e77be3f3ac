//! Queue items and generation parameters as the API takes and shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::ApiError;

use crate::job_limits::{MAX_CLIP_SKIP, MAX_LORAS, MAX_MASK_BLUR, MAX_PROMPT_CHARS, SAMPLERS};

/// What to generate. Stored as the item's `params`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerationParams {
    /// The model's name in the catalogue.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// What to avoid.
    #[serde(default)]
    pub negative_prompt: String,
    /// Width in pixels, a multiple of 8.
    #[serde(default = "default_size")]
    pub width: u32,
    /// Height in pixels, a multiple of 8.
    #[serde(default = "default_size")]
    pub height: u32,
    /// Denoising steps.
    #[serde(default = "default_steps")]
    pub steps: u32,
    /// Classifier-free guidance scale.
    #[serde(default = "default_cfg")]
    pub cfg_scale: f64,
    /// One of `ddim`, `euler`, `euler_a`, `dpmpp_2m_karras`.
    #[serde(default = "default_sampler")]
    pub sampler: String,
    /// The seed; random when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Images to make.
    #[serde(default = "default_images")]
    pub num_images: u32,
    /// Where results go; absent: Uncategorized.
    #[serde(default)]
    pub board_id: Option<Uuid>,
    /// Image to image: one of the caller's images to start from (resized to width x height).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_image_id: Option<Uuid>,
    /// Image to image: how much to change the init image, from just above 0 (a little) to 1
    /// (everything; default 0.75); the run takes `floor(steps * strength)` steps. Dropped
    /// without an init image, where it means nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength: Option<f64>,
    /// Inpainting: one of the caller's images, resized to width x height, whose white pixels
    /// are repainted and black ones kept from the init image (which it requires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_image_id: Option<Uuid>,
    /// Inpainting: how far, in pixels (0 to 64), the repainted region fades into the kept one
    /// when the result is put together; 0 (the default) uses the mask as painted, which can
    /// leave a seam at a hard brush edge. Dropped without a mask.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mask_blur: u32,
    /// An installed VAE (by name) to use instead of the model's own; it must fit the model's
    /// family. An empty name means the model's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vae: Option<String>,
    /// "CLIP skip" for SD 1.x and 2.x models: 1 (the default) reads the text encoder's last
    /// layer, 2 the one before (what many SD 1.x anime models were trained with), up to 4.
    /// SDXL models take only 1.
    #[serde(default = "default_clip_skip", skip_serializing_if = "is_one")]
    pub clip_skip: u32,
    /// Seamless tiling: the image wraps around left to right, so copies of it tile side by
    /// side without a seam.
    #[serde(default, skip_serializing_if = "is_false")]
    pub seamless_x: bool,
    /// Seamless tiling top to bottom.
    #[serde(default, skip_serializing_if = "is_false")]
    pub seamless_y: bool,
    /// Installed LoRA adapters (at most 8, each once) of the model's family, with strengths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loras: Vec<LoraChoice>,
}

/// One LoRA in a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoraChoice {
    /// The LoRA's name in the catalogue.
    pub name: String,
    /// Its strength, from -4 to 4 (default 1; 0 leaves the model as it is).
    #[serde(default = "default_lora_weight")]
    pub weight: f64,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_one(value: &u32) -> bool {
    *value == 1
}

fn default_clip_skip() -> u32 {
    1
}

fn default_lora_weight() -> f64 {
    1.0
}

fn default_size() -> u32 {
    512
}
fn default_steps() -> u32 {
    30
}
fn default_cfg() -> f64 {
    7.5
}
fn default_sampler() -> String {
    "euler".into()
}
fn default_images() -> u32 {
    1
}
/// The strength of image to image when none is given.
pub const DEFAULT_STRENGTH: f64 = 0.75;

impl GenerationParams {
    /// Checks every field; the message names the first bad one.
    pub fn validate(&mut self) -> Result<(), ApiError> {
        let bad = |msg: String| Err(ApiError::validation(msg));
        if self.model.trim().is_empty() || self.model.len() > 200 {
            return bad("model must name an installed model".into());
        }
        if [&self.prompt, &self.negative_prompt]
            .iter()
            .any(|p| p.chars().count() > MAX_PROMPT_CHARS)
        {
            return bad(format!(
                "prompts must have at most {MAX_PROMPT_CHARS} characters"
            ));
        }
        if self.prompt.contains('\0') || self.negative_prompt.contains('\0') {
            return bad("prompts must not contain NUL characters".into());
        }
        for (name, size) in [("width", self.width), ("height", self.height)] {
            if size % 8 != 0 || !(64..=2048).contains(&size) {
                return bad(format!(
                    "{name} must be a multiple of 8 between 64 and 2048"
                ));
            }
        }
        if !(1..=150).contains(&self.steps) {
            return bad("steps must be between 1 and 150".into());
        }
        if !self.cfg_scale.is_finite() || !(0.0..=30.0).contains(&self.cfg_scale) {
            return bad("cfg_scale must be between 0 and 30".into());
        }
        if !SAMPLERS.contains(&self.sampler.as_str()) {
            return bad(format!("sampler must be one of {}", SAMPLERS.join(", ")));
        }
        if !(1..=8).contains(&self.num_images) {
            return bad("num_images must be between 1 and 8".into());
        }
        if self.mask_image_id.is_some() && self.init_image_id.is_none() {
            return bad(
                "mask_image_id needs an init_image_id: a mask says what to repaint of it".into(),
            );
        }
        if !(1..=MAX_CLIP_SKIP).contains(&self.clip_skip) {
            return bad(format!("clip_skip must be between 1 and {MAX_CLIP_SKIP}"));
        }
        if self.mask_image_id.is_none() {
            self.mask_blur = 0;
        } else if self.mask_blur > MAX_MASK_BLUR {
            return bad(format!(
                "mask_blur must be between 0 and {MAX_MASK_BLUR} pixels"
            ));
        }
        if self.init_image_id.is_none() {
            self.strength = None;
        } else if !(self.strength() > 0.0 && self.strength() <= 1.0) {
            return bad("strength must be above 0 and at most 1".into());
        }
        if self.vae.as_deref().is_some_and(|v| v.trim().is_empty()) {
            self.vae = None;
        }
        if self.vae.as_ref().is_some_and(|v| v.len() > 200) {
            return bad("vae must name an installed VAE".into());
        }
        if self.loras.len() > MAX_LORAS {
            return bad(format!("at most {MAX_LORAS} LoRAs per job"));
        }
        for (i, lora) in self.loras.iter().enumerate() {
            if lora.name.trim().is_empty() || lora.name.len() > 200 {
                return bad("each LoRA must name an installed LoRA".into());
            }
            if !lora.weight.is_finite() || !(-4.0..=4.0).contains(&lora.weight) {
                return bad(format!(
                    "LoRA {:?}: weight must be between -4 and 4",
                    lora.name
                ));
            }
            if self.loras[..i].iter().any(|other| other.name == lora.name) {
                return bad(format!("LoRA {:?} is listed twice", lora.name));
            }
        }
        if self.seed.is_none() {
            self.seed = Some(rand::random::<u32>().into());
        }
        Ok(())
    }

    /// Image to image's strength (the default if none was given).
    pub fn strength(&self) -> f64 {
        self.strength.unwrap_or(DEFAULT_STRENGTH)
    }

    /// Estimated reference GPU-seconds: about 50 ms per step at 512x512 for an SD 1.5-class
    /// model on the reference GPU, scaled by pixels and images, plus a fixed VAE/encode cost.
    /// Image to image runs only its share of the steps.
    pub fn estimated_cost(&self) -> f64 {
        let pixels = f64::from(self.width) * f64::from(self.height) / (512.0 * 512.0);
        let steps = match self.init_image_id {
            Some(_) => (f64::from(self.steps) * self.strength()).floor().max(1.0),
            None => f64::from(self.steps),
        };
        f64::from(self.num_images) * (steps * 0.05 * pixels + 0.3 * pixels)
    }

    /// A conservative estimate of the engine's working memory for this job, in bytes (weights
    /// not included: `worker.model_memory_mib` bounds those). The UNet runs every image twice
    /// (guidance) at once: per sample, 16 live f32 tensors of 320 channels at latent size. The
    /// VAE decodes one image at a time, in tiles above a megapixel: 6 live f32 tensors of 128
    /// channels at (at most a megapixel of) image size.
    pub fn estimated_memory_bytes(&self) -> u64 {
        let latents = u64::from(self.width / 8) * u64::from(self.height / 8);
        let samples = 2 * u64::from(self.num_images);
        let unet = samples * latents * 320 * 4 * 16;
        // Seamless images are decoded whole (tiles cannot wrap around).
        let pixels = u64::from(self.width) * u64::from(self.height);
        let tiled = !(self.seamless_x || self.seamless_y);
        let decoded = if tiled {
            pixels.min(1024 * 1024)
        } else {
            pixels
        };
        let vae = decoded * 128 * 4 * 6;
        unet + vae
    }
}

/// A queue item as listed: other users' parameters, errors and results are redacted by the
/// database (`queue_list`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueItemView {
    /// The item id.
    pub id: Uuid,
    /// The owner (null for other users' items).
    pub owner_id: Option<Uuid>,
    /// The owner's display name.
    pub owner_name: String,
    /// Whether the caller owns it.
    pub is_mine: bool,
    /// `pending`, `in_progress`, `completed`, `failed` or `canceled`.
    pub status: String,
    /// 1-based position among pending items.
    pub position: Option<i64>,
    /// The parameters, or `"<hidden>"`.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The error, when failed (null for other users' items).
    pub error: Option<String>,
    /// Result images (empty for other users' items).
    pub result_image_ids: Vec<Uuid>,
    /// Submitted.
    pub created_at: DateTime<Utc>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// The item's place in queue order: pass the last one's as `after` for the next page.
    pub seq: i64,
}

impl QueueItemView {
    /// The view for `caller`: job errors name server file paths (a model's location, the data
    /// directory), which are admins' business, so others see `<path>` instead.
    pub fn for_caller(mut self, caller_is_admin: bool) -> Self {
        if !caller_is_admin && let Some(error) = &self.error {
            self.error = Some(crate::text::hide_paths(error));
        }
        self
    }
}

impl TryFrom<&Row> for QueueItemView {
    type Error = tokio_postgres::Error;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            owner_name: row.try_get("owner_name")?,
            is_mine: row.try_get("is_mine")?,
            status: row.try_get("status")?,
            position: row.try_get("queue_position")?,
            params: row.try_get("params")?,
            error: row.try_get("error")?,
            result_image_ids: row.try_get("result_image_ids")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            seq: row.try_get("seq")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> GenerationParams {
        serde_json::from_value(serde_json::json!({"model": "sd15", "prompt": "a cat"})).unwrap()
    }

    #[test]
    fn defaults_validate_and_get_a_seed() {
        let mut p = params();
        p.validate().unwrap();
        assert!(p.seed.is_some());
        assert!((p.estimated_cost() - 1.8).abs() < 1e-9);
    }

    #[test]
    fn bad_values_are_named() {
        type Mutation = fn(&mut GenerationParams);
        let cases: [(Mutation, &str); 5] = [
            (|p| p.width = 500, "width"),
            (|p| p.height = 4096, "height"),
            (|p| p.steps = 0, "steps"),
            (|p| p.sampler = "magic".into(), "sampler"),
            (|p| p.num_images = 9, "num_images"),
        ];
        for (mutate, field) in cases {
            let mut p = params();
            mutate(&mut p);
            assert!(
                p.validate().unwrap_err().message().contains(field),
                "{field}"
            );
        }
    }
}
