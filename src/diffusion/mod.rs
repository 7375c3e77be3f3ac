//! The diffusion engine on tch (libtorch 2.11). Built so far: the CLIP tokenizer and the device
//! check, and the noise schedules and sampler plans; the text encoder, UNet, VAE, the samplers'
//! tensor updates and weight loading are not built yet.

pub mod device;
pub mod schedule;
pub mod tokenizer;
