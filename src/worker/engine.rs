//! The contract between a worker and a diffusion engine. The engine is blocking (it owns the
//! GPU work) and calls back at every denoising-step boundary, where the worker reports progress
//! and decides whether to go on, suspend (preemption) or stop (cancellation).

use std::any::Any;

use uuid::Uuid;

use crate::queue::model::GenerationParams;

/// One job as the engine sees it.
#[derive(Clone, Debug)]
pub struct EngineJob {
    /// The queue item id.
    pub id: Uuid,
    /// What to generate (validated).
    pub params: GenerationParams,
    /// Where the catalogue says the model is (None: not installed).
    pub model_location: Option<String>,
    /// Where the catalogue says the job's VAE is, when it names one (None there: not
    /// installed).
    pub vae_location: Option<Option<String>>,
    /// Where the catalogue says each of the job's LoRAs is (None: not installed), with its
    /// strength, in the order of `params.loras`.
    pub lora_locations: Vec<(Option<String>, f64)>,
    /// Image to image: the owner's init image, already `params.width` x `params.height`.
    pub init_image: Option<RgbImage>,
    /// Inpainting: the owner's mask for the init image, the same size (white: repaint).
    pub mask: Option<GrayImage>,
}

/// A grayscale image, row-major, 1 byte per pixel (an inpainting mask: white repaints).
#[derive(Clone, Debug)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes.
    pub luma: Vec<u8>,
}

/// A small RGB preview of the current latents.
pub type Preview = RgbImage;

/// An RGB8 image, row-major, 3 bytes per pixel.
#[derive(Clone, Debug)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

/// What the worker wants after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Run the next step.
    Continue,
    /// Stop here and return `Outcome::Suspended` with everything needed to resume.
    Suspend,
    /// Stop here and return `Outcome::Canceled`.
    Cancel,
}

/// The worker's side of the step callback.
pub trait Steps {
    /// Called after each denoising step: `done` of `total` steps, with an optional preview.
    fn after_step(&mut self, done: u32, total: u32, preview: Option<Preview>) -> Control;
}

/// An engine's state for a suspended job: what the engine keeps in memory (latents, sampler
/// state, step index; opaque to the worker), and a checkpoint of the same state as bytes, which
/// any worker's engine can resume from (None where the engine cannot write one).
pub struct Suspended {
    /// The in-memory state, for this engine only.
    pub held: Box<dyn Any + Send>,
    /// The same state, serialised for another engine of the same kind.
    pub checkpoint: Option<Vec<u8>>,
}

impl std::fmt::Debug for Suspended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Suspended(..)")
    }
}

/// Where a resumed run comes from.
pub enum Resume {
    /// This engine's own in-memory state.
    Held(Box<dyn Any + Send>),
    /// A checkpoint, written by this engine or by another worker's.
    Checkpoint(Vec<u8>),
}

impl std::fmt::Debug for Resume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Held(_) => f.write_str("Held(..)"),
            Self::Checkpoint(bytes) => write!(f, "Checkpoint({} bytes)", bytes.len()),
        }
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The images, as PNG files carrying their parameters in text chunks.
    Finished(Vec<Vec<u8>>),
    /// Stopped at a step boundary on request; resume with this state.
    Suspended(Suspended),
    /// Stopped at a step boundary on request.
    Canceled,
}

/// A generation failure.
#[derive(Clone, Debug)]
pub struct EngineError {
    /// What went wrong, for the job's owner.
    pub message: String,
    /// Whether another attempt may succeed (out of memory, a lost device).
    pub retryable: bool,
}

/// What an engine holds in memory, as its worker reports it to admins.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EngineMemory {
    /// The device (`cpu`, `cuda:0`, or the name of a test engine).
    pub device: String,
    /// The configured budget for loaded weights, in bytes (0: none).
    pub budget_bytes: i64,
    /// The loaded models, least recently used first.
    pub models: Vec<LoadedModel>,
}

/// One loaded model.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LoadedModel {
    /// Where it was loaded from (the catalogue's `location`).
    pub location: String,
    /// Bytes of weights it holds on the device.
    pub bytes: i64,
}

/// A diffusion engine. Implementations own their models and tensors; `generate` blocks.
pub trait Engine: Send + Sync + 'static {
    /// Models currently loaded (for model-affinity decisions and reporting).
    fn resident_models(&self) -> Vec<String> {
        self.memory()
            .models
            .into_iter()
            .map(|model| model.location)
            .collect()
    }

    /// The device, the budget and the loaded models with their sizes.
    fn memory(&self) -> EngineMemory {
        EngineMemory::default()
    }

    /// Runs `job` from the start, or from `resume`, calling `steps` after every step. A
    /// checkpoint that does not fit the job is a retryable error (the retry starts over).
    fn generate(
        &self,
        job: &EngineJob,
        resume: Option<Resume>,
        steps: &mut dyn Steps,
    ) -> Result<Outcome, EngineError>;
}

/// The engine for a configured device (`none`: no engine), or why the device cannot be used.
pub fn for_device(
    device: &str,
    budget_bytes: i64,
) -> anyhow::Result<Option<std::sync::Arc<dyn Engine>>> {
    if device == "none" {
        return Ok(None);
    }
    let device = crate::diffusion::device::select(device)?;
    Ok(Some(std::sync::Arc::new(
        crate::diffusion::engine::TchEngine::new(device, budget_bytes),
    )))
}
