//! The UNet2DCondition noise predictor, in diffusers' naming: a sinusoidal timestep embedding, a
//! down path of resnets (with cross-attention transformers where the weights have them) and
//! strided convolutions, a middle block, an up path that concatenates the skip connections, and
//! an output head. The structure (blocks, layers, widths, projections) is read from the weights;
//! attention uses `scaled_dot_product_attention`. SDXL's UNet also adds an embedding of the pooled
//! text embedding and six size and crop numbers (`add_embedding`, diffusers' "text_time") to the
//! timestep's.

use tch::{Kind, Tensor};

use super::layers::{Affine, Conv, GROUPS, Resnet, upsample};
use super::weights::Weights;

/// How many attention heads a transformer of `channels` channels has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heads {
    /// The same number everywhere (SD 1.x: 8).
    Fixed(i64),
    /// Channels divided by this head width (SD 2.x: 64).
    Width(i64),
}

impl Heads {
    /// The rule of a family, from its cross-attention width: 768 is SD 1.x, others use
    /// 64-wide heads.
    pub fn for_context(width: i64) -> Self {
        if width == 768 {
            Heads::Fixed(8)
        } else {
            Heads::Width(64)
        }
    }

    fn count(self, channels: i64) -> i64 {
        match self {
            Heads::Fixed(n) => n,
            Heads::Width(w) => (channels / w).max(1),
        }
    }
}

fn exists(weights: &Weights, name: &str) -> bool {
    weights.shape(name).is_some()
}

struct Attention {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Affine,
    heads: i64,
}

impl Attention {
    fn load(
        weights: &Weights,
        name: &str,
        width: i64,
        context: i64,
        heads: i64,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            q: weights.get(&format!("{name}.to_q.weight"), &[width, width])?,
            k: weights.get(&format!("{name}.to_k.weight"), &[width, context])?,
            v: weights.get(&format!("{name}.to_v.weight"), &[width, context])?,
            out: Affine::load(weights, &format!("{name}.to_out.0"), &[width, width])?,
            heads,
        })
    }

    /// Attention of tokens `x` `[b, n, c]` over `context` (itself when None).
    fn forward(&self, x: &Tensor, context: Option<&Tensor>) -> Tensor {
        let (b, n, c) = x.size3().expect("tokens are [b, n, c]");
        let context = context.unwrap_or(x);
        let split = |t: Tensor| {
            let length = t.size()[1];
            t.view([b, length, self.heads, c / self.heads])
                .transpose(1, 2)
        };
        let attended = Tensor::scaled_dot_product_attention(
            &split(x.linear::<Tensor>(&self.q, None)),
            &split(context.linear::<Tensor>(&self.k, None)),
            &split(context.linear::<Tensor>(&self.v, None)),
            None::<Tensor>,
            0.0,
            false,
            None,
            false,
        );
        self.out
            .linear(&attended.transpose(1, 2).reshape([b, n, c]))
    }
}

struct TransformerBlock {
    norm1: Affine,
    attn1: Attention,
    norm2: Affine,
    attn2: Attention,
    norm3: Affine,
    ff_in: Affine,
    ff_out: Affine,
}

impl TransformerBlock {
    fn load(
        weights: &Weights,
        name: &str,
        width: i64,
        context: i64,
        heads: i64,
    ) -> anyhow::Result<Self> {
        let inner = weights
            .shape(&format!("{name}.ff.net.2.weight"))
            .map_or(width * 4, |s| s[1]);
        Ok(Self {
            norm1: Affine::load(weights, &format!("{name}.norm1"), &[width])?,
            attn1: Attention::load(weights, &format!("{name}.attn1"), width, width, heads)?,
            norm2: Affine::load(weights, &format!("{name}.norm2"), &[width])?,
            attn2: Attention::load(weights, &format!("{name}.attn2"), width, context, heads)?,
            norm3: Affine::load(weights, &format!("{name}.norm3"), &[width])?,
            ff_in: Affine::load(
                weights,
                &format!("{name}.ff.net.0.proj"),
                &[inner * 2, width],
            )?,
            ff_out: Affine::load(weights, &format!("{name}.ff.net.2"), &[width, inner])?,
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Tensor {
        let x = x + self.attn1.forward(&self.norm1.layer_norm(x, 1e-5), None);
        let x = &x
            + self
                .attn2
                .forward(&self.norm2.layer_norm(&x, 1e-5), Some(context));
        let h = self.ff_in.linear(&self.norm3.layer_norm(&x, 1e-5));
        let parts = h.chunk(2, -1);
        &x + self.ff_out.linear(&(&parts[0] * parts[1].gelu("none")))
    }
}

/// SD 1.x projects in and out of a transformer with 1x1 convolutions, SD 2.x with linears.
enum Projection {
    Conv(Conv),
    Linear(Affine),
}

impl Projection {
    fn load(weights: &Weights, name: &str, width: i64) -> anyhow::Result<Self> {
        match weights.shape(&format!("{name}.weight")).map(|s| s.len()) {
            Some(4) => Ok(Projection::Conv(Conv::load(weights, name, 1)?)),
            _ => Ok(Projection::Linear(Affine::load(
                weights,
                name,
                &[width, width],
            )?)),
        }
    }
}

struct Transformer {
    norm: Affine,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
}

impl Transformer {
    fn load(
        weights: &Weights,
        name: &str,
        width: i64,
        context: i64,
        heads: Heads,
    ) -> anyhow::Result<Self> {
        let mut blocks = Vec::new();
        for i in 0.. {
            let block = format!("{name}.transformer_blocks.{i}");
            if !exists(weights, &format!("{block}.norm1.weight")) {
                break;
            }
            blocks.push(TransformerBlock::load(
                weights,
                &block,
                width,
                context,
                heads.count(width),
            )?);
        }
        Ok(Self {
            norm: Affine::load(weights, &format!("{name}.norm"), &[width])?,
            proj_in: Projection::load(weights, &format!("{name}.proj_in"), width)?,
            blocks,
            proj_out: Projection::load(weights, &format!("{name}.proj_out"), width)?,
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().expect("activations are [b, c, h, w]");
        let normed = self.norm.group_norm(x, GROUPS, 1e-6);
        let to_tokens = |t: &Tensor| t.permute([0, 2, 3, 1]).reshape([b, h * w, c]);
        let mut tokens = match &self.proj_in {
            Projection::Conv(conv) => to_tokens(&conv.forward(&normed)),
            Projection::Linear(linear) => linear.linear(&to_tokens(&normed)),
        };
        for block in &self.blocks {
            tokens = block.forward(&tokens, context);
        }
        let to_map = |t: &Tensor| t.reshape([b, h, w, c]).permute([0, 3, 1, 2]);
        let out = match &self.proj_out {
            Projection::Conv(conv) => conv.forward(&to_map(&tokens)),
            Projection::Linear(linear) => to_map(&linear.linear(&tokens)),
        };
        out + x
    }
}

/// A resnet, optionally followed by a transformer.
struct Layer {
    resnet: Resnet,
    attention: Option<Transformer>,
}

impl Layer {
    fn forward(&self, x: &Tensor, time: &Tensor, context: &Tensor) -> Tensor {
        let x = self.resnet.forward(x, Some(time));
        match &self.attention {
            Some(attention) => attention.forward(&x, context),
            None => x,
        }
    }
}

struct Block {
    layers: Vec<Layer>,
    /// Down: a strided convolution; up: upsampling then a convolution.
    resample: Option<Conv>,
}

/// SDXL's added conditioning: the second text encoder's pooled, projected embedding `[b, p]` and
/// the size and crop numbers `[b, 6]` (original height and width, crop top and left, target
/// height and width).
pub struct Added<'a> {
    /// `[b, p]`.
    pub pooled: &'a Tensor,
    /// `[b, 6]`.
    pub time_ids: &'a Tensor,
}

/// A loaded UNet.
pub struct UNet {
    time_width: i64,
    time_in: Affine,
    time_out: Affine,
    /// SDXL's `add_embedding` (its two linears).
    add: Option<(Affine, Affine)>,
    conv_in: Conv,
    down: Vec<Block>,
    mid: (Resnet, Transformer, Resnet),
    up: Vec<Block>,
    norm_out: Affine,
    conv_out: Conv,
}

impl UNet {
    /// Builds the UNet from its weights; `heads` is the family's head rule.
    pub fn new(weights: &Weights, heads: Heads) -> anyhow::Result<Self> {
        let conv_in = Conv::load(weights, "conv_in", 1)?;
        let base = conv_in.out_channels();
        let time_shape = weights
            .shape("time_embedding.linear_1.weight")
            .ok_or_else(|| anyhow::anyhow!("the UNet has no time_embedding.linear_1"))?;
        let time_width = time_shape[0];
        let context = weights
            .names_with_prefix("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight")
            .next()
            .and_then(|n| weights.shape(n))
            .map(|s| s[1])
            .ok_or_else(|| {
                anyhow::anyhow!("the UNet has no cross-attention in its middle block")
            })?;
        let layers = |prefix: &str,
                      channels: &mut i64,
                      skips: Option<&mut Vec<i64>>|
         -> anyhow::Result<Vec<Layer>> {
            let mut out = Vec::new();
            let mut skips = skips;
            for j in 0.. {
                let name = format!("{prefix}.resnets.{j}");
                if !exists(weights, &format!("{name}.conv1.weight")) {
                    break;
                }
                let input = *channels + skips.as_mut().and_then(|s| s.pop()).unwrap_or(0);
                let resnet = Resnet::load(weights, &name, input, Some(time_width), 1e-5)?;
                *channels = resnet.out_channels();
                let attention_name = format!("{prefix}.attentions.{j}");
                let attention = exists(weights, &format!("{attention_name}.norm.weight"))
                    .then(|| Transformer::load(weights, &attention_name, *channels, context, heads))
                    .transpose()?;
                out.push(Layer { resnet, attention });
            }
            Ok(out)
        };
        let mut channels = base;
        let mut skips = vec![base];
        let mut down = Vec::new();
        for i in 0.. {
            let prefix = format!("down_blocks.{i}");
            if !exists(weights, &format!("{prefix}.resnets.0.conv1.weight")) {
                break;
            }
            let block_layers = layers(&prefix, &mut channels, None)?;
            skips.extend(std::iter::repeat_n(channels, block_layers.len()));
            let resample = exists(weights, &format!("{prefix}.downsamplers.0.conv.weight"))
                .then(|| Conv::load(weights, &format!("{prefix}.downsamplers.0.conv"), 2))
                .transpose()?;
            if resample.is_some() {
                skips.push(channels);
            }
            down.push(Block {
                layers: block_layers,
                resample,
            });
        }
        let mid = (
            Resnet::load(
                weights,
                "mid_block.resnets.0",
                channels,
                Some(time_width),
                1e-5,
            )?,
            Transformer::load(weights, "mid_block.attentions.0", channels, context, heads)?,
            Resnet::load(
                weights,
                "mid_block.resnets.1",
                channels,
                Some(time_width),
                1e-5,
            )?,
        );
        let mut up = Vec::new();
        for i in 0.. {
            let prefix = format!("up_blocks.{i}");
            if !exists(weights, &format!("{prefix}.resnets.0.conv1.weight")) {
                break;
            }
            let block_layers = layers(&prefix, &mut channels, Some(&mut skips))?;
            let resample = exists(weights, &format!("{prefix}.upsamplers.0.conv.weight"))
                .then(|| Conv::load(weights, &format!("{prefix}.upsamplers.0.conv"), 1))
                .transpose()?;
            up.push(Block {
                layers: block_layers,
                resample,
            });
        }
        anyhow::ensure!(
            !down.is_empty() && !up.is_empty(),
            "the UNet has no down or up blocks"
        );
        anyhow::ensure!(
            skips.is_empty(),
            "the UNet's up path does not use every skip connection"
        );
        let add = match weights.shape("add_embedding.linear_1.weight") {
            Some(shape) => Some((
                Affine::load(weights, "add_embedding.linear_1", &[time_width, shape[1]])?,
                Affine::load(weights, "add_embedding.linear_2", &[time_width, time_width])?,
            )),
            None => None,
        };
        Ok(Self {
            time_width: base,
            add,
            time_in: Affine::load(weights, "time_embedding.linear_1", &[time_width, base])?,
            time_out: Affine::load(
                weights,
                "time_embedding.linear_2",
                &[time_width, time_width],
            )?,
            conv_in,
            down,
            mid,
            up,
            norm_out: Affine::load(weights, "conv_norm_out", &[channels])?,
            conv_out: Conv::load(weights, "conv_out", 1)?,
        })
    }

    /// Whether the UNet needs SDXL's added conditioning.
    pub fn wants_added(&self) -> bool {
        self.add.is_some()
    }

    /// Checks that a pooled embedding `pooled` wide leaves room for the six numbers' embeddings
    /// in the added conditioning's input (an even width for each).
    pub fn check_pooled_width(&self, pooled: i64) -> anyhow::Result<()> {
        if let Some((add_in, _)) = &self.add {
            let rest = add_in.in_features() - pooled;
            anyhow::ensure!(
                rest > 0 && rest % 12 == 0,
                "the UNet's added conditioning takes {} values, which a {pooled}-wide pooled \
                 text embedding and six sinusoidal embeddings cannot fill",
                add_in.in_features()
            );
        }
        Ok(())
    }

    /// The predicted noise for `latents` `[b, 4, h, w]` at `timestep`, attending to `context`
    /// `[b, tokens, width]`, with SDXL's added conditioning where the UNet has it.
    pub fn forward(
        &self,
        latents: &Tensor,
        timestep: f64,
        context: &Tensor,
        added: Option<&Added<'_>>,
    ) -> Tensor {
        let batch = latents.size()[0];
        let steps = Tensor::full([batch], timestep, (Kind::Float, latents.device()));
        let embedding = sinusoidal(&steps, self.time_width).to_kind(latents.kind());
        let mut time = self
            .time_out
            .linear(&self.time_in.linear(&embedding).silu());
        if let (Some((add_in, add_out)), Some(added)) = (&self.add, added) {
            // Each of the six numbers gets its own sinusoidal embedding, as wide as the rest of
            // the projection's input leaves for it.
            let pooled = added.pooled.size()[1];
            let width = (add_in.in_features() - pooled) / 6;
            let numbers = sinusoidal(&added.time_ids.to_kind(Kind::Float).flatten(0, -1), width)
                .reshape([batch, 6 * width]);
            let input = Tensor::cat(&[added.pooled.to_kind(Kind::Float), numbers], 1)
                .to_kind(latents.kind());
            time += add_out.linear(&add_in.linear(&input).silu());
        }
        let time = time.silu();
        let mut x = self.conv_in.forward(latents);
        let mut skips = vec![x.shallow_clone()];
        for block in &self.down {
            for layer in &block.layers {
                x = layer.forward(&x, &time, context);
                skips.push(x.shallow_clone());
            }
            if let Some(conv) = &block.resample {
                x = conv.forward(&x);
                skips.push(x.shallow_clone());
            }
        }
        x = self.mid.0.forward(&x, Some(&time));
        x = self.mid.1.forward(&x, context);
        x = self.mid.2.forward(&x, Some(&time));
        for block in &self.up {
            for layer in &block.layers {
                let skip = skips
                    .pop()
                    .expect("the structure check matched skips to layers");
                x = layer.forward(&Tensor::cat(&[&x, &skip], 1), &time, context);
            }
            if let Some(conv) = &block.resample {
                // Sizes that are not multiples of the total downsampling (a 72-pixel side is 9
                // latents) upsample to the skip connection's size, as the reference does.
                x = match skips.last() {
                    Some(skip) => {
                        let size = skip.size();
                        conv.forward(&x.upsample_nearest2d([size[2], size[3]], None, None))
                    }
                    None => conv.forward(&upsample(&x)),
                };
            }
        }
        self.conv_out
            .forward(&self.norm_out.group_norm(&x, GROUPS, 1e-5).silu())
    }
}

/// The sinusoidal embedding (cosines first) of each value of `values` `[n]`, `[n, width]` (f32).
fn sinusoidal(values: &Tensor, width: i64) -> Tensor {
    let half = width / 2;
    let exponent =
        Tensor::arange(half, (Kind::Float, values.device())) * (-(10000f64.ln()) / half as f64);
    let angles = values.to_kind(Kind::Float).unsqueeze(1) * exponent.exp().unsqueeze(0);
    Tensor::cat(&[angles.cos(), angles.sin()], 1)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diffusion::golden::{assert_close, formula_input, formula_weights};

    #[derive(serde::Deserialize)]
    struct Golden {
        names: BTreeMap<String, Vec<i64>>,
        latent_shape: Vec<i64>,
        context_shape: Vec<i64>,
        #[serde(default)]
        pooled_width: i64,
        #[serde(default)]
        time_ids: Vec<Vec<f64>>,
        timestep: f64,
        eps_row0: Vec<Vec<Vec<f64>>>,
        eps_sum: f64,
        eps_abs_sum: f64,
    }

    /// Runs the UNet of `golden` on its formula weights and inputs and compares the prediction.
    fn matches(golden: &Golden) {
        let unet = UNet::new(&formula_weights(&golden.names, 0.05, true), Heads::Fixed(2)).unwrap();
        assert_eq!(unet.wants_added(), !golden.time_ids.is_empty());
        let latents = formula_input(&golden.latent_shape, 0.5, 0.11, Tensor::sin);
        let context = formula_input(&golden.context_shape, 0.5, 0.07, Tensor::cos);
        let pooled = formula_input(
            &[golden.latent_shape[0], golden.pooled_width],
            0.5,
            0.13,
            Tensor::sin,
        );
        let time_ids = Tensor::from_slice(&golden.time_ids.concat())
            .view([-1, 6])
            .to_kind(Kind::Float);
        let added = Added {
            pooled: &pooled,
            time_ids: &time_ids,
        };
        let eps = unet
            .forward(
                &latents,
                golden.timestep,
                &context,
                unet.wants_added().then_some(&added),
            )
            .to_kind(Kind::Double);
        assert_eq!(eps.size(), golden.latent_shape);
        let close = |a: f64, b: f64, what: &str| assert_close(a, b, 2e-3, what);
        close(
            eps.sum(Kind::Double).double_value(&[]),
            golden.eps_sum,
            "sum",
        );
        close(
            eps.abs().sum(Kind::Double).double_value(&[]),
            golden.eps_abs_sum,
            "abs sum",
        );
        for (b, channels) in golden.eps_row0.iter().enumerate() {
            for (c, row) in channels.iter().enumerate() {
                let ours = Vec::<f64>::try_from(eps.get(b as i64).get(c as i64).get(0)).unwrap();
                for (a, expected) in ours.iter().zip(row) {
                    close(*a, *expected, "row 0");
                }
            }
        }
    }

    #[test]
    fn the_unet_matches_the_reference_on_formula_weights() {
        matches(&serde_json::from_str(include_str!("../../tests/data/unet_golden.json")).unwrap());
    }

    #[test]
    fn the_sdxl_unet_with_added_conditioning_matches_the_reference() {
        matches(
            &serde_json::from_str(include_str!("../../tests/data/unet_xl_golden.json")).unwrap(),
        );
    }
}
