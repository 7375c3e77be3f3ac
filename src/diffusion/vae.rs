//! The VAE decoder (latents to pixels), in diffusers' naming: `post_quant_conv`, then
//! `decoder.conv_in`, a middle block (resnet, single-head attention, resnet), up blocks of
//! resnets with nearest-neighbour upsampling, a group norm, SiLU and `conv_out`. Sizes come from
//! the weights' shapes; group norms use 32 groups and eps 1e-6, as in every SD VAE.

use tch::Tensor;

use super::layers::{Affine, Conv, GROUPS, Resnet, upsample};
use super::weights::Weights;

/// Every SD VAE's group-norm epsilon.
pub(super) const EPS: f64 = 1e-6;

/// A group norm of `channels` channels.
pub(super) struct GroupNorm(Affine);

impl GroupNorm {
    pub(super) fn load(weights: &Weights, name: &str, channels: i64) -> anyhow::Result<Self> {
        Affine::load(weights, name, &[channels]).map(Self)
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
        self.0.group_norm(x, GROUPS, EPS)
    }
}

/// The single-head self-attention of the VAE's middle blocks.
pub(super) struct Attention {
    norm: GroupNorm,
    q: Affine,
    k: Affine,
    v: Affine,
    out: Affine,
}

impl Attention {
    pub(super) fn load(weights: &Weights, name: &str, channels: i64) -> anyhow::Result<Self> {
        let linear =
            |part: &str| Affine::load(weights, &format!("{name}.{part}"), &[channels, channels]);
        Ok(Self {
            norm: GroupNorm::load(weights, &format!("{name}.group_norm"), channels)?,
            q: linear("to_q")?,
            k: linear("to_k")?,
            v: linear("to_v")?,
            out: linear("to_out.0")?,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().expect("VAE activations are [b, c, h, w]");
        let tokens = self.norm.forward(x).view([b, c, h * w]).transpose(1, 2);
        let project = |layer: &Affine| layer.linear(&tokens).unsqueeze(1);
        let attended = Tensor::scaled_dot_product_attention(
            &project(&self.q),
            &project(&self.k),
            &project(&self.v),
            None::<Tensor>,
            0.0,
            false,
            None,
            false,
        )
        .squeeze_dim(1);
        let out = self.out.linear(&attended);
        out.transpose(1, 2).reshape([b, c, h, w]) + x
    }
}

/// One level of the decoder or encoder: resnets, then a resampler (up or down) except at the end.
pub(super) struct Level {
    pub(super) resnets: Vec<Resnet>,
    pub(super) resample: Option<Conv>,
}

/// The levels `{prefix}.{i}` (resnets and `{resampler}.0.conv`) while they exist, starting from
/// `channels` input channels, which ends as the last level's output width.
pub(super) fn load_levels(
    weights: &Weights,
    prefix: &str,
    resampler: &str,
    stride: i64,
    channels: &mut i64,
) -> anyhow::Result<Vec<Level>> {
    let mut levels = Vec::new();
    for i in 0.. {
        let level = format!("{prefix}.{i}");
        let mut resnets = Vec::new();
        for j in 0.. {
            let name = format!("{level}.resnets.{j}");
            if weights.shape(&format!("{name}.conv1.weight")).is_none() {
                break;
            }
            let resnet = Resnet::load(weights, &name, *channels, None, EPS)?;
            *channels = resnet.out_channels();
            resnets.push(resnet);
        }
        if resnets.is_empty() {
            break;
        }
        let conv = format!("{level}.{resampler}.0.conv");
        let resample = weights
            .shape(&format!("{conv}.weight"))
            .map(|_| Conv::load(weights, &conv, stride))
            .transpose()?;
        levels.push(Level { resnets, resample });
    }
    anyhow::ensure!(!levels.is_empty(), "the VAE has no {prefix}");
    Ok(levels)
}

/// A loaded VAE decoder.
pub struct VaeDecoder {
    post_quant: Conv,
    conv_in: Conv,
    mid: (Resnet, Attention, Resnet),
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv,
}

impl VaeDecoder {
    /// Builds the decoder from `post_quant_conv.*` and `decoder.*` weights.
    pub fn new(weights: &Weights) -> anyhow::Result<Self> {
        let conv_in = Conv::load(weights, "decoder.conv_in", 1)?;
        let width = conv_in.out_channels();
        let mid = (
            Resnet::load(weights, "decoder.mid_block.resnets.0", width, None, EPS)?,
            Attention::load(weights, "decoder.mid_block.attentions.0", width)?,
            Resnet::load(weights, "decoder.mid_block.resnets.1", width, None, EPS)?,
        );
        let mut channels = width;
        let up = load_levels(weights, "decoder.up_blocks", "upsamplers", 1, &mut channels)?;
        Ok(Self {
            post_quant: Conv::load(weights, "post_quant_conv", 1)?,
            conv_in,
            mid,
            up,
            norm_out: GroupNorm::load(weights, "decoder.conv_norm_out", channels)?,
            conv_out: Conv::load(weights, "decoder.conv_out", 1)?,
        })
    }

    /// Pixels `[b, 3, 8h, 8w]` in about [-1, 1] from (unscaled) latents `[b, 4, h, w]`.
    pub fn decode(&self, latents: &Tensor) -> Tensor {
        let x = self.conv_in.forward(&self.post_quant.forward(latents));
        let x = self.mid.1.forward(&self.mid.0.forward(&x, None));
        let mut x = self.mid.2.forward(&x, None);
        for block in &self.up {
            for resnet in &block.resnets {
                x = resnet.forward(&x, None);
            }
            if let Some(conv) = &block.resample {
                x = conv.forward(&upsample(&x));
            }
        }
        self.conv_out.forward(&self.norm_out.forward(&x).silu())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tch::Kind;

    use super::*;
    use crate::diffusion::golden::{assert_close, formula_input, formula_weights};

    #[derive(serde::Deserialize)]
    struct Golden {
        names: BTreeMap<String, Vec<i64>>,
        latent_shape: Vec<i64>,
        image_shape: Vec<i64>,
        image_row0: Vec<Vec<f64>>,
        image_sum: f64,
        image_abs_sum: f64,
    }

    #[test]
    fn the_decoder_matches_the_reference_on_formula_weights() {
        let golden: Golden =
            serde_json::from_str(include_str!("../../tests/data/vae_golden.json")).unwrap();
        let decoder = VaeDecoder::new(&formula_weights(&golden.names, 0.05, true)).unwrap();
        let latents = formula_input(&golden.latent_shape, 0.5, 0.11, Tensor::sin);
        let image = decoder.decode(&latents).get(0).to_kind(Kind::Double);
        assert_eq!(image.size(), golden.image_shape);
        let close = |a: f64, b: f64, what: &str| assert_close(a, b, 1e-3, what);
        close(
            image.sum(Kind::Double).double_value(&[]),
            golden.image_sum,
            "sum",
        );
        close(
            image.abs().sum(Kind::Double).double_value(&[]),
            golden.image_abs_sum,
            "abs sum",
        );
        for (channel, row) in golden.image_row0.iter().enumerate() {
            let ours = Vec::<f64>::try_from(image.get(channel as i64).get(0)).unwrap();
            for (a, b) in ours.iter().zip(row) {
                close(*a, *b, "row 0");
            }
        }
    }
}
