//! What the UNet is conditioned on: a family's text encoders (one for SD 1.x and 2.x, two for
//! SDXL), each prompt's weighted chunks (`diffusion::prompt`) encoded and concatenated, SDXL's
//! pooled embedding and size numbers, and both prompts batched for classifier-free guidance,
//! the unconditional first.

use tch::{Device, Kind, Tensor};

use super::clip::ClipTextEncoder;
use super::prompt;
use super::tokenizer::{self, EOT};
use crate::queue::model::GenerationParams;

/// The text encoders of a family.
pub(super) enum TextEncoders {
    /// SD 1.x and 2.x: one encoder, read after its final norm.
    One(ClipTextEncoder),
    /// SDXL: CLIP ViT-L and OpenCLIP ViT-bigG (with its projection), both read at their
    /// penultimate layer.
    Two(ClipTextEncoder, Box<ClipTextEncoder>),
}

/// A run's conditioning, `[2 * images, …]`, unconditional first.
pub(super) struct Conditioning {
    /// The cross-attention context, `[2 * images, 77 * chunks, width]`.
    pub context: Tensor,
    /// SDXL's pooled embeddings and size numbers.
    pub added: Option<(Tensor, Tensor)>,
    /// Whether the prompt was cut to `prompt::MAX_CHUNKS` chunks.
    pub truncated: bool,
}

impl TextEncoders {
    /// Whether these are SDXL's.
    pub(super) fn is_xl(&self) -> bool {
        matches!(self, TextEncoders::Two(..))
    }

    /// Checks that `clip_skip` fits: SDXL reads fixed layers, so only 1; otherwise it must
    /// leave at least one layer.
    pub(super) fn check_clip_skip(&self, clip_skip: u32) -> anyhow::Result<()> {
        match self {
            TextEncoders::Two(..) => anyhow::ensure!(
                clip_skip == 1,
                "clip_skip applies to SD 1.x and 2.x models; SDXL reads fixed layers"
            ),
            TextEncoders::One(clip) => anyhow::ensure!(
                i64::from(clip_skip) <= clip.config().layers,
                "clip_skip {clip_skip} leaves none of the text encoder's {} layers",
                clip.config().layers
            ),
        }
        Ok(())
    }

    /// The conditioning of one prompt: the context `[1, 77 * chunks, width]`, SDXL's pooled
    /// embedding `[1, p]` (of the first chunk), and whether the prompt was cut. SDXL's second
    /// tokenizer pads with id 0 ("!").
    fn encode(&self, prompt: &str, skip: usize, device: Device) -> (Tensor, Option<Tensor>, bool) {
        let chunks = prompt::chunks(tokenizer::shared(), prompt);
        let mut contexts = Vec::new();
        let mut pooled = None;
        for chunk in &chunks.chunks {
            let ids = |pad| {
                Tensor::from_slice(&chunk.padded(pad))
                    .unsqueeze(0)
                    .to_device(device)
            };
            let context = match self {
                TextEncoders::One(clip) => clip.forward_skipping(&ids(EOT), skip),
                TextEncoders::Two(first, second) => {
                    let (context, _) = first.forward_penultimate(&ids(EOT));
                    let (context2, chunk_pooled) = second.forward_penultimate(&ids(0));
                    pooled = pooled.or(Some(chunk_pooled));
                    Tensor::cat(&[context, context2], -1)
                }
            };
            contexts.push(weighted(context, chunk.weights()));
        }
        (Tensor::cat(&contexts, 1), pooled, chunks.truncated)
    }

    /// The conditioning of both prompts for `params.num_images` images. SDXL's empty negative
    /// prompt is zeros, as in diffusers (`force_zeros_for_empty_prompt`); the shorter prompt is
    /// padded with chunks of the empty prompt, so that guidance can batch both.
    pub(super) fn conditioning(&self, params: &GenerationParams, device: Device) -> Conditioning {
        let images = i64::from(params.num_images);
        let skip = params.clip_skip as usize;
        let (mut cond, pooled, truncated) = self.encode(&params.prompt, skip, device);
        let (mut uncond, uncond_pooled) =
            if self.is_xl() && params.negative_prompt.trim().is_empty() {
                (cond.zeros_like(), pooled.as_ref().map(Tensor::zeros_like))
            } else {
                let (uncond, uncond_pooled, _) = self.encode(&params.negative_prompt, skip, device);
                (uncond, uncond_pooled)
            };
        let (tokens, uncond_tokens) = (cond.size()[1], uncond.size()[1]);
        if tokens != uncond_tokens {
            let (empty, _, _) = self.encode("", skip, device);
            let pad = |t: &Tensor, missing: i64| {
                let chunks = missing / empty.size()[1];
                Tensor::cat(&[t.shallow_clone(), empty.repeat([1, chunks, 1])], 1)
            };
            if tokens < uncond_tokens {
                cond = pad(&cond, uncond_tokens - tokens);
            } else {
                uncond = pad(&uncond, tokens - uncond_tokens);
            }
        }
        let both = |u: &Tensor, c: &Tensor| {
            let repeat = |t: &Tensor| {
                let mut times = vec![1; t.dim()];
                times[0] = images;
                t.repeat(times.as_slice())
            };
            Tensor::cat(&[repeat(u), repeat(c)], 0)
        };
        let added = match (uncond_pooled, pooled) {
            (Some(u), Some(c)) => {
                let (h, w) = (f64::from(params.height), f64::from(params.width));
                let numbers = Tensor::from_slice(&[h, w, 0.0, 0.0, h, w])
                    .to_kind(Kind::Float)
                    .to_device(device)
                    .unsqueeze(0)
                    .repeat([2 * images, 1]);
                Some((both(&u, &c), numbers))
            }
            _ => None,
        };
        Conditioning {
            context: both(&uncond, &cond),
            added,
            truncated,
        }
    }
}

/// Hidden states `[1, tokens, width]` scaled token by token by `weights`, then by one factor
/// that brings their mean back to the unweighted mean (A1111's normalisation), so a weight
/// changes a token's share rather than the whole prompt's scale.
fn weighted(context: Tensor, weights: Option<Vec<f64>>) -> Tensor {
    let Some(weights) = weights else {
        return context;
    };
    let original = context.to_kind(Kind::Float);
    let per_token = Tensor::from_slice(&weights)
        .to_kind(Kind::Float)
        .to_device(context.device())
        .view([1, -1, 1]);
    let scaled = &original * per_token;
    let (before, after) = (
        original.mean(Kind::Double).double_value(&[]),
        scaled.mean(Kind::Double).double_value(&[]),
    );
    let restored = if after.abs() > 1e-12 && before.is_finite() {
        scaled * (before / after)
    } else {
        scaled
    };
    restored.to_kind(context.kind())
}
