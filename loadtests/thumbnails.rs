//! Thumbnail weight: the lossy WebP thumbnails the server makes against the lossless ones it
//! made before, for the images named on the command line (photos, generated images), and what a
//! gallery page of 100 thumbnails moves.
//!
//! Run: `cargo run --release --example bench_thumbnails -- IMAGE...`

use std::io::Cursor;

use atelier::images::ingest::{Source, THUMBNAIL_SIZE, probe};

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    assert!(!paths.is_empty(), "usage: bench_thumbnails IMAGE...");
    let (mut lossy_total, mut lossless_total) = (0usize, 0usize);
    for path in &paths {
        let bytes = std::fs::read(path).expect("readable image");
        let probed =
            probe(&Source::Memory(bytes.clone().into()), None, 64 << 20).expect("an image");
        let decoded = image::load_from_memory(&bytes).expect("decodable");
        let thumb = decoded.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE).to_rgba8();
        let mut lossless = Cursor::new(Vec::new());
        thumb
            .write_to(&mut lossless, image::ImageFormat::WebP)
            .expect("lossless WebP");
        let lossless = lossless.into_inner().len();
        println!(
            "{path}: {}x{}, thumbnail lossy {} B, lossless {} B ({:.1}x smaller)",
            probed.width,
            probed.height,
            probed.thumbnail.len(),
            lossless,
            lossless as f64 / probed.thumbnail.len() as f64
        );
        lossy_total += probed.thumbnail.len();
        lossless_total += lossless;
    }
    let n = paths.len();
    println!(
        "average: lossy {} B, lossless {} B; a page of 100: {:.0} KB against {:.0} KB",
        lossy_total / n,
        lossless_total / n,
        lossy_total as f64 / n as f64 * 100.0 / 1000.0,
        lossless_total as f64 / n as f64 * 100.0 / 1000.0
    );
}
