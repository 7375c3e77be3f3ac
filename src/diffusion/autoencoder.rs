//! A VAE as one unit: the decoder and, where the weights have one, the encoder. A pipeline builds
//! its own from its weights; an admin-installed VAE (a diffusers VAE folder, or one safetensors
//! file in diffusers' or the original LDM naming) is loaded here and replaces a pipeline's for a
//! job that names it.

use std::path::Path;

use anyhow::Context;
use tch::{Device, Kind, Tensor};

use super::ldm;
use super::vae::VaeDecoder;
use super::vae_encoder::VaeEncoder;
use super::weights::Weights;

/// A loaded VAE.
pub struct Autoencoder {
    decoder: VaeDecoder,
    encoder: Option<VaeEncoder>,
    bytes: i64,
    kind: Kind,
}

impl Autoencoder {
    /// Builds it from weights in diffusers' naming (`decoder.*`, `encoder.*`, `*quant_conv.*`).
    pub fn from_weights(vae: &Weights) -> anyhow::Result<Self> {
        Ok(Self {
            decoder: VaeDecoder::new(vae).context("VAE")?,
            encoder: VaeEncoder::present(vae)
                .then(|| VaeEncoder::new(vae))
                .transpose()
                .context("VAE encoder")?,
            bytes: vae.bytes(),
            kind: vae.kind().unwrap_or(Kind::Float),
        })
    }

    /// Loads a standalone VAE: a folder holding its weights (diffusers), or one file whose
    /// names are diffusers' (`decoder.up_blocks.*`) or LDM's (`decoder.up.*`, with or without
    /// the `first_stage_model.` prefix of a full checkpoint).
    pub fn load(path: &Path, device: Device, kind: Kind) -> anyhow::Result<Self> {
        let file = if path.is_dir() {
            super::pipeline::weights_in(path)?
        } else {
            path.to_path_buf()
        };
        let header = crate::models::safetensors::read_header(&file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let diffusers = header.keys().any(|k| k.contains("decoder.up_blocks."));
        let weights = if diffusers {
            Weights::load(&file, |n| Some(n.to_owned()), device, kind)?
        } else {
            let prefixed = |n: &str| {
                if n.starts_with(ldm::VAE) {
                    n.to_owned()
                } else {
                    format!("{}{n}", ldm::VAE)
                }
            };
            let levels = ldm::vae_levels(header.keys().map(|k| prefixed(k)));
            let mut weights =
                Weights::load(&file, |n| ldm::vae_name(&prefixed(n), levels), device, kind)?;
            weights.squeeze_convolutions(ldm::is_vae_attention_projection);
            weights
        };
        Self::from_weights(&weights)
            .with_context(|| format!("{} is not a usable VAE", path.display()))
    }

    /// Bytes of weights held.
    pub fn bytes(&self) -> i64 {
        self.bytes
    }

    /// Pixels in [-1, 1] of unscaled latents (of any dtype; they are converted to the VAE's).
    pub fn decode(&self, latents: &Tensor) -> Tensor {
        self.decoder.decode(&latents.to_kind(self.kind))
    }

    /// The dtype of its weights.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The encoder, if these weights have one.
    pub fn encoder(&self) -> Option<&VaeEncoder> {
        self.encoder.as_ref()
    }
}
