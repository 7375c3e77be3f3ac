//! The diffusion engine on tch (libtorch 2.11). Built so far: the device check, the CLIP
//! tokenizer, weight loading with name adapters, the CLIP text encoder, the VAE decoder, the noise
//! schedules and sampler plans, and the samplers' tensor updates; the UNet, the VAE encoder, the
//! UNet/VAE key adapters, the pipeline and the engine thread are not built yet.

pub mod clip;
pub mod device;
mod layers;
pub mod sampler;
pub mod schedule;
pub mod tokenizer;
pub mod vae;
pub mod weights;
