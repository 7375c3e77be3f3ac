//! What a generation job may ask for, in one place for both sides: the queue validates requests
//! against these, the engine (`diffusion`) runs what they allow, and the model catalogue checks
//! a model's defaults with them. Neither side defines its own copy.

/// Samplers the engine implements (`diffusion::schedule::Sampler::parse` reads each).
pub const SAMPLERS: [&str; 4] = ["ddim", "euler", "euler_a", "dpmpp_2m_karras"];

/// The most text-encoder layers `clip_skip` may leave out, plus one.
pub const MAX_CLIP_SKIP: u32 = 4;

/// The longest prompt (and negative prompt), in characters.
pub const MAX_PROMPT_CHARS: usize = 4000;

/// The most chunks of 75 tokens a prompt is encoded in (600 tokens); the rest is cut.
pub const MAX_PROMPT_CHUNKS: usize = 8;

/// The widest mask blur, in pixels.
pub const MAX_MASK_BLUR: u32 = 64;

/// The most LoRAs one job may use.
pub const MAX_LORAS: usize = 8;
