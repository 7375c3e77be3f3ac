//! Loading weights from safetensors files into tch tensors on the engine's device and dtype, with
//! names adapted into one internal naming (diffusers'). Each tensor is read at its offset with a
//! positioned read, so no whole-file buffer is ever held: peak memory is the model itself, the
//! same as with a memory map, and without `unsafe` (a mapped file changed underneath us would be
//! undefined behaviour).

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, bail};
use tch::{Device, Kind, Tensor};

use crate::models::safetensors;

/// Named tensors of one model component.
#[derive(Debug, Default)]
pub struct Weights {
    tensors: HashMap<String, Tensor>,
}

fn kind_of(dtype: &str) -> anyhow::Result<Kind> {
    Ok(match dtype {
        "F32" => Kind::Float,
        "F16" => Kind::Half,
        "BF16" => Kind::BFloat16,
        "F64" => Kind::Double,
        "I64" => Kind::Int64,
        "I32" => Kind::Int,
        other => bail!("unsupported tensor dtype {other}"),
    })
}

impl Weights {
    /// Reads the tensors of `path` whose adapted name `rename` returns, converting floating
    /// tensors to `kind`, onto `device`.
    pub fn load(
        path: &Path,
        rename: impl Fn(&str) -> Option<String>,
        device: Device,
        kind: Kind,
    ) -> anyhow::Result<Self> {
        let header = safetensors::read_header(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let file = std::fs::File::open(path)?;
        let mut len = [0u8; 8];
        file.read_exact_at(&mut len, 0)?;
        let data_start = 8 + u64::from_le_bytes(len);
        let mut tensors = HashMap::new();
        for (name, info) in header {
            let Some(internal) = rename(&name) else {
                continue;
            };
            let [begin, end] = info.data_offsets;
            let mut bytes = vec![0u8; usize::try_from(end - begin)?];
            file.read_exact_at(&mut bytes, data_start + begin)
                .with_context(|| format!("reading {name}"))?;
            let shape: Vec<i64> = info
                .shape
                .iter()
                .map(|d| i64::try_from(*d))
                .collect::<Result<_, _>>()?;
            let source_kind = kind_of(&info.dtype)?;
            let tensor = Tensor::f_from_data_size(&bytes, &shape, source_kind)?;
            let tensor = if matches!(
                source_kind,
                Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double
            ) {
                tensor.to_kind(kind)
            } else {
                tensor
            };
            tensors.insert(internal, tensor.to_device(device));
        }
        Ok(Self { tensors })
    }

    /// Weights from named tensors (tests and converters).
    pub fn from_map(tensors: HashMap<String, Tensor>) -> Self {
        Self { tensors }
    }

    /// The tensor `name`, which must have `shape`.
    pub fn get(&self, name: &str, shape: &[i64]) -> anyhow::Result<Tensor> {
        let tensor = self
            .tensors
            .get(name)
            .with_context(|| format!("the weights have no {name}"))?;
        if tensor.size() != shape {
            bail!("{name} has shape {:?}, expected {shape:?}", tensor.size());
        }
        Ok(tensor.shallow_clone())
    }

    /// The shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<Vec<i64>> {
        self.tensors.get(name).map(Tensor::size)
    }

    /// Names with this prefix.
    pub fn names_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tensors
            .keys()
            .filter(move |k| k.starts_with(prefix))
            .map(String::as_str)
    }

    /// Squeezes the 1x1-convolution weights whose names match into linear weights.
    pub fn squeeze_convolutions(&mut self, matches: impl Fn(&str) -> bool) {
        for (name, tensor) in &mut self.tensors {
            let size = tensor.size();
            if matches(name) && size.len() == 4 && size[2] == 1 && size[3] == 1 {
                *tensor = tensor.reshape([size[0], size[1]]);
            }
        }
    }

    /// Removes and returns the tensor `name` (adapters that reshape or split tensors).
    pub fn take(&mut self, name: &str) -> Option<Tensor> {
        self.tensors.remove(name)
    }

    /// Adds (or replaces) the tensor `name`.
    pub fn insert(&mut self, name: String, tensor: Tensor) {
        self.tensors.insert(name, tensor);
    }

    /// Names of the tensors held.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Bytes held.
    pub fn bytes(&self) -> i64 {
        self.tensors
            .values()
            .map(|t| t.numel() as i64 * t.kind().elt_size_in_bytes() as i64)
            .sum()
    }
}

/// Text-encoder names: a diffusers `text_encoder/` file uses them as they are; an original LDM
/// checkpoint keeps them under `cond_stage_model.transformer.` (with or without `text_model.`).
pub fn clip_name(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("cond_stage_model.transformer.")
        .unwrap_or(name);
    if rest.starts_with("text_model.") {
        return Some(rest.to_owned());
    }
    if name.starts_with("cond_stage_model.transformer.") {
        return Some(format!("text_model.{rest}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::safetensors::{Tensor as Stored, write};

    #[test]
    fn tensors_are_read_at_their_offsets_renamed_and_converted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let a: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let b: Vec<u8> = [5.0f32, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        write(
            &path,
            &[
                Stored {
                    name: "cond_stage_model.transformer.embeddings.a",
                    dtype: "F32",
                    shape: vec![2, 2],
                    data: &a,
                },
                Stored {
                    name: "model.diffusion_model.b",
                    dtype: "F32",
                    shape: vec![2],
                    data: &b,
                },
            ],
        )
        .unwrap();
        let weights = Weights::load(&path, clip_name, Device::Cpu, Kind::Half).unwrap();
        let t = weights.get("text_model.embeddings.a", &[2, 2]).unwrap();
        assert_eq!(t.kind(), Kind::Half);
        assert_eq!(
            Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap(),
            [1.0, 2.0, 3.0, 4.0]
        );
        assert!(
            weights
                .get("text_model.embeddings.a", &[4])
                .unwrap_err()
                .to_string()
                .contains("expected [4]")
        );
        assert!(
            weights.shape("model.diffusion_model.b").is_none(),
            "only text-encoder names are kept"
        );
        assert_eq!(weights.bytes(), 8);
    }
}
