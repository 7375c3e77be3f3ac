//! A tiny random-weight model in the diffusers layout, for tests and demonstrations: a 2-layer,
//! 128-wide text encoder with CLIP's whole vocabulary, a two-level UNet with 128-wide
//! cross-attention, and a VAE (decoder and encoder) that scales by 8 like a real one (about 28 MB). Its
//! weights follow the formula the golden-data scripts in `tests/data/` use. Its cross-attention
//! width belongs to no real family, so the catalogue's probe refuses it; register it directly.
//! [`Width::Sd15`] widens the text encoder and the cross-attention keys to SD 1.x's 768, so the
//! probe accepts it (about 180 MB, mostly the token embedding): the UI's end-to-end tests
//! install that one through the API.

use std::collections::{BTreeMap, HashMap};

use tch::{Device, Kind, Tensor};

use super::weights::Weights;

/// Parameter k (in sorted name order) gets element j = `scale * sin(0.1 * (k + 1) + 0.37 * j)`,
/// plus 1 for norm weights when `norms_near_one`.
pub fn formula_weights(
    names: &BTreeMap<String, Vec<i64>>,
    scale: f64,
    norms_near_one: bool,
) -> Weights {
    let tensors: HashMap<String, Tensor> = names
        .iter()
        .enumerate()
        .map(|(k, (name, shape))| {
            let n: i64 = shape.iter().product();
            let j = Tensor::arange(n, (Kind::Double, Device::Cpu));
            let mut values = ((j * 0.37) + 0.1 * (k as f64 + 1.0)).sin() * scale;
            if norms_near_one && name.contains("norm") && name.ends_with("weight") {
                values += 1.0;
            }
            (
                name.clone(),
                values.to_kind(Kind::Float).reshape(shape.as_slice()),
            )
        })
        .collect();
    Weights::from_map(tensors)
}

#[derive(serde::Deserialize)]
struct Names {
    names: BTreeMap<String, Vec<i64>>,
    #[serde(default)]
    full_scale_names: BTreeMap<String, Vec<i64>>,
}

fn names(json: &str) -> Names {
    serde_json::from_str(json).expect("golden name lists parse")
}

/// The text width of a tiny model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 128 wide: the golden-data configuration, the smallest.
    Tiny,
    /// 768 wide like SD 1.x, so the catalogue's probe takes it as an SD 1.x model.
    Sd15,
}

/// Writes the tiny model into `dir` (`model_index.json`, `text_encoder/`, `unet/`, `vae/`).
pub fn write_tiny_diffusers(dir: &std::path::Path) -> std::io::Result<()> {
    write_diffusers(dir, Width::Tiny)
}

/// Writes a tiny model of the given text width into `dir`, in the diffusers layout.
pub fn write_diffusers(dir: &std::path::Path, width: Width) -> std::io::Result<()> {
    let [clip, unet, decoder, encoder] = parts(width);
    std::fs::write(dir.join("model_index.json"), "{}")?;
    for (part, file, sources) in [
        ("text_encoder", "model.safetensors", vec![clip]),
        ("unet", "diffusion_pytorch_model.safetensors", vec![unet]),
        (
            "vae",
            "diffusion_pytorch_model.safetensors",
            vec![decoder, encoder],
        ),
    ] {
        std::fs::create_dir_all(dir.join(part))?;
        let tensors = sources
            .iter()
            .flat_map(|(weights, list)| {
                list.iter()
                    .map(|(name, shape)| (name.clone(), tensor(weights, name, shape)))
            })
            .collect();
        write_tensors(&dir.join(part).join(file), tensors)?;
    }
    Ok(())
}

/// Writes the same model as one `.safetensors` file in the original LDM layout, with the names
/// diffusers' own converter maps to the diffusers folder's (`tests/data/ldm_keys.json`), so both
/// layouts hold identical weights.
pub fn write_tiny_single_file(path: &std::path::Path) -> std::io::Result<()> {
    write_single_file(path, false)
}

/// The same model as an SD 2.x-style single file: the text encoder in OpenCLIP's naming (fused
/// attention projections) with one more block after its own two, which SD 2.x never uses (it
/// reads the penultimate layer). Loaded, it is the diffusers folder with v-prediction.
pub fn write_tiny_single_file_sd2(path: &std::path::Path) -> std::io::Result<()> {
    write_single_file(path, true)
}

fn write_single_file(path: &std::path::Path, open_clip: bool) -> std::io::Result<()> {
    #[derive(serde::Deserialize)]
    struct LdmKeys {
        tiny_unet: Vec<(String, String, Vec<i64>)>,
        tiny_vae: Vec<(String, String, Vec<i64>)>,
    }
    let keys: LdmKeys = serde_json::from_str(include_str!("../../tests/data/ldm_keys.json"))
        .expect("the key list parses");
    let [
        (clip, clip_names),
        (unet, _),
        (decoder, _),
        (encoder, encoder_names),
    ] = parts(Width::Tiny);
    let text = clip_names
        .iter()
        .map(|(name, shape)| (name.clone(), tensor(&clip, name, shape)));
    let mut tensors: Vec<(String, Tensor)> = if open_clip {
        super::open_clip::from_diffusers(text.collect())
    } else {
        text.map(|(name, t)| (format!("cond_stage_model.transformer.{name}"), t))
            .collect()
    };
    for (ldm, name, shape) in &keys.tiny_unet {
        tensors.push((ldm.clone(), tensor(&unet, name, shape)));
    }
    for (ldm, name, shape) in &keys.tiny_vae {
        let vae = if encoder_names.contains_key(name) {
            &encoder
        } else {
            &decoder
        };
        let mut value = tensor(vae, name, shape);
        if super::ldm::is_vae_attention_projection(name) {
            value = value.reshape([shape[0], shape[1], 1, 1]);
        }
        tensors.push((ldm.clone(), value));
    }
    write_tensors(path, tensors)
}

/// Writes a LoRA (kohya's naming, rank 4, formula weights) for the tiny model of `width` into
/// `path`: it adapts every self-attention query and cross-attention key projection of the UNet
/// and the text encoder's first query projection, enough to change the images visibly. The
/// catalogue's probe takes it as an SD 1.x LoRA when `width` is [`Width::Sd15`].
pub fn write_lora(path: &std::path::Path, width: Width) -> std::io::Result<()> {
    let [(_, clip), (_, unet), ..] = parts(width);
    const RANK: i64 = 4;
    let mut shapes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut keys = Vec::new();
    let layers = unet
        .iter()
        .filter(|(n, _)| n.ends_with("attn1.to_q.weight") || n.ends_with("attn2.to_k.weight"))
        .map(|(n, shape)| (format!("lora_unet_{n}"), shape))
        .chain(
            clip.iter()
                .filter(|(n, _)| {
                    n.as_str() == "text_model.encoder.layers.0.self_attn.q_proj.weight"
                })
                .map(|(n, shape)| (format!("lora_te_{n}"), shape)),
        );
    for (name, shape) in layers {
        let [key, _] = super::lora::keys_of(&name).expect("weight names end so");
        shapes.insert(format!("{key}.lora_down.weight"), vec![RANK, shape[1]]);
        shapes.insert(format!("{key}.lora_up.weight"), vec![shape[0], RANK]);
        keys.push(key);
    }
    let weights = formula_weights(&shapes, 0.3, false);
    let mut tensors: Vec<(String, Tensor)> = shapes
        .iter()
        .map(|(name, shape)| (name.clone(), tensor(&weights, name, shape)))
        .collect();
    for key in keys {
        tensors.push((format!("{key}.alpha"), Tensor::from(RANK as f32)));
    }
    write_tensors(path, tensors)
}

/// The formula weights and name lists of the text encoder, UNet, VAE decoder and VAE encoder.
fn parts(width: Width) -> [(Weights, BTreeMap<String, Vec<i64>>); 4] {
    let mut clip = names(include_str!("../../tests/data/clip_text_golden.json")).names;
    clip.insert(
        "text_model.embeddings.token_embedding.weight".into(),
        vec![49408, 128],
    );
    let mut unet = names(include_str!("../../tests/data/unet_golden.json")).names;
    if width == Width::Sd15 {
        // The text encoder's hidden size is every 128 in its shapes (its MLP is 256 wide);
        // the UNet sees it only as the input width of the cross-attention keys and values.
        for shape in clip.values_mut() {
            shape
                .iter_mut()
                .filter(|d| **d == 128)
                .for_each(|d| *d = 768);
        }
        for (name, shape) in unet.iter_mut() {
            if name.contains("attn2.to_k.") || name.contains("attn2.to_v.") {
                shape[1] = 768;
            }
        }
    }
    let decoder = names(include_str!("../../tests/data/vae_golden.json")).full_scale_names;
    let encoder = names(include_str!("../../tests/data/vae_encoder_golden.json")).full_scale_names;
    [
        (formula_weights(&clip, 0.1, false), clip),
        (formula_weights(&unet, 0.05, true), unet),
        (formula_weights(&decoder, 0.05, true), decoder),
        (formula_weights(&encoder, 0.05, true), encoder),
    ]
}

fn tensor(weights: &Weights, name: &str, shape: &[i64]) -> Tensor {
    weights
        .get(name, shape)
        .expect("formula weights have every name")
}

pub(super) fn write_tensors(
    path: &std::path::Path,
    tensors: Vec<(String, Tensor)>,
) -> std::io::Result<()> {
    use crate::models::safetensors::{Tensor as Stored, write};
    let data: Vec<(String, Vec<u64>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, tensor)| {
            let shape = tensor.size().iter().map(|d| *d as u64).collect();
            let values = Vec::<f32>::try_from(tensor.flatten(0, -1)).expect("f32 tensors convert");
            (
                name,
                shape,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let stored: Vec<Stored<'_>> = data
        .iter()
        .map(|(name, shape, bytes)| Stored {
            name,
            dtype: "F32",
            shape: shape.clone(),
            data: bytes,
        })
        .collect();
    write(path, &stored)
}
