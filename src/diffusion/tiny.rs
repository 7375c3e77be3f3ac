//! A tiny random-weight model in the diffusers layout, for tests and demonstrations: a 2-layer,
//! 128-wide text encoder with CLIP's whole vocabulary, a two-level UNet with 128-wide
//! cross-attention, and a VAE decoder that upsamples 8x like a real one (about 28 MB). Its
//! weights follow the formula the golden-data scripts in `tests/data/` use. Its cross-attention
//! width belongs to no real family, so the catalogue's probe refuses it; register it directly.

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

/// Writes the tiny model into `dir` (`model_index.json`, `text_encoder/`, `unet/`, `vae/`).
pub fn write_tiny_diffusers(dir: &std::path::Path) -> std::io::Result<()> {
    use crate::models::safetensors::{Tensor as Stored, write};
    let mut clip = names(include_str!("../../tests/data/clip_text_golden.json")).names;
    clip.insert(
        "text_model.embeddings.token_embedding.weight".into(),
        vec![49408, 128],
    );
    let parts = [
        ("text_encoder", "model.safetensors", clip, 0.1, false),
        (
            "unet",
            "diffusion_pytorch_model.safetensors",
            names(include_str!("../../tests/data/unet_golden.json")).names,
            0.05,
            true,
        ),
        (
            "vae",
            "diffusion_pytorch_model.safetensors",
            names(include_str!("../../tests/data/vae_golden.json")).full_scale_names,
            0.05,
            true,
        ),
    ];
    std::fs::write(dir.join("model_index.json"), "{}")?;
    for (part, file, list, scale, norms) in parts {
        std::fs::create_dir_all(dir.join(part))?;
        let weights = formula_weights(&list, scale, norms);
        let data: Vec<(String, Vec<i64>, Vec<u8>)> = list
            .iter()
            .map(|(name, shape)| {
                let values =
                    Vec::<f32>::try_from(weights.get(name, shape).unwrap().flatten(0, -1)).unwrap();
                (
                    name.clone(),
                    shape.clone(),
                    values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            })
            .collect();
        let stored: Vec<Stored<'_>> = data
            .iter()
            .map(|(name, shape, bytes)| Stored {
                name,
                dtype: "F32",
                shape: shape.iter().map(|d| *d as u64).collect(),
                data: bytes,
            })
            .collect();
        write(&dir.join(part).join(file), &stored)?;
    }
    Ok(())
}
