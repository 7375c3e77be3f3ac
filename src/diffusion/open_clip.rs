//! Key adapters for the OpenCLIP text encoders of single-file checkpoints: SD 2.x's ViT-H
//! (`cond_stage_model.model.*`) and SDXL's second encoder, ViT-bigG
//! (`conditioner.embedders.1.model.*`). Names become the diffusers naming `diffusion::clip`
//! reads, and the fused attention projections are split into q, k and v. SD 2.x drops the last
//! layer, because it conditions on the penultimate layer's output (then the final layer norm), as
//! diffusers' converted `text_encoder` (23 of 24 layers) does; SDXL keeps every layer and its
//! `text_projection` (a matrix applied on the right, so it is transposed into a linear weight).

use tch::Tensor;

use super::weights::Weights;

/// Where SD 2.x checkpoints keep their text encoder.
pub const SD2: &str = "cond_stage_model.model.";
/// Where SDXL checkpoints keep their second text encoder.
pub const SDXL: &str = "conditioner.embedders.1.model.";
/// Where SDXL checkpoints keep their first text encoder (CLIP ViT-L in transformers' naming).
pub const SDXL_CLIP: &str = "conditioner.embedders.0.transformer.";
const PROJECTION: &str = "text_projection";

/// Whether a checkpoint's names hold an OpenCLIP text encoder under `prefix`.
pub fn is_open_clip<'a>(prefix: &str, mut names: impl Iterator<Item = &'a str>) -> bool {
    names.any(|n| {
        n.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("transformer.resblocks."))
    })
}

/// The number of transformer blocks in the checkpoint's text encoder under `prefix`.
pub fn blocks<'a>(prefix: &str, names: impl Iterator<Item = &'a str>) -> usize {
    super::ldm::count_numbered(names, &format!("{prefix}transformer.resblocks."))
}

/// The diffusers name of an SDXL second-encoder tensor: every block, and the projection (which
/// [`finish`] transposes).
pub fn sdxl_name(name: &str) -> Option<String> {
    match name.strip_prefix(SDXL) {
        Some(PROJECTION) => Some(format!("{PROJECTION}.weight")),
        _ => self::name(SDXL, name, usize::MAX),
    }
}

/// The diffusers name of an OpenCLIP text-encoder tensor under `prefix`, keeping blocks below
/// `keep` (attention projections stay fused as `self_attn.in_proj.*` until [`finish`]).
pub fn name(prefix: &str, name: &str, keep: usize) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    let fixed = match rest {
        "token_embedding.weight" => "embeddings.token_embedding.weight",
        "positional_embedding" => "embeddings.position_embedding.weight",
        "ln_final.weight" => "final_layer_norm.weight",
        "ln_final.bias" => "final_layer_norm.bias",
        _ => "",
    };
    if !fixed.is_empty() {
        return Some(format!("text_model.{fixed}"));
    }
    let rest = rest.strip_prefix("transformer.resblocks.")?;
    let (block, part) = rest.split_once('.')?;
    let block: usize = block.parse().ok()?;
    if block >= keep {
        return None;
    }
    let part = match part {
        "attn.in_proj_weight" => "self_attn.in_proj.weight".to_owned(),
        "attn.in_proj_bias" => "self_attn.in_proj.bias".to_owned(),
        _ => {
            let (module, leaf) = part.rsplit_once('.')?;
            let module = match module {
                "ln_1" => "layer_norm1",
                "ln_2" => "layer_norm2",
                "attn.out_proj" => "self_attn.out_proj",
                "mlp.c_fc" => "mlp.fc1",
                "mlp.c_proj" => "mlp.fc2",
                _ => return None,
            };
            format!("{module}.{leaf}")
        }
    };
    Some(format!("text_model.encoder.layers.{block}.{part}"))
}

/// Splits every fused `self_attn.in_proj.{weight,bias}` (`[3w, …]`) into `q_proj`, `k_proj`
/// and `v_proj`, and transposes a `text_projection` into a linear weight.
pub fn finish(weights: &mut Weights) {
    if let Some(projection) = weights.take(&format!("{PROJECTION}.weight")) {
        weights.insert(format!("{PROJECTION}.weight"), projection.tr().contiguous());
    }
    let fused: Vec<String> = weights
        .names()
        .filter(|n| n.contains(".self_attn.in_proj."))
        .map(str::to_owned)
        .collect();
    for name in fused {
        let Some(tensor) = weights.take(&name) else {
            continue;
        };
        let parts = tensor.chunk(3, 0);
        for (projection, part) in ["q_proj", "k_proj", "v_proj"].iter().zip(parts) {
            weights.insert(name.replace("in_proj", projection), part.contiguous());
        }
    }
}

/// The inverse of [`name`] and [`finish`], for writing test checkpoints: diffusers-named
/// text-encoder tensors in OpenCLIP's naming under `prefix`; with `extra_block`, plus one more
/// block (a copy of the last) that SD 2.x's penultimate-layer reader must ignore.
pub fn from_diffusers(
    prefix: &str,
    tensors: Vec<(String, Tensor)>,
    extra_block: bool,
) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    let mut fused: std::collections::BTreeMap<String, Vec<(String, Tensor)>> = Default::default();
    for (name, tensor) in tensors {
        if name == format!("{PROJECTION}.weight") {
            out.push((format!("{prefix}{PROJECTION}"), tensor.tr().contiguous()));
            continue;
        }
        let rest = name.strip_prefix("text_model.").unwrap_or(&name);
        let renamed = match rest {
            "embeddings.token_embedding.weight" => "token_embedding.weight".to_owned(),
            "embeddings.position_embedding.weight" => "positional_embedding".to_owned(),
            "final_layer_norm.weight" => "ln_final.weight".to_owned(),
            "final_layer_norm.bias" => "ln_final.bias".to_owned(),
            _ => {
                let Some(layer) = rest.strip_prefix("encoder.layers.") else {
                    continue;
                };
                let (block, part) = layer.split_once('.').unwrap_or((layer, ""));
                let (module, leaf) = part.rsplit_once('.').unwrap_or((part, ""));
                if let Some(projection) = module.strip_prefix("self_attn.")
                    && ["q_proj", "k_proj", "v_proj"].contains(&projection)
                {
                    let key = format!("transformer.resblocks.{block}.attn.in_proj_{leaf}");
                    fused
                        .entry(key)
                        .or_default()
                        .push((projection.to_owned(), tensor));
                    continue;
                }
                let module = match module {
                    "layer_norm1" => "ln_1",
                    "layer_norm2" => "ln_2",
                    "self_attn.out_proj" => "attn.out_proj",
                    "mlp.fc1" => "mlp.c_fc",
                    "mlp.fc2" => "mlp.c_proj",
                    _ => continue,
                };
                format!("transformer.resblocks.{block}.{module}.{leaf}")
            }
        };
        out.push((format!("{prefix}{renamed}"), tensor));
    }
    for (key, mut parts) in fused {
        parts.sort_by(|a, b| a.0.cmp(&b.0)); // k, q, v
        let [k, q, v] = [&parts[0].1, &parts[1].1, &parts[2].1];
        out.push((format!("{prefix}{key}"), Tensor::cat(&[q, k, v], 0)));
    }
    if !extra_block {
        return out;
    }
    let last = blocks(prefix, out.iter().map(|(n, _)| n.as_str()));
    let from = format!("{prefix}transformer.resblocks.{}.", last.saturating_sub(1));
    let extra: Vec<(String, Tensor)> = out
        .iter()
        .filter(|(n, _)| n.starts_with(&from))
        .map(|(n, t)| {
            let to = format!("{prefix}transformer.resblocks.{last}.");
            (n.replacen(&from, &to, 1), t.copy())
        })
        .collect();
    out.extend(extra);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tch::{Device, Kind};

    use super::*;
    use crate::diffusion::clip::ClipTextEncoder;

    #[test]
    fn names_map_and_the_last_block_is_dropped() {
        let cases = [
            (
                "cond_stage_model.model.positional_embedding",
                Some("text_model.embeddings.position_embedding.weight"),
            ),
            (
                "cond_stage_model.model.ln_final.bias",
                Some("text_model.final_layer_norm.bias"),
            ),
            (
                "cond_stage_model.model.transformer.resblocks.3.attn.in_proj_weight",
                Some("text_model.encoder.layers.3.self_attn.in_proj.weight"),
            ),
            (
                "cond_stage_model.model.transformer.resblocks.0.mlp.c_fc.bias",
                Some("text_model.encoder.layers.0.mlp.fc1.bias"),
            ),
            (
                "cond_stage_model.model.transformer.resblocks.22.ln_2.weight",
                Some("text_model.encoder.layers.22.layer_norm2.weight"),
            ),
            (
                "cond_stage_model.model.transformer.resblocks.23.ln_2.weight",
                None,
            ),
            ("cond_stage_model.model.text_projection", None),
            ("cond_stage_model.model.logit_scale", None),
            ("model.diffusion_model.out.0.weight", None),
        ];
        for (from, to) in cases {
            assert_eq!(name(SD2, from, 23).as_deref(), to, "{from}");
        }
        let names = [
            "cond_stage_model.model.transformer.resblocks.0.ln_1.weight",
            "cond_stage_model.model.transformer.resblocks.23.ln_1.weight",
        ];
        assert!(is_open_clip(SD2, names.into_iter()));
        assert!(!is_open_clip(SDXL, names.into_iter()));
        assert_eq!(blocks(SD2, names.into_iter()), 24);
        assert_eq!(
            sdxl_name("conditioner.embedders.1.model.text_projection").as_deref(),
            Some("text_projection.weight")
        );
        assert_eq!(
            sdxl_name("conditioner.embedders.1.model.transformer.resblocks.31.ln_1.bias")
                .as_deref(),
            Some("text_model.encoder.layers.31.layer_norm1.bias")
        );
        assert_eq!(sdxl_name("cond_stage_model.model.ln_final.bias"), None);
    }

    /// An OpenCLIP-named encoder with one extra block encodes exactly like the diffusers-named
    /// encoder without it: the penultimate layer feeds the final norm.
    #[test]
    fn an_open_clip_encoder_matches_its_diffusers_form_at_the_penultimate_layer() {
        let w = 64;
        let mut diffusers = HashMap::new();
        let mut open_clip = HashMap::new();
        // Any values do: both forms are built from the same draws.
        let random = |shape: &[i64]| {
            crate::diffusion::sampler::with_generator(|| {
                Tensor::randn(shape, (Kind::Float, Device::Cpu)) * 0.1
            })
        };
        for (ours, theirs, shape) in [
            (
                "embeddings.token_embedding.weight",
                "token_embedding.weight",
                vec![100, w],
            ),
            (
                "embeddings.position_embedding.weight",
                "positional_embedding",
                vec![77, w],
            ),
            ("final_layer_norm.weight", "ln_final.weight", vec![w]),
            ("final_layer_norm.bias", "ln_final.bias", vec![w]),
        ] {
            let t = random(&shape);
            open_clip.insert(format!("{SD2}{theirs}"), t.copy());
            diffusers.insert(format!("text_model.{ours}"), t);
        }
        for block in 0..3 {
            let theirs = format!("{SD2}transformer.resblocks.{block}");
            let ours = format!("text_model.encoder.layers.{block}");
            let (q, k, v) = (random(&[w, w]), random(&[w, w]), random(&[w, w]));
            let (qb, kb, vb) = (random(&[w]), random(&[w]), random(&[w]));
            open_clip.insert(
                format!("{theirs}.attn.in_proj_weight"),
                Tensor::cat(&[&q, &k, &v], 0),
            );
            open_clip.insert(
                format!("{theirs}.attn.in_proj_bias"),
                Tensor::cat(&[&qb, &kb, &vb], 0),
            );
            for (name, t) in [
                ("q_proj", (q, qb)),
                ("k_proj", (k, kb)),
                ("v_proj", (v, vb)),
            ] {
                if block < 2 {
                    diffusers.insert(format!("{ours}.self_attn.{name}.weight"), t.0);
                    diffusers.insert(format!("{ours}.self_attn.{name}.bias"), t.1);
                }
            }
            for (our_part, their_part, shape) in [
                ("layer_norm1", "ln_1", vec![w]),
                ("layer_norm2", "ln_2", vec![w]),
                ("self_attn.out_proj", "attn.out_proj", vec![w, w]),
                ("mlp.fc1", "mlp.c_fc", vec![4 * w, w]),
                ("mlp.fc2", "mlp.c_proj", vec![w, 4 * w]),
            ] {
                for leaf in ["weight", "bias"] {
                    let shape = if leaf == "bias" {
                        vec![shape[0]]
                    } else {
                        shape.clone()
                    };
                    let t = random(&shape);
                    open_clip.insert(format!("{theirs}.{their_part}.{leaf}"), t.copy());
                    if block < 2 {
                        diffusers.insert(format!("{ours}.{our_part}.{leaf}"), t);
                    }
                }
            }
        }
        let keep = blocks(SD2, open_clip.keys().map(String::as_str)) - 1;
        let renamed: HashMap<String, Tensor> = open_clip
            .into_iter()
            .filter_map(|(n, t)| Some((name(SD2, &n, keep)?, t)))
            .collect();
        let mut adapted = Weights::from_map(renamed);
        finish(&mut adapted);
        let ids = Tensor::from_slice(&[1i64, 5, 9, 2]).unsqueeze(0);
        let expected = ClipTextEncoder::new(&Weights::from_map(diffusers))
            .unwrap()
            .forward(&ids);
        let ours = ClipTextEncoder::new(&adapted).unwrap().forward(&ids);
        assert_eq!(ours.size(), expected.size());
        assert!(
            (ours - expected).abs().max().double_value(&[]) < 1e-5,
            "same weights, same encoding"
        );
    }
}
