//! Build script: rebuild when a migration is added or changed, because refinery embeds the
//! `migrations/` directory at compile time and cargo cannot see new files there by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
