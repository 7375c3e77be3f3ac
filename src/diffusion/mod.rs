//! The diffusion engine on tch (libtorch 2.11): the CLIP tokenizer and text encoder, the UNet,
//! the VAE decoder and encoder, the samplers, weight loading for diffusers folders and
//! single-file LDM checkpoints, the step-by-step pipeline (text to image and image to image), and
//! `engine::TchEngine`, the implementation of `worker::engine::Engine`, which also swaps in an
//! installed VAE (`autoencoder`) for a job that names one. SD 1.x, SD 2.x (OpenCLIP at its
//! penultimate layer, v-prediction) and SDXL (two text encoders, added conditioning).

#[cfg(test)]
mod adapter_tests;
pub mod autoencoder;
pub mod checkpoint;
pub mod clip;
mod conditioning;
pub mod device;
pub mod engine;
pub mod full_size;
#[cfg(test)]
mod golden;
pub mod inpaint;
mod layers;
pub mod ldm;
pub mod lora;
pub mod open_clip;
pub mod pipeline;
pub mod prompt;
pub mod sampler;
pub mod schedule;
#[cfg(test)]
mod sdxl_tests;
pub mod seamless;
pub mod tiled_decode;
pub mod tiny;
pub mod tokenizer;
pub mod unet;
pub mod vae;
pub mod vae_encoder;
pub mod weights;
