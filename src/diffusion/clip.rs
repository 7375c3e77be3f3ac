//! The CLIP text encoder (a causal transformer), in diffusers' naming: token and position
//! embeddings, pre-norm layers with `scaled_dot_product_attention`, a final layer norm. Sizes
//! come from the weights' shapes; SD 1.x uses quick-GELU, the OpenCLIP encoders (1024 wide in
//! SD 2.x, 1280 in SDXL) GELU. SDXL reads the penultimate layer's hidden states and a pooled
//! embedding: the final-normed state at the end-of-text token, through `text_projection`.

use anyhow::Context;
use tch::{Kind, Tensor};

use super::layers::Affine;
use super::weights::Weights;

/// Sizes of a text encoder, inferred from its weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClipConfig {
    /// Vocabulary size.
    pub vocab: i64,
    /// Hidden width.
    pub width: i64,
    /// Transformer layers.
    pub layers: i64,
    /// Attention heads (64-wide heads, at least one).
    pub heads: i64,
    /// Positions (77).
    pub positions: i64,
    /// MLP width.
    pub intermediate: i64,
    /// GELU instead of quick-GELU (OpenCLIP encoders).
    pub gelu: bool,
}

const PREFIX: &str = "text_model.";

impl ClipConfig {
    /// Infers the sizes from the weights.
    pub fn infer(weights: &Weights) -> anyhow::Result<Self> {
        let shape = |name: &str| {
            weights
                .shape(&format!("{PREFIX}{name}"))
                .with_context(|| format!("the text encoder has no {name}"))
        };
        let token = shape("embeddings.token_embedding.weight")?;
        let position = shape("embeddings.position_embedding.weight")?;
        let fc1 = shape("encoder.layers.0.mlp.fc1.weight")?;
        let layers = (0..)
            .take_while(|i| {
                weights
                    .shape(&format!("{PREFIX}encoder.layers.{i}.layer_norm1.weight"))
                    .is_some()
            })
            .count();
        let width = token[1];
        Ok(Self {
            vocab: token[0],
            width,
            layers: i64::try_from(layers)?,
            heads: (width / 64).max(1),
            positions: position[0],
            intermediate: fc1[0],
            gelu: width >= 1024,
        })
    }
}

struct Layer {
    norm1: Affine,
    q: Affine,
    k: Affine,
    v: Affine,
    out: Affine,
    norm2: Affine,
    fc1: Affine,
    fc2: Affine,
}

/// A loaded text encoder.
pub struct ClipTextEncoder {
    config: ClipConfig,
    token: Tensor,
    position: Tensor,
    layers: Vec<Layer>,
    final_norm: Affine,
    /// `text_projection.weight` `[projection, width]`, where the encoder has one (SDXL's second).
    projection: Option<Tensor>,
}

impl ClipTextEncoder {
    /// Builds the encoder from `text_model.*` weights, checking every shape.
    pub fn new(weights: &Weights) -> anyhow::Result<Self> {
        let c = ClipConfig::infer(weights)?;
        let (w, i) = (c.width, c.intermediate);
        let mut layers = Vec::new();
        for n in 0..c.layers {
            let p = format!("{PREFIX}encoder.layers.{n}");
            layers.push(Layer {
                norm1: Affine::load(weights, &format!("{p}.layer_norm1"), &[w])?,
                q: Affine::load(weights, &format!("{p}.self_attn.q_proj"), &[w, w])?,
                k: Affine::load(weights, &format!("{p}.self_attn.k_proj"), &[w, w])?,
                v: Affine::load(weights, &format!("{p}.self_attn.v_proj"), &[w, w])?,
                out: Affine::load(weights, &format!("{p}.self_attn.out_proj"), &[w, w])?,
                norm2: Affine::load(weights, &format!("{p}.layer_norm2"), &[w])?,
                fc1: Affine::load(weights, &format!("{p}.mlp.fc1"), &[i, w])?,
                fc2: Affine::load(weights, &format!("{p}.mlp.fc2"), &[w, i])?,
            });
        }
        Ok(Self {
            config: c,
            token: weights.get(
                &format!("{PREFIX}embeddings.token_embedding.weight"),
                &[c.vocab, w],
            )?,
            position: weights.get(
                &format!("{PREFIX}embeddings.position_embedding.weight"),
                &[c.positions, w],
            )?,
            layers,
            final_norm: Affine::load(weights, &format!("{PREFIX}final_layer_norm"), &[w])?,
            projection: match weights.shape("text_projection.weight") {
                Some(shape) => Some(weights.get("text_projection.weight", &[shape[0], w])?),
                None => None,
            },
        })
    }

    /// The sizes.
    pub fn config(&self) -> ClipConfig {
        self.config
    }

    /// Hidden states `[batch, positions, width]` for token ids `[batch, positions]` (int64).
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        self.forward_skipping(ids, 1)
    }

    /// [`ClipTextEncoder::forward`] with the last `skip - 1` layers left out ("CLIP skip": 1
    /// is every layer, 2 the penultimate layer's output, each then final-normed, as A1111 and
    /// ComfyUI do). `skip` is clamped to leave at least one layer.
    pub fn forward_skipping(&self, ids: &Tensor, skip: usize) -> Tensor {
        let layers = self
            .layers
            .len()
            .saturating_sub(skip.saturating_sub(1))
            .max(1);
        self.final_norm
            .layer_norm(&self.layers_out(ids, layers).1, 1e-5)
    }

    /// SDXL's conditioning from this encoder: the penultimate layer's hidden states
    /// `[batch, positions, width]` (no final norm) and the pooled embedding `[batch, projection]`
    /// (`[batch, width]` without a projection): the final-normed state at each row's end-of-text
    /// token, which is its highest id.
    pub fn forward_penultimate(&self, ids: &Tensor) -> (Tensor, Tensor) {
        let (penultimate, last) = self.layers_out(ids, self.layers.len());
        let last = self.final_norm.layer_norm(&last, 1e-5);
        let batch = last.size()[0];
        let ends = ids.argmax(-1, false);
        let pooled = last.index(&[
            Some(Tensor::arange(batch, (Kind::Int64, last.device()))),
            Some(ends),
        ]);
        let pooled = match &self.projection {
            Some(projection) => pooled.linear::<Tensor>(projection, None),
            None => pooled,
        };
        (penultimate, pooled)
    }

    /// The hidden states after the first `layers - 1` layers and after the first `layers`,
    /// before the final norm.
    fn layers_out(&self, ids: &Tensor, layers: usize) -> (Tensor, Tensor) {
        let (batch, length) = ids.size2().expect("ids are [batch, positions]");
        let c = self.config;
        let head = c.width / c.heads;
        let mut x = Tensor::embedding(&self.token, ids, -1, false, false)
            + self.position.narrow(0, 0, length).unsqueeze(0);
        let split = |t: Tensor| t.view([batch, length, c.heads, head]).transpose(1, 2);
        let mut penultimate = x.shallow_clone();
        for (n, layer) in self.layers.iter().take(layers).enumerate() {
            if n + 1 == layers {
                // A copy: the residual additions below are in place.
                penultimate = x.copy();
            }
            let h = layer.norm1.layer_norm(&x, 1e-5);
            let attention = Tensor::scaled_dot_product_attention(
                &split(layer.q.linear(&h)),
                &split(layer.k.linear(&h)),
                &split(layer.v.linear(&h)),
                None::<Tensor>,
                0.0,
                true,
                None,
                false,
            );
            let attention = attention.transpose(1, 2).reshape([batch, length, c.width]);
            x += layer.out.linear(&attention);
            let h = layer.fc1.linear(&layer.norm2.layer_norm(&x, 1e-5));
            let h = if c.gelu {
                h.gelu("none")
            } else {
                &h * (&h * 1.702).sigmoid()
            };
            x += layer.fc2.linear(&h);
        }
        (penultimate, x)
    }

    /// The width of its pooled embedding: its projection's, else its own.
    pub fn pooled_width(&self) -> i64 {
        self.projection
            .as_ref()
            .map_or(self.config.width, |p| p.size()[0])
    }

    /// The dtype of its weights.
    pub fn kind(&self) -> Kind {
        self.token.kind()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diffusion::golden::{assert_close, formula_weights};

    #[derive(serde::Deserialize)]
    struct Golden {
        names: BTreeMap<String, Vec<i64>>,
        positions: Vec<i64>,
        hidden: Vec<Vec<f64>>,
    }

    #[test]
    fn the_encoder_matches_the_reference_on_formula_weights() {
        let golden: Golden =
            serde_json::from_str(include_str!("../../tests/data/clip_text_golden.json")).unwrap();
        let encoder = ClipTextEncoder::new(&formula_weights(&golden.names, 0.1, false)).unwrap();
        assert_eq!((encoder.config().layers, encoder.config().heads), (2, 2));
        let ids: Vec<i64> = (0..77).map(|i| (i * 37) % 1000).collect();
        let hidden = encoder.forward(&Tensor::from_slice(&ids).unsqueeze(0));
        assert_eq!(hidden.size(), [1, 77, 128]);
        for (position, expected) in golden.positions.iter().zip(&golden.hidden) {
            let ours =
                Vec::<f64>::try_from(hidden.get(0).get(*position).to_kind(Kind::Double)).unwrap();
            for (a, b) in ours.iter().zip(expected) {
                assert_close(*a, *b, 1e-4, &format!("position {position}"));
            }
        }
    }

    #[derive(serde::Deserialize)]
    struct PooledGolden {
        names: BTreeMap<String, Vec<i64>>,
        ids: Vec<i64>,
        positions: Vec<i64>,
        penultimate: Vec<Vec<f64>>,
        pooled: Vec<f64>,
    }

    #[test]
    fn the_sdxl_outputs_match_the_reference_with_a_projection() {
        let golden: PooledGolden =
            serde_json::from_str(include_str!("../../tests/data/clip_pooled_golden.json")).unwrap();
        let encoder = ClipTextEncoder::new(&formula_weights(&golden.names, 0.1, true)).unwrap();
        assert!(encoder.config().gelu);
        let ids = Tensor::from_slice(&golden.ids).unsqueeze(0);
        let (penultimate, pooled) = encoder.forward_penultimate(&ids);
        assert_eq!(penultimate.size(), [1, 77, 1024]);
        for (position, expected) in golden.positions.iter().zip(&golden.penultimate) {
            let ours =
                Vec::<f64>::try_from(penultimate.get(0).get(*position).to_kind(Kind::Double))
                    .unwrap();
            for (a, b) in ours.iter().zip(expected) {
                assert_close(*a, *b, 1e-3, &format!("penultimate at {position}"));
            }
        }
        let ours = Vec::<f64>::try_from(pooled.get(0).to_kind(Kind::Double)).unwrap();
        assert_eq!(ours.len(), golden.pooled.len());
        for (a, b) in ours.iter().zip(&golden.pooled) {
            assert_close(*a, *b, 1e-3, "pooled");
        }
    }

    /// CLIP skip 2 is the encoder without its last layer, final-normed; 1 is the whole encoder.
    #[test]
    fn clip_skip_reads_an_earlier_layer_through_the_final_norm() {
        let golden: Golden =
            serde_json::from_str(include_str!("../../tests/data/clip_text_golden.json")).unwrap();
        let weights = formula_weights(&golden.names, 0.1, false);
        let whole = ClipTextEncoder::new(&weights).unwrap();
        let first_layer_only: std::collections::HashMap<String, Tensor> = weights
            .names()
            .filter(|n| !n.contains("encoder.layers.1."))
            .map(|n| {
                (
                    n.to_owned(),
                    weights.get(n, &weights.shape(n).unwrap()).unwrap(),
                )
            })
            .collect();
        let shorter = ClipTextEncoder::new(&Weights::from_map(first_layer_only)).unwrap();
        assert_eq!(shorter.config().layers, 1);
        let ids = Tensor::from_slice(&[5i64, 9, 2, 7]).unsqueeze(0);
        assert!(whole.forward_skipping(&ids, 1).equal(&whole.forward(&ids)));
        let skipped = whole.forward_skipping(&ids, 2);
        assert!(skipped.allclose(&shorter.forward(&ids), 1e-6, 1e-6, false));
        assert!(!skipped.allclose(&whole.forward(&ids), 1e-3, 1e-3, false));
    }

    #[test]
    fn missing_or_misshapen_weights_are_named() {
        let error = ClipTextEncoder::new(&Weights::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("token_embedding"), "{error}");
    }
}
