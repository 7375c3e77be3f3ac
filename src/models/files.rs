//! Model files on disk: content hashes (BLAKE3; a folder hashes its sorted relative paths and
//! file contents), copies into the models directory, and the check that keeps API installs and
//! scans inside the configured directories. Blocking: call these off the runtime.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Reports bytes processed so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Every regular file under `root` (itself, if it is a file), sorted, with sizes. Symbolic links
/// are not followed.
pub fn files_of(root: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_file() {
        return Ok(vec![(root.to_path_buf(), meta.len())]);
    }
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                found.push((entry.path(), entry.metadata()?.len()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The size and BLAKE3 hash (hex) of a file or folder.
pub fn hash(root: &Path, progress: Progress<'_>) -> std::io::Result<(u64, String)> {
    let files = files_of(root)?;
    let mut done = 0u64;
    if let [(file, _)] = files.as_slice()
        && file == root
    {
        let mut hasher = blake3::Hasher::new();
        hash_file(file, &mut hasher, &mut done, progress)?;
        return Ok((done, hasher.finalize().to_hex().to_string()));
    }
    let mut outer = blake3::Hasher::new();
    for (file, _) in &files {
        let relative = file.strip_prefix(root).unwrap_or(file);
        let mut inner = blake3::Hasher::new();
        hash_file(file, &mut inner, &mut done, progress)?;
        outer.update(relative.to_string_lossy().as_bytes());
        outer.update(&[0]);
        outer.update(inner.finalize().as_bytes());
    }
    Ok((done, outer.finalize().to_hex().to_string()))
}

fn hash_file(
    path: &Path,
    hasher: &mut blake3::Hasher,
    done: &mut u64,
    progress: Progress<'_>,
) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..n]);
        *done += n as u64;
        progress(*done);
    }
}

/// Copies a file or folder to `dest` (which must not exist).
pub fn copy(src: &Path, dest: &Path) -> std::io::Result<()> {
    let files = files_of(src)?;
    for (file, _) in files {
        let target = match file.strip_prefix(src) {
            Ok(relative) if !relative.as_os_str().is_empty() => dest.join(relative),
            _ => dest.to_path_buf(),
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&file, &target)?;
    }
    Ok(())
}

/// `path`, resolved (symbolic links included), if it lies inside one of `dirs`.
pub fn inside(path: &Path, dirs: &[PathBuf]) -> Option<PathBuf> {
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return None;
    }
    let resolved = path.canonicalize().ok()?;
    dirs.iter()
        .filter_map(|d| d.canonicalize().ok())
        .any(|d| resolved.starts_with(&d) && resolved != d)
        .then_some(resolved)
}

/// A safe file name from a URL's or upload's name: its last segment, with anything but letters,
/// digits, `.`, `-` and `_` replaced, never empty and never hidden.
pub fn safe_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let last = last.split(['?', '#']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "model.safetensors".into()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_hashes_depend_on_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("unet")).unwrap();
        std::fs::write(a.join("unet/w"), b"1").unwrap();
        std::fs::write(a.join("index"), b"2").unwrap();
        let b = dir.path().join("b");
        copy(&a, &b).unwrap();
        let (size, ha) = hash(&a, &|_| {}).unwrap();
        assert_eq!(size, 2);
        assert_eq!(hash(&b, &|_| {}).unwrap().1, ha);
        std::fs::rename(b.join("index"), b.join("other")).unwrap();
        assert_ne!(hash(&b, &|_| {}).unwrap().1, ha);
    }

    #[test]
    fn paths_outside_the_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join("m.safetensors"), b"x").unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), models.join("link")).unwrap();
        let dirs = [models.clone()];
        assert!(inside(&models.join("m.safetensors"), &dirs).is_some());
        assert!(inside(&dir.path().join("secret"), &dirs).is_none());
        assert!(inside(&models.join("../secret"), &dirs).is_none());
        assert!(
            inside(&models.join("link"), &dirs).is_none(),
            "links are resolved"
        );
        assert!(
            inside(&models, &dirs).is_none(),
            "the directory itself is not a model"
        );
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(
            safe_file_name("https://x/a/b/model v2.safetensors?x=1"),
            "model_v2.safetensors"
        );
        assert_eq!(safe_file_name("../../.hidden"), "hidden");
        assert_eq!(safe_file_name(""), "model.safetensors");
    }
}
