//! Identifying a model from its files: pickle checkpoints are refused before anything is read;
//! safetensors headers are checked; base and type follow from tensor names and shapes (the width
//! of the UNet's cross-attention keys: 768 for SD 1.x, 1024 for SD 2.x, 2048 for SDXL).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::model::{Base, Format, ModelType};
use super::safetensors::{self, HeaderError, TensorInfo};
use crate::error::{ApiError, ErrorCode};

/// What a file or folder turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probed {
    /// The family.
    pub base: Base,
    /// Main checkpoint or VAE.
    pub kind: ModelType,
    /// Single file or diffusers folder.
    pub format: Format,
}

/// Extensions of pickle-based checkpoints, which can run code when loaded.
const PICKLE_EXTENSIONS: [&str; 4] = ["ckpt", "pt", "pth", "bin"];

/// The refusal of a pickle checkpoint.
pub fn pickle_refused() -> ApiError {
    ApiError::new(
        ErrorCode::ModelUnsupportedFormat,
        "pickle checkpoints (.ckpt, .pt, .pth, .bin) can run arbitrary code when loaded, so this \
         server does not load them; convert the model to .safetensors",
    )
}

/// Whether the name alone marks a pickle checkpoint.
pub fn has_pickle_extension(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PICKLE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Probes a `.safetensors` file or a diffusers folder. Blocking: call it off the runtime.
pub fn probe(path: &Path) -> Result<Probed, ApiError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ApiError::new(
            ErrorCode::ModelUnrecognized,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if meta.is_dir() {
        probe_folder(path)
    } else {
        probe_file(path)
    }
}

fn probe_file(path: &Path) -> Result<Probed, ApiError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if has_pickle_extension(name) || starts_like_pickle(path) {
        return Err(pickle_refused());
    }
    let tensors = header(path)?;
    classify_single(&tensors)
}

/// Zip archives (PyTorch's format) and raw pickles, whatever their name.
fn starts_like_pickle(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    read.is_ok() && (magic == *b"PK\x03\x04" || (magic[0] == 0x80 && (2..=5).contains(&magic[1])))
}

fn header(path: &Path) -> Result<std::collections::BTreeMap<String, TensorInfo>, ApiError> {
    safetensors::read_header(path).map_err(|error| match error {
        HeaderError::Corrupt(message) => ApiError::new(
            ErrorCode::ModelCorrupt,
            format!(
                "{} is not a valid safetensors file: {message}",
                file_name(path)
            ),
        ),
        HeaderError::Io(error) => ApiError::new(
            ErrorCode::ModelUnrecognized,
            format!("cannot read {}: {error}", file_name(path)),
        ),
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn unrecognized(message: String) -> ApiError {
    ApiError::new(ErrorCode::ModelUnrecognized, message)
}

/// The base from the width of any cross-attention key projection among `tensors`.
fn base_from_cross_attention<'a>(
    mut tensors: impl Iterator<Item = (&'a String, &'a TensorInfo)>,
) -> Result<Base, ApiError> {
    let width = tensors
        .find(|(name, info)| name.ends_with("attn2.to_k.weight") && info.shape.len() == 2)
        .map(|(_, info)| info.shape[1])
        .ok_or_else(|| unrecognized("the UNet has no cross-attention weights".into()))?;
    match width {
        768 => Ok(Base::Sd1),
        1024 => Ok(Base::Sd2),
        2048 => Ok(Base::Sdxl),
        other => Err(unrecognized(format!(
            "a UNet with {other}-wide cross-attention, which no supported family has"
        ))),
    }
}

fn classify_single(
    tensors: &std::collections::BTreeMap<String, TensorInfo>,
) -> Result<Probed, ApiError> {
    const UNET: &str = "model.diffusion_model.";
    if crate::diffusion::lora::is_lora(tensors.keys().map(String::as_str)) {
        return Ok(Probed {
            base: lora_base(tensors)?,
            kind: ModelType::Lora,
            format: Format::SingleFile,
        });
    }
    if tensors.keys().any(|k| k.starts_with(UNET)) {
        let base = base_from_cross_attention(tensors.iter().filter(|(k, _)| k.starts_with(UNET)))?;
        return Ok(Probed {
            base,
            kind: ModelType::Main,
            format: Format::SingleFile,
        });
    }
    if is_vae(tensors) {
        return Ok(Probed {
            base: Base::Any,
            kind: ModelType::Vae,
            format: Format::SingleFile,
        });
    }
    Err(unrecognized(
        "the file holds neither a Stable Diffusion checkpoint nor a VAE".into(),
    ))
}

/// A LoRA's family, from the input width of an adapted cross-attention key projection (its down
/// weight is `[rank, width]`) or, failing that, of the text encoder's first layer.
fn lora_base(tensors: &std::collections::BTreeMap<String, TensorInfo>) -> Result<Base, ApiError> {
    use crate::diffusion::lora::{Part, down_weight};
    let width_of = |wanted: &dyn Fn(Part, &str) -> bool| {
        tensors
            .iter()
            .filter(|(_, info)| info.shape.len() == 2)
            .find(|(n, _)| down_weight(n).is_some_and(|(part, key)| wanted(part, &key)))
            .map(|(_, info)| info.shape[1])
    };
    let cross =
        width_of(&|part, key| part == Part::Unet && key.contains("attn2") && key.contains("to_k"));
    let text = width_of(&|part, key| part == Part::Text && key.contains("q_proj"));
    let second_encoder = tensors
        .keys()
        .any(|n| down_weight(n).is_some_and(|(part, _)| part == Part::Text2));
    match (cross, text) {
        _ if second_encoder => Ok(Base::Sdxl),
        (Some(768), _) | (None, Some(768)) => Ok(Base::Sd1),
        (Some(1024), _) | (None, Some(1024)) => Ok(Base::Sd2),
        (Some(2048), _) => Ok(Base::Sdxl),
        _ => Err(unrecognized(
            "a LoRA whose family cannot be told: it adapts no cross-attention key projection \
             of a known width"
                .into(),
        )),
    }
}

fn is_vae(tensors: &std::collections::BTreeMap<String, TensorInfo>) -> bool {
    let has = |suffix: &str| {
        tensors
            .keys()
            .any(|k| k == suffix || k.strip_suffix(suffix).is_some_and(|p| p.ends_with('.')))
    };
    has("encoder.conv_in.weight") && has("decoder.conv_out.weight")
}

/// The weights file of a diffusers component folder: `.safetensors` (fp16 variant accepted);
/// a `.bin` alone is a pickle and refused.
fn component_weights(dir: &Path) -> Result<PathBuf, ApiError> {
    for name in [
        "diffusion_pytorch_model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "model.safetensors",
        "model.fp16.safetensors",
    ] {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    if dir.join("diffusion_pytorch_model.bin").is_file() || dir.join("pytorch_model.bin").is_file()
    {
        return Err(pickle_refused());
    }
    Err(unrecognized(format!(
        "{} has no .safetensors weights",
        dir.display()
    )))
}

fn probe_folder(dir: &Path) -> Result<Probed, ApiError> {
    if dir.join("model_index.json").is_file() {
        for part in ["unet", "vae", "text_encoder"] {
            if !dir.join(part).is_dir() {
                return Err(unrecognized(format!(
                    "the diffusers folder has no {part}/ directory"
                )));
            }
        }
        let unet = header(&component_weights(&dir.join("unet"))?)?;
        header(&component_weights(&dir.join("vae"))?)?;
        header(&component_weights(&dir.join("text_encoder"))?)?;
        let base = base_from_cross_attention(unet.iter())?;
        return Ok(Probed {
            base,
            kind: ModelType::Main,
            format: Format::Diffusers,
        });
    }
    if dir.join("config.json").is_file() {
        let weights = header(&component_weights(dir)?)?;
        if is_vae(&weights) {
            return Ok(Probed {
                base: Base::Any,
                kind: ModelType::Vae,
                format: Format::Diffusers,
            });
        }
    }
    Err(unrecognized(format!(
        "{} is neither a diffusers pipeline (model_index.json) nor a VAE folder",
        file_name(dir)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::safetensors::{Tensor, write};

    fn file_with(dir: &Path, name: &str, tensors: &[(&str, Vec<u64>)]) -> PathBuf {
        let path = dir.join(name);
        let data: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, shape)| vec![0u8; (shape.iter().product::<u64>() * 2) as usize])
            .collect();
        let list: Vec<Tensor<'_>> = tensors
            .iter()
            .zip(&data)
            .map(|((name, shape), data)| Tensor {
                name,
                dtype: "F16",
                shape: shape.clone(),
                data,
            })
            .collect();
        write(&path, &list).unwrap();
        path
    }

    const ATTN: &str =
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";

    #[test]
    fn single_files_are_classified_by_cross_attention_width() {
        let dir = tempfile::tempdir().unwrap();
        for (width, base) in [(768, Base::Sd1), (1024, Base::Sd2), (2048, Base::Sdxl)] {
            let path = file_with(
                dir.path(),
                &format!("{width}.safetensors"),
                &[(ATTN, vec![8, width])],
            );
            let probed = probe(&path).unwrap();
            assert_eq!(
                (probed.base, probed.kind, probed.format),
                (base, ModelType::Main, Format::SingleFile)
            );
        }
        let odd = file_with(dir.path(), "odd.safetensors", &[(ATTN, vec![8, 512])]);
        assert_eq!(
            probe(&odd).unwrap_err().code(),
            ErrorCode::ModelUnrecognized
        );
        let vae = file_with(
            dir.path(),
            "vae.safetensors",
            &[
                ("encoder.conv_in.weight", vec![4, 3]),
                ("decoder.conv_out.weight", vec![3, 4]),
            ],
        );
        assert_eq!(probe(&vae).unwrap().kind, ModelType::Vae);
        let other = file_with(
            dir.path(),
            "lora.safetensors",
            &[("lora_unet_down.alpha", vec![1])],
        );
        assert_eq!(
            probe(&other).unwrap_err().code(),
            ErrorCode::ModelUnrecognized
        );
    }

    #[test]
    fn loras_are_recognised_in_both_namings_with_their_family() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &str, u64, Option<Base>); 4] = [
            (
                "kohya",
                "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight",
                768,
                Some(Base::Sd1),
            ),
            (
                "peft",
                "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight",
                1024,
                Some(Base::Sd2),
            ),
            (
                "text-only",
                "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight",
                768,
                Some(Base::Sd1),
            ),
            (
                "self-attention-only",
                "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight",
                320,
                None,
            ),
        ];
        for (name, key, width, base) in cases {
            let path = file_with(
                dir.path(),
                &format!("{name}.safetensors"),
                &[(key, vec![4, width])],
            );
            match base {
                Some(base) => {
                    let probed = probe(&path).unwrap();
                    assert_eq!(
                        (probed.base, probed.kind, probed.format),
                        (base, ModelType::Lora, Format::SingleFile),
                        "{name}"
                    );
                }
                None => assert_eq!(
                    probe(&path).unwrap_err().code(),
                    ErrorCode::ModelUnrecognized,
                    "{name}"
                ),
            }
        }
    }

    #[test]
    fn pickles_are_refused_by_name_and_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("model.ckpt");
        std::fs::write(&named, b"anything").unwrap();
        let zipped = dir.path().join("model.safetensors");
        std::fs::write(&zipped, b"PK\x03\x04rest of a zip").unwrap();
        let pickled = dir.path().join("weights");
        std::fs::write(&pickled, [0x80, 0x04, 0x95, 0x00]).unwrap();
        for path in [named, zipped, pickled] {
            assert_eq!(
                probe(&path).unwrap_err().code(),
                ErrorCode::ModelUnsupportedFormat
            );
        }
    }

    #[test]
    fn diffusers_folders_need_their_parts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pipe");
        for part in ["unet", "vae", "text_encoder"] {
            std::fs::create_dir_all(root.join(part)).unwrap();
        }
        std::fs::write(root.join("model_index.json"), "{}").unwrap();
        file_with(
            &root.join("unet"),
            "diffusion_pytorch_model.safetensors",
            &[(
                "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                vec![8, 1024],
            )],
        );
        file_with(
            &root.join("vae"),
            "diffusion_pytorch_model.safetensors",
            &[("encoder.conv_in.weight", vec![1])],
        );
        assert_eq!(
            probe(&root).unwrap_err().code(),
            ErrorCode::ModelUnrecognized,
            "no text encoder weights"
        );
        file_with(
            &root.join("text_encoder"),
            "model.safetensors",
            &[("text_model.embeddings.position_ids", vec![1])],
        );
        let probed = probe(&root).unwrap();
        assert_eq!((probed.base, probed.format), (Base::Sd2, Format::Diffusers));
        std::fs::remove_file(root.join("unet/diffusion_pytorch_model.safetensors")).unwrap();
        std::fs::write(root.join("unet/diffusion_pytorch_model.bin"), b"x").unwrap();
        assert_eq!(
            probe(&root).unwrap_err().code(),
            ErrorCode::ModelUnsupportedFormat
        );
    }
}
