//! The diffusion engine on tch (libtorch 2.11). Built so far: the device check, the CLIP
//! tokenizer, the noise schedules and sampler plans, and the samplers' tensor updates; the text
//! encoder, UNet, VAE, weight loading and the engine thread are not built yet.

pub mod device;
pub mod sampler;
pub mod schedule;
pub mod tokenizer;
