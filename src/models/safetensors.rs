//! The safetensors container: reading and checking a file's header without reading its tensors,
//! and writing a file (used for converted or generated weights, and by tests).
//!
//! Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping tensor names to
//! `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the end of the header),
//! then the tensor data.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use serde::Deserialize;

/// Headers above this are refused (real SD checkpoints have headers of a few hundred KiB).
const MAX_HEADER: u64 = 100 << 20;

/// One tensor's entry.
#[derive(Clone, Debug, Deserialize)]
pub struct TensorInfo {
    /// `F16`, `F32`, `BF16`, …
    pub dtype: String,
    /// Dimensions.
    pub shape: Vec<u64>,
    /// Byte range within the data section.
    pub data_offsets: [u64; 2],
}

/// What is wrong with a file.
#[derive(Debug)]
pub enum HeaderError {
    /// Reading failed.
    Io(std::io::Error),
    /// The header is inconsistent or the file is truncated.
    Corrupt(String),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Io(error) => write!(f, "cannot read the file: {error}"),
            HeaderError::Corrupt(message) => f.write_str(message),
        }
    }
}

impl From<std::io::Error> for HeaderError {
    fn from(error: std::io::Error) -> Self {
        HeaderError::Io(error)
    }
}

fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        _ => return None,
    })
}

/// Reads and checks the header of `path`: every tensor's bytes must lie inside the file and match
/// its dtype and shape. Reads only the header.
pub fn read_header(path: &Path) -> Result<BTreeMap<String, TensorInfo>, HeaderError> {
    let corrupt = |msg: String| HeaderError::Corrupt(msg);
    let mut file = std::fs::File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| corrupt("the file is too short to be safetensors".into()))?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER || 8 + header_len > file_len {
        return Err(corrupt(format!(
            "the header length ({header_len} bytes) does not fit the file ({file_len} bytes)"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)?;
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| corrupt(format!("the header is not valid JSON: {e}")))?;
    let data_len = file_len - 8 - header_len;
    let mut tensors = BTreeMap::new();
    for (name, value) in raw {
        if name == "__metadata__" {
            continue;
        }
        let info: TensorInfo =
            serde_json::from_value(value).map_err(|e| corrupt(format!("tensor {name}: {e}")))?;
        let size = dtype_size(&info.dtype)
            .ok_or_else(|| corrupt(format!("tensor {name}: unknown dtype {}", info.dtype)))?;
        let elements = info
            .shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
            .and_then(|n| n.checked_mul(size))
            .ok_or_else(|| corrupt(format!("tensor {name}: its shape overflows")))?;
        let [begin, end] = info.data_offsets;
        if begin > end || end > data_len || end - begin != elements {
            return Err(corrupt(format!(
                "tensor {name} lies outside the file or does not match its shape (the file may be truncated)"
            )));
        }
        tensors.insert(name, info);
    }
    if tensors.is_empty() {
        return Err(corrupt("the file holds no tensors".into()));
    }
    Ok(tensors)
}

/// A tensor to write: name, dtype, shape and its bytes (little-endian).
pub struct Tensor<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its dtype (`F32`, `F16`, …).
    pub dtype: &'a str,
    /// Its dimensions.
    pub shape: Vec<u64>,
    /// `product(shape) * dtype size` bytes.
    pub data: &'a [u8],
}

/// Writes `tensors` as a safetensors file.
pub fn write(path: &Path, tensors: &[Tensor<'_>]) -> std::io::Result<()> {
    let entries: Vec<Entry<'_>> = tensors
        .iter()
        .map(|t| Entry {
            name: t.name,
            dtype: t.dtype,
            shape: t.shape.clone(),
            bytes: t.data.len() as u64,
        })
        .collect();
    write_streamed(path, &entries, |i| Ok(tensors[i].data.to_vec()))
}

/// One tensor of a file written by [`write_streamed`]: what the header says of it.
pub struct Entry<'a> {
    /// Its name.
    pub name: &'a str,
    /// The safetensors dtype (`F32`, `F16`, …).
    pub dtype: &'a str,
    /// Its shape.
    pub shape: Vec<u64>,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Writes a safetensors file whose tensors' bytes `data(i)` makes one at a time, in order, so
/// that files larger than memory can be written.
pub fn write_streamed(
    path: &Path,
    entries: &[Entry<'_>],
    mut data: impl FnMut(usize) -> std::io::Result<Vec<u8>>,
) -> std::io::Result<()> {
    let mut header = serde_json::Map::new();
    let mut offset = 0u64;
    for entry in entries {
        let end = offset + entry.bytes;
        header.insert(
            entry.name.to_owned(),
            serde_json::json!({"dtype": entry.dtype, "shape": entry.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&header)?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(&(json.len() as u64).to_le_bytes())?;
    out.write_all(&json)?;
    for (i, entry) in entries.iter().enumerate() {
        let bytes = data(i)?;
        if bytes.len() as u64 != entry.bytes {
            return Err(std::io::Error::other(format!(
                "{} has {} bytes, not the {} its header says",
                entry.name,
                bytes.len(),
                entry.bytes
            )));
        }
        out.write_all(&bytes)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_and_truncation_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let data = vec![0u8; 2 * 3 * 4];
        write(
            &path,
            &[Tensor {
                name: "w",
                dtype: "F32",
                shape: vec![2, 3],
                data: &data,
            }],
        )
        .unwrap();
        let header = read_header(&path).unwrap();
        assert_eq!(header["w"].shape, vec![2, 3]);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        let error = read_header(&path).unwrap_err().to_string();
        assert!(error.contains("truncated"), "{error}");
        std::fs::write(&path, &bytes[..5]).unwrap();
        assert!(read_header(&path).is_err());
        std::fs::write(&path, u64::MAX.to_le_bytes()).unwrap();
        assert!(
            read_header(&path)
                .unwrap_err()
                .to_string()
                .contains("does not fit")
        );
    }
}
