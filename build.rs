//! Build script: rebuild when a migration is added or changed (refinery embeds `migrations/` at
//! compile time and cargo cannot see new files there by itself), and keep libtorch's CUDA library
//! linked. rustc links with `--as-needed`; nothing of ours names a `libtorch_cuda` symbol, so the
//! linker would drop it and `tch::Cuda::is_available()` would silently say false
//! (`../shared/notes/tch.md`). torch-sys exports its lib directory as `DEP_TCH_LIBTORCH_LIB`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=ATELIER_EXTRA_RPATH");
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(PathBuf::from) else {
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-ltorch_cuda");
    }
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // The GPU machine's own torch lib directory, when the binary is carried there.
    if let Some(extra) = std::env::var_os("ATELIER_EXTRA_RPATH") {
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,{}",
            extra.to_string_lossy()
        );
    }
}
