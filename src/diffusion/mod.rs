//! The diffusion engine on tch (libtorch 2.11). Built so far: the device check, the CLIP
//! tokenizer, weight loading with name adapters, the CLIP text encoder, the UNet, the VAE decoder,
//! the noise schedules and sampler plans, and the samplers' tensor updates. Not built yet: the VAE
//! encoder, the UNet/VAE key adapters for single-file checkpoints, the pipeline (guidance,
//! batches, PNGs) and the engine thread behind `worker::engine::Engine`.

pub mod clip;
pub mod device;
pub mod engine;
#[cfg(test)]
mod golden;
mod layers;
pub mod pipeline;
pub mod sampler;
pub mod schedule;
pub mod tiny;
pub mod tokenizer;
pub mod unet;
pub mod vae;
pub mod weights;
