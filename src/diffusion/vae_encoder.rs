//! The VAE encoder (pixels to latents) for image to image, in diffusers' naming:
//! `encoder.conv_in`, down blocks of resnets with stride-2 downsamplers (padded after), a middle
//! block (resnet, single-head attention, resnet), a group norm, SiLU, `conv_out`, then
//! `quant_conv`. The latent distribution's mean is the encoding (deterministic, like a seed).

use tch::Tensor;

use super::layers::{Conv, Resnet};
use super::vae::{Attention, EPS, GroupNorm, Level, load_levels};
use super::weights::Weights;

/// A loaded VAE encoder.
pub struct VaeEncoder {
    conv_in: Conv,
    down: Vec<Level>,
    mid: (Resnet, Attention, Resnet),
    norm_out: GroupNorm,
    conv_out: Conv,
    quant: Conv,
}

impl VaeEncoder {
    /// Whether `weights` hold an encoder (single-file checkpoints and folders may lack one).
    pub fn present(weights: &Weights) -> bool {
        weights.shape("encoder.conv_in.weight").is_some()
    }

    /// Builds the encoder from `encoder.*` and `quant_conv.*` weights.
    pub fn new(weights: &Weights) -> anyhow::Result<Self> {
        let conv_in = Conv::load(weights, "encoder.conv_in", 1)?;
        let mut channels = conv_in.out_channels();
        let down = load_levels(
            weights,
            "encoder.down_blocks",
            "downsamplers",
            2,
            &mut channels,
        )?;
        Ok(Self {
            conv_in,
            down,
            mid: (
                Resnet::load(weights, "encoder.mid_block.resnets.0", channels, None, EPS)?,
                Attention::load(weights, "encoder.mid_block.attentions.0", channels)?,
                Resnet::load(weights, "encoder.mid_block.resnets.1", channels, None, EPS)?,
            ),
            norm_out: GroupNorm::load(weights, "encoder.conv_norm_out", channels)?,
            conv_out: Conv::load(weights, "encoder.conv_out", 1)?,
            quant: Conv::load(weights, "quant_conv", 1)?,
        })
    }

    /// The (unscaled) latent mean `[b, 4, h/8, w/8]` of pixels `[b, 3, h, w]` in [-1, 1].
    pub fn encode(&self, pixels: &Tensor) -> Tensor {
        let mut x = self.conv_in.forward(pixels);
        for block in &self.down {
            for resnet in &block.resnets {
                x = resnet.forward(&x, None);
            }
            if let Some(conv) = &block.resample {
                x = conv.forward_padded_after(&x);
            }
        }
        let x = self.mid.1.forward(&self.mid.0.forward(&x, None));
        let x = self.mid.2.forward(&x, None);
        let moments = self
            .quant
            .forward(&self.conv_out.forward(&self.norm_out.forward(&x).silu()));
        let channels = moments.size()[1] / 2;
        moments.narrow(1, 0, channels)
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
        image_shape: Vec<i64>,
        mean_shape: Vec<i64>,
        mean_row0: Vec<Vec<f64>>,
        mean_sum: f64,
        mean_abs_sum: f64,
    }

    #[test]
    fn the_encoder_matches_the_reference_on_formula_weights() {
        let golden: Golden =
            serde_json::from_str(include_str!("../../tests/data/vae_encoder_golden.json")).unwrap();
        let weights = formula_weights(&golden.names, 0.05, true);
        assert!(VaeEncoder::present(&weights));
        let encoder = VaeEncoder::new(&weights).unwrap();
        let image = formula_input(&golden.image_shape, 0.5, 0.13, Tensor::sin);
        let mean = encoder.encode(&image).get(0).to_kind(Kind::Double);
        assert_eq!(mean.size(), golden.mean_shape);
        let close = |a: f64, b: f64, what: &str| assert_close(a, b, 1e-3, what);
        close(
            mean.sum(Kind::Double).double_value(&[]),
            golden.mean_sum,
            "sum",
        );
        close(
            mean.abs().sum(Kind::Double).double_value(&[]),
            golden.mean_abs_sum,
            "abs sum",
        );
        for (channel, row) in golden.mean_row0.iter().enumerate() {
            let ours = Vec::<f64>::try_from(mean.get(channel as i64).get(0)).unwrap();
            for (a, b) in ours.iter().zip(row) {
                close(*a, *b, "row 0");
            }
        }
    }
}
