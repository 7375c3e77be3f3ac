//! A tiny random-weight model in the diffusers layout, for tests and demonstrations: a 2-layer,
//! 128-wide text encoder with CLIP's whole vocabulary, a two-level UNet with 128-wide
//! cross-attention, and a VAE (decoder and encoder) that scales by 8 like a real one (about 28 MB). Its
//! weights follow the formula the golden-data scripts in `tests/data/` use. Its cross-attention
//! width belongs to no real family, so the catalogue's probe refuses it; register it directly.
//! [`Width::Sd15`] widens the text encoder and the cross-attention keys to SD 1.x's 768, so the
//! probe accepts it (about 180 MB, mostly the token embedding): the UI's end-to-end tests
//! install that one through the API. [`write_sdxl_diffusers`] and [`write_sdxl_single_file`]
//! write a tiny SDXL-shaped model: two 64-wide text encoders (the second with a 32-wide
//! projection), the UNet of `tests/data/unet_xl_golden.json` (added conditioning, two transformer
//! blocks in its second level) and the same VAE.

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
    write_folder(
        dir,
        vec![
            ("text_encoder", "model.safetensors", vec![clip]),
            ("unet", "diffusion_pytorch_model.safetensors", vec![unet]),
            (
                "vae",
                "diffusion_pytorch_model.safetensors",
                vec![decoder, encoder],
            ),
        ],
    )
}

/// Writes the tiny SDXL-shaped model into `dir`, in the diffusers layout (`text_encoder_2/` too).
pub fn write_sdxl_diffusers(dir: &std::path::Path) -> std::io::Result<()> {
    let [clip, clip2, unet, decoder, encoder] = sdxl_parts();
    write_folder(
        dir,
        vec![
            ("text_encoder", "model.safetensors", vec![clip]),
            ("text_encoder_2", "model.safetensors", vec![clip2]),
            ("unet", "diffusion_pytorch_model.safetensors", vec![unet]),
            (
                "vae",
                "diffusion_pytorch_model.safetensors",
                vec![decoder, encoder],
            ),
        ],
    )
}

/// The same SDXL-shaped model as one file in the original layout: the first encoder under
/// `conditioner.embedders.0.transformer.`, the second in OpenCLIP's naming under
/// `conditioner.embedders.1.model.`, the UNet in the LDM names diffusers' converter maps to the
/// folder's (`tests/data/ldm_keys.json`), and the VAE as SD's.
pub fn write_sdxl_single_file(path: &std::path::Path) -> std::io::Result<()> {
    let keys = ldm_keys();
    let [
        (clip, clip_names),
        (clip2, clip2_names),
        (unet, _),
        decoder,
        encoder,
    ] = sdxl_parts();
    let mut tensors: Vec<(String, Tensor)> = clip_names
        .iter()
        .map(|(name, shape)| {
            let key = format!("{}{name}", super::open_clip::SDXL_CLIP);
            (key, tensor(&clip, name, shape))
        })
        .collect();
    let second = clip2_names
        .iter()
        .map(|(name, shape)| (name.clone(), tensor(&clip2, name, shape)))
        .collect();
    tensors.extend(super::open_clip::from_diffusers(
        super::open_clip::SDXL,
        second,
        false,
    ));
    for (ldm, name, shape) in &keys.tiny_unet_xl {
        tensors.push((ldm.clone(), tensor(&unet, name, shape)));
    }
    tensors.extend(ldm_vae(&keys, decoder, encoder));
    write_tensors(path, tensors)
}

type Source = (Weights, BTreeMap<String, Vec<i64>>);

/// Writes each `(folder, file, sources)` of a diffusers model into `dir`.
fn write_folder(
    dir: &std::path::Path,
    parts: Vec<(&str, &str, Vec<Source>)>,
) -> std::io::Result<()> {
    std::fs::write(dir.join("model_index.json"), "{}")?;
    for (part, file, sources) in parts {
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

#[derive(serde::Deserialize)]
struct LdmKeys {
    tiny_unet: Vec<(String, String, Vec<i64>)>,
    tiny_unet_xl: Vec<(String, String, Vec<i64>)>,
    tiny_vae: Vec<(String, String, Vec<i64>)>,
}

fn ldm_keys() -> LdmKeys {
    serde_json::from_str(include_str!("../../tests/data/ldm_keys.json"))
        .expect("the key list parses")
}

/// The tiny VAE's tensors under their LDM names.
fn ldm_vae(keys: &LdmKeys, decoder: Source, encoder: Source) -> Vec<(String, Tensor)> {
    let (decoder, _) = decoder;
    let (encoder, encoder_names) = encoder;
    keys.tiny_vae
        .iter()
        .map(|(ldm, name, shape)| {
            let vae = if encoder_names.contains_key(name) {
                &encoder
            } else {
                &decoder
            };
            let mut value = tensor(vae, name, shape);
            if super::ldm::is_vae_attention_projection(name) {
                value = value.reshape([shape[0], shape[1], 1, 1]);
            }
            (ldm.clone(), value)
        })
        .collect()
}

fn write_single_file(path: &std::path::Path, open_clip: bool) -> std::io::Result<()> {
    let keys = ldm_keys();
    let [(clip, clip_names), (unet, _), decoder, encoder] = parts(Width::Tiny);
    let text = clip_names
        .iter()
        .map(|(name, shape)| (name.clone(), tensor(&clip, name, shape)));
    let mut tensors: Vec<(String, Tensor)> = if open_clip {
        super::open_clip::from_diffusers(super::open_clip::SD2, text.collect(), true)
    } else {
        text.map(|(name, t)| (format!("cond_stage_model.transformer.{name}"), t))
            .collect()
    };
    for (ldm, name, shape) in &keys.tiny_unet {
        tensors.push((ldm.clone(), tensor(&unet, name, shape)));
    }
    tensors.extend(ldm_vae(&keys, decoder, encoder));
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

/// The formula weights and name lists of the tiny SDXL model's two text encoders (64 wide; the
/// second with different values and a projection to 32), UNet, VAE decoder and VAE encoder.
fn sdxl_parts() -> [Source; 5] {
    let [
        (_, clip),
        _,
        (decoder_weights, decoder),
        (encoder_weights, encoder),
    ] = parts(Width::Tiny);
    let mut clip = clip;
    for shape in clip.values_mut() {
        shape
            .iter_mut()
            .filter(|d| **d == 128)
            .for_each(|d| *d = 64);
    }
    let mut clip2 = clip.clone();
    clip2.insert("text_projection.weight".into(), vec![32, 64]);
    let unet = names(include_str!("../../tests/data/unet_xl_golden.json")).names;
    [
        (formula_weights(&clip, 0.1, false), clip),
        (formula_weights(&clip2, 0.12, false), clip2),
        (formula_weights(&unet, 0.05, true), unet),
        (decoder_weights, decoder),
        (encoder_weights, encoder),
    ]
}

/// The formula weights and name lists of the text encoder, UNet, VAE decoder and VAE encoder.
fn parts(width: Width) -> [Source; 4] {
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
