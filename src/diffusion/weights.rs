//! Loading weights from safetensors files into tch tensors on the engine's device and dtype, with
//! names adapted into one internal naming (diffusers'). The file is memory-mapped by libtorch
//! (`Tensor::from_file`, a private read-only-file mapping), so this crate stays free of `unsafe`:
//! each tensor is a view into the mapping, copied only where it must change device or dtype. A
//! CPU engine whose dtype matches the file keeps the views, so its weights are the page cache's
//! pages, shared by every process that maps the file. Where mapping fails, tensors are read at
//! their offsets with positioned reads instead; either way no whole-file buffer is ever held.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, bail};
use tch::{Device, Kind, Tensor};

use crate::models::safetensors::{self, TensorInfo};

/// Named tensors of one model component.
#[derive(Debug, Default)]
pub struct Weights {
    tensors: HashMap<String, Tensor>,
}

/// How tensor bytes come out of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Memory-map the file (falling back to `Read` where mapping fails).
    Map,
    /// Positioned reads, one tensor at a time.
    Read,
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

fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double
    )
}

/// Where the bytes of a file's tensors come from.
enum Source {
    /// The whole file as one mapped `u8` tensor.
    Mapped(Tensor),
    /// The open file, read tensor by tensor.
    File(std::fs::File),
}

impl Source {
    fn open(path: &Path, access: Access) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path)?;
        if access == Access::Map {
            let len = i64::try_from(file.metadata()?.len())?;
            match path
                .to_str()
                .map(|p| Tensor::f_from_file(p, false, Some(len), (Kind::Uint8, Device::Cpu)))
            {
                Some(Ok(mapped)) => return Ok(Self::Mapped(mapped)),
                Some(Err(e)) => tracing::warn!(
                    path = %path.display(),
                    "cannot memory-map the weights, reading them instead: {e}"
                ),
                None => tracing::warn!(
                    path = %path.display(),
                    "the path is not UTF-8, so the weights are read rather than mapped"
                ),
            }
        }
        Ok(Self::File(file))
    }

    /// The tensor at `begin..end` of the file as it is stored (a view of the mapping, or a
    /// fresh CPU tensor).
    fn tensor(&self, begin: u64, end: u64, kind: Kind, shape: &[i64]) -> anyhow::Result<Tensor> {
        let len = usize::try_from(end - begin)?;
        match self {
            Self::Mapped(mapped) => {
                let bytes = mapped.f_narrow(0, i64::try_from(begin)?, i64::try_from(len)?)?;
                // A dtype view needs the offset aligned to the element size; a misaligned
                // tensor (possible in a hand-written file) is copied out first.
                let aligned = begin.is_multiple_of(kind.elt_size_in_bytes() as u64);
                let bytes = if aligned {
                    bytes
                } else {
                    bytes.f_contiguous()?.copy()
                };
                Ok(bytes.f_view_dtype(kind)?.f_reshape(shape)?)
            }
            Self::File(file) => {
                let mut bytes = vec![0u8; len];
                file.read_exact_at(&mut bytes, begin)?;
                Ok(Tensor::f_from_data_size(&bytes, shape, kind)?)
            }
        }
    }
}

impl Weights {
    /// Reads the tensors of `path` whose adapted name `rename` returns, converting floating
    /// tensors to `kind`, onto `device`, through a memory map.
    pub fn load(
        path: &Path,
        rename: impl Fn(&str) -> Option<String>,
        device: Device,
        kind: Kind,
    ) -> anyhow::Result<Self> {
        Self::load_with(path, rename, device, kind, Access::Map)
    }

    /// [`Weights::load`] with a chosen access (the load benchmark compares the two).
    pub fn load_with(
        path: &Path,
        rename: impl Fn(&str) -> Option<String>,
        device: Device,
        kind: Kind,
        access: Access,
    ) -> anyhow::Result<Self> {
        let header = safetensors::read_header(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let source = Source::open(path, access)?;
        let mut len = [0u8; 8];
        std::fs::File::open(path)?.read_exact_at(&mut len, 0)?;
        let data_start = 8 + u64::from_le_bytes(len);
        let mut tensors = HashMap::new();
        for (name, info) in header {
            let Some(internal) = rename(&name) else {
                continue;
            };
            let tensor = load_one(&source, data_start, &info, device, kind)
                .with_context(|| format!("{}: reading {name}", path.display()))?;
            tensors.insert(internal, tensor);
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

    /// The dtype of the tensors held (any one's; loading gives them all the same).
    pub fn kind(&self) -> Option<Kind> {
        self.tensors.values().next().map(Tensor::kind)
    }

    /// The names held.
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

/// One tensor, on `device` and (if floating) of `kind`. A mapped tensor that needs neither a
/// new device nor a new dtype stays a view of the mapping.
fn load_one(
    source: &Source,
    data_start: u64,
    info: &TensorInfo,
    device: Device,
    kind: Kind,
) -> anyhow::Result<Tensor> {
    let [begin, end] = info.data_offsets;
    let shape: Vec<i64> = info
        .shape
        .iter()
        .map(|d| i64::try_from(*d))
        .collect::<Result<_, _>>()?;
    let stored = kind_of(&info.dtype)?;
    let stored_tensor = source.tensor(data_start + begin, data_start + end, stored, &shape)?;
    let target = if is_float(stored) { kind } else { stored };
    if target == stored && device == Device::Cpu {
        return Ok(stored_tensor);
    }
    Ok(stored_tensor.f_to_device_(device, target, false, false)?)
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

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn values(weights: &Weights, name: &str, shape: &[i64]) -> Vec<f32> {
        let t = weights.get(name, shape).unwrap();
        Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap()
    }

    #[test]
    fn mapped_and_read_loads_agree_even_with_misaligned_tensors() {
        // A header of odd length puts every tensor at an odd file offset, which a dtype view of
        // the mapping cannot take, so those tensors are copied out of it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.safetensors");
        let header = br#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"i":{"dtype":"I64","shape":[],"data_offsets":[12,20]}}"#;
        assert_eq!(header.len() % 2, 1);
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header);
        file.extend(f32_bytes(&[1.5, -2.0, 3.25]));
        file.extend(7i64.to_le_bytes());
        std::fs::write(&path, file).unwrap();
        for access in [Access::Map, Access::Read] {
            for kind in [Kind::Float, Kind::Half] {
                let w = Weights::load_with(&path, |n| Some(n.into()), Device::Cpu, kind, access)
                    .unwrap();
                assert_eq!(
                    values(&w, "a", &[3]),
                    [1.5, -2.0, 3.25],
                    "{access:?} {kind:?}"
                );
                let i = w.get("i", &[]).unwrap();
                assert_eq!(i.kind(), Kind::Int64, "integers keep their dtype");
                assert_eq!(i64::try_from(i).unwrap(), 7);
            }
        }
    }

    #[test]
    fn a_cpu_load_in_the_files_dtype_shares_the_files_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let data = f32_bytes(&[1.0, 2.0]);
        let stored = Stored {
            name: "w",
            dtype: "F32",
            shape: vec![2],
            data: &data,
        };
        write(&path, &[stored]).unwrap();
        let load = |access, kind| {
            Weights::load_with(&path, |n| Some(n.into()), Device::Cpu, kind, access).unwrap()
        };
        let (mapped, converted, read) = (
            load(Access::Map, Kind::Float),
            load(Access::Map, Kind::Half),
            load(Access::Read, Kind::Float),
        );
        // Rewrite the tensor's bytes in place: only the zero-copy view sees the file change.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let offset = std::fs::metadata(&path).unwrap().len() - 8;
        file.write_all_at(&f32_bytes(&[10.0, 20.0]), offset)
            .unwrap();
        drop(file);
        assert_eq!(
            values(&mapped, "w", &[2]),
            [10.0, 20.0],
            "a view of the mapping"
        );
        assert_eq!(
            values(&converted, "w", &[2]),
            [1.0, 2.0],
            "converted, so copied"
        );
        assert_eq!(
            values(&read, "w", &[2]),
            [1.0, 2.0],
            "read into its own memory"
        );
    }
}
