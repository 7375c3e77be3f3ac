//! Crafted PNGs for the tests and load tests of ingestion: extra chunks inserted into a real
//! PNG, and zTXt chunks whose text inflates to any size (decompression bombs).

use std::io::Write;

/// `png` with `chunks` (type, data) inserted after its signature and IHDR, each with its CRC.
pub fn with_chunks(png: &[u8], chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    // Signature (8) and IHDR (4 + 4 + 13 + 4) come first.
    let mut out = png[..33].to_vec();
    for (kind, data) in chunks {
        let len = u32::try_from(data.len()).expect("a PNG chunk holds less than 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&kind[..]);
        crc.update(data);
        out.extend_from_slice(&kind[..]);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    out.extend_from_slice(&png[33..]);
    out
}

/// A zTXt chunk's data: `keyword`, then `size` bytes of 'a', compressed (1 GiB takes about
/// 1 MiB).
pub fn ztxt(keyword: &str, size: usize) -> Vec<u8> {
    let mut data = keyword.as_bytes().to_vec();
    data.extend_from_slice(&[0, 0]);
    let mut encoder = flate2::write::ZlibEncoder::new(data, flate2::Compression::best());
    let block = vec![b'a'; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        encoder
            .write_all(&block[..n])
            .expect("writing to memory cannot fail");
        left -= n;
    }
    encoder.finish().expect("writing to memory cannot fail")
}
