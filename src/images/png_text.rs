//! Bounded reading of a PNG's text chunks (tEXt, zTXt, iTXt): the chunk stream is walked with
//! seeks, only the keywords the app shows are kept, and compressed text is inflated no further
//! than what is left of a fixed budget, so a decompression bomb costs a few hundred KiB.

use std::io::{self, Read, Seek};

/// All kept text together, decompressed, is at most this many bytes; a chunk that would pass it
/// is left out whole (a cut JSON document would be useless).
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// At most this many text chunks are looked at; later ones are ignored.
pub const MAX_TEXT_CHUNKS: usize = 32;
/// At most this many chunks of any kind are walked (a file of empty chunks costs no more).
pub const MAX_CHUNKS: usize = 4096;
/// The keywords kept: our own parameters, and those of the tools users bring images from
/// (A1111 and Forge, ComfyUI, InvokeAI), plus the standard descriptive ones.
pub const KEPT_KEYWORDS: &[&str] = &[
    "atelier",
    "parameters",
    "prompt",
    "workflow",
    "invokeai_metadata",
    "invokeai_graph",
    "sd-metadata",
    "Title",
    "Description",
    "Comment",
    "Software",
    "Author",
];

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
/// A PNG keyword is 1 to 79 bytes.
const MAX_KEYWORD: usize = 79;

/// The kept text chunks as (keyword, text), in file order. A malformed stream ends the walk
/// with what was read so far; only I/O errors of the reader are returned.
pub fn read(mut reader: impl Read + Seek) -> io::Result<Vec<(String, String)>> {
    let mut signature = [0u8; 8];
    if reader.read_exact(&mut signature).is_err() || signature != SIGNATURE {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    let mut budget = MAX_TEXT_BYTES;
    let mut seen = 0;
    let mut chunks = 0;
    loop {
        let mut header = [0u8; 8];
        if reader.read_exact(&mut header).is_err() {
            break;
        }
        let len = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let kind = [header[4], header[5], header[6], header[7]];
        if &kind == b"IEND" {
            break;
        }
        let start = reader.stream_position()?;
        let is_text = matches!(&kind, b"tEXt" | b"zTXt" | b"iTXt");
        if is_text && seen < MAX_TEXT_CHUNKS {
            seen += 1;
            let mut data = (&mut reader).take(len);
            // The budget counts stored (UTF-8) bytes: Latin-1 text can double when converted,
            // so the check is on the converted text, never a subtraction that could underflow.
            if let Some((keyword, text)) = text_chunk(&kind, &mut data, budget)
                && KEPT_KEYWORDS.contains(&keyword.as_str())
                && let Some(left) = budget.checked_sub(text.len())
            {
                budget = left;
                found.push((keyword, text));
            }
        }
        chunks += 1;
        if chunks >= MAX_CHUNKS {
            break;
        }
        // Past the data and its CRC, whatever was read of it.
        let here = reader.stream_position()?;
        let next = start + len + 4;
        reader.seek_relative(
            i64::try_from(next).unwrap_or(i64::MAX) - i64::try_from(here).unwrap_or(0),
        )?;
    }
    Ok(found)
}

/// One text chunk's keyword and text, or None when it is malformed or its text exceeds
/// `budget` bytes.
fn text_chunk(kind: &[u8; 4], data: &mut impl Read, budget: usize) -> Option<(String, String)> {
    let keyword = latin1(&until_nul(data, MAX_KEYWORD)?);
    if !KEPT_KEYWORDS.contains(&keyword.as_str()) {
        return Some((keyword, String::new()));
    }
    let text = match kind {
        b"tEXt" => latin1(&bounded(data, budget)?),
        b"zTXt" => {
            let method = byte(data)?;
            if method != 0 {
                return None;
            }
            latin1(&bounded(&mut flate2::read::ZlibDecoder::new(data), budget)?)
        }
        _ => {
            let compressed = byte(data)? == 1;
            let method = byte(data)?;
            until_nul(data, 1024)?; // language tag
            until_nul(data, 1024)?; // translated keyword
            let bytes = if compressed {
                if method != 0 {
                    return None;
                }
                bounded(&mut flate2::read::ZlibDecoder::new(data), budget)?
            } else {
                bounded(data, budget)?
            };
            String::from_utf8(bytes).ok()?
        }
    };
    Some((keyword, text))
}

fn byte(data: &mut impl Read) -> Option<u8> {
    let mut one = [0u8; 1];
    data.read_exact(&mut one).ok()?;
    Some(one[0])
}

/// Bytes up to a NUL (which is consumed), at most `max` of them.
fn until_nul(data: &mut impl Read, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let b = byte(data)?;
        if b == 0 {
            return Some(out);
        }
        if out.len() == max {
            return None;
        }
        out.push(b);
    }
}

/// The rest of `data` if it is at most `budget` bytes; reads at most one byte more.
fn bounded(data: &mut impl Read, budget: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    data.take(budget as u64 + 1).read_to_end(&mut out).ok()?;
    (out.len() <= budget).then_some(out)
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    pub use crate::images::crafted::ztxt;

    /// A valid 4x4 PNG with `chunks` (type, data) inserted before IDAT.
    pub fn png_with(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]));
        let mut plain = Cursor::new(Vec::new());
        image.write_to(&mut plain, image::ImageFormat::Png).unwrap();
        crate::images::crafted::with_chunks(&plain.into_inner(), chunks)
    }

    fn text(keyword: &str, text: &str) -> Vec<u8> {
        [keyword.as_bytes(), &[0], text.as_bytes()].concat()
    }

    fn itxt(keyword: &str, text: &str, compressed: bool) -> Vec<u8> {
        let mut data = [keyword.as_bytes(), &[0, u8::from(compressed), 0], b"en\0\0"].concat();
        if compressed {
            let mut encoder = flate2::write::ZlibEncoder::new(data, flate2::Compression::fast());
            encoder.write_all(text.as_bytes()).unwrap();
            data = encoder.finish().unwrap();
        } else {
            data.extend_from_slice(text.as_bytes());
        }
        data
    }

    #[test]
    fn all_three_kinds_are_read_and_unknown_keywords_dropped() {
        let png = png_with(&[
            (b"tEXt", text("parameters", "a cat, caf\u{e9}")),
            (b"tEXt", text("unknown", "dropped")),
            (b"iTXt", itxt("prompt", "{\"a\": \"\u{263a}\"}", true)),
            (b"iTXt", itxt("workflow", "plain", false)),
            (b"zTXt", ztxt("Comment", 10)),
        ]);
        let found = read(Cursor::new(png)).unwrap();
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["parameters", "prompt", "workflow", "Comment"]);
        assert_eq!(found[1].1, "{\"a\": \"\u{263a}\"}");
        assert_eq!(found[3].1, "aaaaaaaaaa");
    }

    #[test]
    fn a_gibibyte_bomb_is_inflated_only_to_the_budget() {
        let bomb = ztxt("parameters", 1 << 30);
        assert!(bomb.len() < 2 << 20, "the bomb is small: {}", bomb.len());
        let png = png_with(&[(b"zTXt", bomb), (b"tEXt", text("Title", "kept"))]);
        let found = read(Cursor::new(png)).unwrap();
        assert_eq!(found, vec![("Title".to_owned(), "kept".to_owned())]);
    }

    #[test]
    fn the_total_and_the_chunk_count_are_bounded() {
        let quarter = MAX_TEXT_BYTES / 4;
        let chunks: Vec<(&[u8; 4], Vec<u8>)> = (0..6)
            .map(|_| (b"zTXt", ztxt("Comment", quarter)))
            .collect();
        let found = read(Cursor::new(png_with(&chunks))).unwrap();
        assert_eq!(found.len(), 4, "four quarters fill the budget");
        let many: Vec<(&[u8; 4], Vec<u8>)> = (0..MAX_TEXT_CHUNKS + 10)
            .map(|_| (b"tEXt", text("Title", "x")))
            .collect();
        assert_eq!(
            read(Cursor::new(png_with(&many))).unwrap().len(),
            MAX_TEXT_CHUNKS
        );
    }

    #[test]
    fn latin1_text_that_doubles_in_utf8_stays_within_the_budget() {
        let high = [
            b"parameters\0".as_slice(),
            &vec![0xE9u8; MAX_TEXT_BYTES * 3 / 4],
        ]
        .concat();
        let png = png_with(&[(b"tEXt", high), (b"zTXt", ztxt("Comment", 1 << 20))]);
        let found = read(Cursor::new(png)).unwrap();
        let total: usize = found.iter().map(|(_, t)| t.len()).sum();
        assert!(total <= MAX_TEXT_BYTES, "{total}");
        assert!(
            found.iter().all(|(k, _)| k != "Comment"),
            "no room was left for the bomb"
        );
    }

    #[test]
    fn the_walk_is_bounded_in_chunks() {
        let empties: Vec<(&[u8; 4], Vec<u8>)> = (0..MAX_CHUNKS + 100)
            .map(|_| (b"abCd", Vec::new()))
            .collect();
        let mut png_chunks = empties;
        png_chunks.push((b"tEXt", text("Title", "late")));
        assert!(read(Cursor::new(png_with(&png_chunks))).unwrap().is_empty());
    }

    #[test]
    fn malformed_streams_end_quietly() {
        let png = png_with(&[(b"tEXt", text("Title", "x"))]);
        for cut in [0, 5, 8, 20, 40, 45] {
            assert!(read(Cursor::new(png[..cut].to_vec())).is_ok());
        }
        assert!(read(Cursor::new(b"not a png".to_vec())).unwrap().is_empty());
        let no_nul = png_with(&[(b"tEXt", vec![b'k'; 200])]);
        assert!(read(Cursor::new(no_nul)).unwrap().is_empty());
    }
}
