//! Random weights with SD 1.5's real shapes (CLIP ViT-L/14 text encoder, the 860M-parameter
//! UNet, the KL VAE), in the diffusers layout, for benchmarks: `bench_engine write-sd15 DIR`;
//! and SDXL's (CLIP ViT-L/14 and OpenCLIP ViT-bigG/14 with its projection, the 2.6B-parameter
//! UNet, the same VAE), written in f16 one tensor at a time: `bench_engine write-sdxl DIR`.
//! The UNet and VAE names and shapes are the key lists `tests/data/make_ldm_keys.py` checked
//! against diffusers' own converter. Values are seeded normal noise (0.02 scale, norms at 1), so
//! the images are noise, but every kernel runs at full size.

use std::path::Path;

use tch::{Device, Kind, Tensor};

use super::tiny::write_tensors;

/// Tensor names and shapes.
type Shapes = Vec<(String, Vec<i64>)>;

/// CLIP ViT-L/14's text tower: 12 layers, 768 wide, MLP 3072, 77 positions.
fn clip_shapes() -> Shapes {
    text_shapes(768, 12, 3072, None)
}

/// OpenCLIP ViT-bigG/14's text tower as SDXL's `text_encoder_2`: 32 layers, 1280 wide, MLP 5120,
/// and a 1280-wide projection.
fn big_g_shapes() -> Shapes {
    text_shapes(1280, 32, 5120, Some(1280))
}

/// A CLIP text tower: `layers` layers `width` wide with an MLP of `mlp`, 77 positions, and a
/// bias-free `text_projection` to `projection` when given.
fn text_shapes(width: i64, layers: usize, mlp: i64, projection: Option<i64>) -> Shapes {
    let mut shapes = vec![
        (
            "text_model.embeddings.token_embedding.weight".to_owned(),
            vec![49408, width],
        ),
        (
            "text_model.embeddings.position_embedding.weight".to_owned(),
            vec![77, width],
        ),
        ("text_model.final_layer_norm.weight".to_owned(), vec![width]),
        ("text_model.final_layer_norm.bias".to_owned(), vec![width]),
    ];
    if let Some(projection) = projection {
        shapes.push(("text_projection.weight".to_owned(), vec![projection, width]));
    }
    for layer in 0..layers {
        let prefix = format!("text_model.encoder.layers.{layer}");
        for norm in ["layer_norm1", "layer_norm2"] {
            shapes.push((format!("{prefix}.{norm}.weight"), vec![width]));
            shapes.push((format!("{prefix}.{norm}.bias"), vec![width]));
        }
        for projection in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            let name = format!("{prefix}.self_attn.{projection}");
            shapes.push((format!("{name}.weight"), vec![width, width]));
            shapes.push((format!("{name}.bias"), vec![width]));
        }
        shapes.push((format!("{prefix}.mlp.fc1.weight"), vec![mlp, width]));
        shapes.push((format!("{prefix}.mlp.fc1.bias"), vec![mlp]));
        shapes.push((format!("{prefix}.mlp.fc2.weight"), vec![width, mlp]));
        shapes.push((format!("{prefix}.mlp.fc2.bias"), vec![width]));
    }
    shapes
}

#[derive(serde::Deserialize)]
struct Keys {
    unet: Vec<(String, String, Vec<i64>)>,
    vae: Vec<(String, String, Vec<i64>)>,
    unet_xl: Vec<(String, String, Vec<i64>)>,
}

/// (diffusers name, shape) of every tensor of SD 1.5's UNet, its VAE, and SDXL's UNet.
fn key_lists() -> (Shapes, Shapes, Shapes) {
    let keys: Keys = serde_json::from_str(include_str!("../../tests/data/ldm_keys.json"))
        .expect("the key list parses");
    let named = |list: Vec<(String, String, Vec<i64>)>| {
        list.into_iter()
            .map(|(_, name, shape)| (name, shape))
            .collect()
    };
    (named(keys.unet), named(keys.vae), named(keys.unet_xl))
}

/// (diffusers name, shape) of every UNet and VAE tensor of SD 1.5.
fn unet_and_vae_shapes() -> (Shapes, Shapes) {
    let (unet, vae, _) = key_lists();
    (unet, vae)
}

/// One random tensor: ones for norm weights, else normal noise at 0.02.
fn random_tensor(name: &str, shape: &[i64]) -> Tensor {
    if name.contains("norm") && name.ends_with(".weight") {
        Tensor::ones(shape, (Kind::Float, Device::Cpu))
    } else {
        Tensor::randn(shape, (Kind::Float, Device::Cpu)) * 0.02
    }
}

fn random(shapes: &[(String, Vec<i64>)]) -> Vec<(String, Tensor)> {
    shapes
        .iter()
        .map(|(name, shape)| (name.clone(), random_tensor(name, shape)))
        .collect()
}

/// Writes random f16 tensors of `shapes` to `path`, one tensor in memory at a time.
fn write_random_f16(path: &Path, shapes: &Shapes) -> std::io::Result<()> {
    use crate::models::safetensors::{Entry, write_streamed};
    let entries: Vec<Entry<'_>> = shapes
        .iter()
        .map(|(name, shape)| Entry {
            name,
            dtype: "F16",
            shape: shape.iter().map(|d| *d as u64).collect(),
            bytes: 2 * shape.iter().product::<i64>() as u64,
        })
        .collect();
    write_streamed(path, &entries, |i| {
        let (name, shape) = &shapes[i];
        let half = random_tensor(name, shape).to_kind(Kind::Half).contiguous();
        let numel = half.numel();
        let mut bytes = vec![0u8; 2 * numel];
        half.f_copy_data_u8(&mut bytes, numel)
            .map_err(std::io::Error::other)?;
        Ok(bytes)
    })
}

/// Writes a random-weight SDXL into `dir` (about 7 GB of f16), seeded with `seed`.
pub fn write_sdxl(dir: &Path, seed: i64) -> std::io::Result<()> {
    let (_, vae, unet) = key_lists();
    super::sampler::with_seed(seed, || {
        std::fs::write(dir.join("model_index.json"), "{}")?;
        for (part, file, shapes) in [
            ("text_encoder", "model.safetensors", clip_shapes()),
            ("text_encoder_2", "model.safetensors", big_g_shapes()),
            ("unet", "diffusion_pytorch_model.safetensors", unet),
            ("vae", "diffusion_pytorch_model.safetensors", vae),
        ] {
            std::fs::create_dir_all(dir.join(part))?;
            write_random_f16(&dir.join(part).join(file), &shapes)?;
        }
        Ok(())
    })
}

/// Writes a random LoRA of `rank` for the SD 1.5 that [`write_sd15`] writes, in kohya's
/// naming: every attention projection, feed-forward and transformer in/out projection of the
/// UNet and every attention and MLP projection of the text encoder (the layers a full
/// kohya-trained LoRA adapts), for `bench_engine lora`.
pub fn write_sd15_lora(path: &Path, rank: i64, seed: i64) -> std::io::Result<()> {
    super::sampler::with_seed(seed, || {
        let (unet, _) = unet_and_vae_shapes();
        let adapted = |name: &str| {
            [
                "to_q.weight",
                "to_k.weight",
                "to_v.weight",
                "to_out.0.weight",
                "ff.net.0.proj.weight",
                "ff.net.2.weight",
                "proj_in.weight",
                "proj_out.weight",
                "q_proj.weight",
                "k_proj.weight",
                "v_proj.weight",
                "out_proj.weight",
                "fc1.weight",
                "fc2.weight",
            ]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        };
        let clip = clip_shapes();
        let layers = unet
            .iter()
            .map(|(n, s)| ("lora_unet_", n, s))
            .chain(clip.iter().map(|(n, s)| ("lora_te_", n, s)))
            .filter(|(_, name, _)| adapted(name));
        let mut tensors = Vec::new();
        for (prefix, name, shape) in layers {
            let [module, _] = super::lora::keys_of(name).expect("weight names end so");
            let key = format!("{prefix}{module}");
            let fan_in: i64 = shape[1..].iter().product();
            let random = |dims: [i64; 2]| Tensor::randn(dims, (Kind::Float, Device::Cpu)) * 0.01;
            tensors.push((format!("{key}.lora_down.weight"), random([rank, fan_in])));
            tensors.push((format!("{key}.lora_up.weight"), random([shape[0], rank])));
            tensors.push((format!("{key}.alpha"), Tensor::from(rank as f32)));
        }
        write_tensors(path, tensors)
    })
}

/// Writes a random-weight SD 1.5 into `dir` (about 4.3 GB of f32), seeded with `seed`.
pub fn write_sd15(dir: &Path, seed: i64) -> std::io::Result<()> {
    super::sampler::with_seed(seed, || write_seeded(dir))
}

fn write_seeded(dir: &Path) -> std::io::Result<()> {
    let (unet, vae) = unet_and_vae_shapes();
    std::fs::write(dir.join("model_index.json"), "{}")?;
    for (part, file, shapes) in [
        ("text_encoder", "model.safetensors", clip_shapes()),
        ("unet", "diffusion_pytorch_model.safetensors", unet),
        ("vae", "diffusion_pytorch_model.safetensors", vae),
    ] {
        std::fs::create_dir_all(dir.join(part))?;
        write_tensors(&dir.join(part).join(file), random(&shapes))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_are_sd15s_and_sdxls_parameter_counts() {
        let count = |shapes: &[(String, Vec<i64>)]| -> i64 {
            shapes.iter().map(|(_, s)| s.iter().product::<i64>()).sum()
        };
        let (unet, vae) = unet_and_vae_shapes();
        // The published sizes: CLIP ViT-L/14 text 123.06M, UNet 859.52M, VAE 83.65M.
        assert_eq!(count(&clip_shapes()), 123_060_480);
        assert_eq!(count(&unet), 859_520_964);
        assert_eq!(count(&vae), 83_653_863);
        // SDXL's: OpenCLIP ViT-bigG/14 text with projection 694.66M, UNet 2567.46M.
        let (_, _, unet_xl) = key_lists();
        assert_eq!(count(&big_g_shapes()), 694_659_840);
        assert_eq!(count(&unet_xl), 2_567_463_684);
    }

    #[test]
    fn streamed_f16_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let shapes = vec![
            ("a.norm.weight".to_owned(), vec![3]),
            ("b.weight".to_owned(), vec![2, 5]),
        ];
        write_random_f16(&path, &shapes).unwrap();
        let weights = super::super::weights::Weights::load(
            &path,
            |n| Some(n.to_owned()),
            Device::Cpu,
            Kind::Float,
        )
        .unwrap();
        let norm = weights.get("a.norm.weight", &[3]).unwrap();
        assert!(norm.equal(&Tensor::ones([3], (Kind::Float, Device::Cpu))));
        let b = weights.get("b.weight", &[2, 5]).unwrap();
        assert!(
            b.abs().max().double_value(&[]) < 0.2
                && b.abs().sum(Kind::Float).double_value(&[]) > 0.0
        );
    }
}
