//! Accepting an uploaded image: stream it to a staging file with a size limit, then (on a blocking
//! thread) sniff the format, check the pixel count from the header before decoding anything,
//! decode with memory limits, make the 256 px lossy WebP thumbnail and read PNG text chunks
//! (bounded).

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use axum::extract::multipart::Field;
use image::{ImageReader, Limits};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

use super::model::ImageType;
use crate::error::{ApiError, ErrorCode};

/// The longest side of a thumbnail.
pub const THUMBNAIL_SIZE: u32 = 256;
/// No side may exceed this, whatever the pixel budget.
const MAX_SIDE: u32 = 16_384;
/// The decoder may allocate at most this much.
const MAX_DECODE_ALLOC: u64 = 1 << 30;

/// Uploads up to this size stay in memory; larger ones are spooled to a staging file.
pub const SPOOL_THRESHOLD: usize = 1 << 20;

/// Where an upload's bytes are while it is checked.
#[derive(Clone, Debug)]
pub enum Source {
    /// A small upload, in memory.
    Memory(Bytes),
    /// A larger upload, in a staging file.
    File(PathBuf),
}

/// `BufRead + Seek`, boxable.
pub trait BufReadSeek: BufRead + Seek {}
impl<T: BufRead + Seek> BufReadSeek for T {}

impl Source {
    /// A fresh reader over the bytes.
    pub fn reader(&self) -> std::io::Result<Box<dyn BufReadSeek>> {
        Ok(match self {
            Source::Memory(bytes) => Box::new(Cursor::new(bytes.clone())),
            Source::File(path) => Box::new(BufReader::new(File::open(path)?)),
        })
    }
}

/// An upload, staged: in memory, or in a file that disappears when this is dropped.
pub struct Staged {
    /// The bytes.
    pub source: Source,
    /// Keeps the staging file alive while the upload is handled.
    pub file: Option<NamedTempFile>,
    /// Size in bytes.
    pub size: u64,
    /// The Content-Type the client declared for the part, if any.
    pub declared_type: Option<String>,
}

impl Staged {
    /// Stages bytes already in memory.
    pub fn from_bytes(bytes: Bytes, declared_type: Option<String>) -> Self {
        Self {
            size: bytes.len() as u64,
            source: Source::Memory(bytes),
            file: None,
            declared_type,
        }
    }
}

/// What the image turned out to be.
#[derive(Debug)]
pub struct Probed {
    /// The sniffed format.
    pub kind: ImageType,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The WebP thumbnail.
    pub thumbnail: Vec<u8>,
    /// PNG text chunks (keyword → text, or parsed JSON when the text is a JSON object).
    pub metadata: Option<serde_json::Value>,
}

/// Reads a multipart field with a limit of `max` bytes: small uploads stay in memory, larger
/// ones are streamed to a staging file in `dir`, so no large body is held in memory.
pub async fn stage(field: Field<'_>, dir: &Path, max: u64) -> Result<Staged, ApiError> {
    let declared_type = field.content_type().map(str::to_owned);
    stage_stream(field, declared_type, dir, max, multipart_error).await
}

/// Reads a body of byte chunks with a limit of `max` bytes, as `stage` does; `on_error` maps a
/// read error of the body.
pub async fn stage_stream<E>(
    body: impl futures::Stream<Item = Result<Bytes, E>>,
    declared_type: Option<String>,
    dir: &Path,
    max: u64,
    on_error: impl Fn(E) -> ApiError,
) -> Result<Staged, ApiError> {
    use futures::StreamExt;
    let mut body = std::pin::pin!(body);
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the upload exceeds {max} bytes"),
        )
    };
    let mut memory = BytesMut::new();
    let mut spool: Option<(NamedTempFile, tokio::fs::File)> = None;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await.transpose().map_err(&on_error)? {
        size += chunk.len() as u64;
        if size > max {
            return Err(too_large());
        }
        if spool.is_none() && memory.len() + chunk.len() <= SPOOL_THRESHOLD {
            memory.extend_from_slice(&chunk);
            continue;
        }
        if spool.is_none() {
            let file = NamedTempFile::new_in(dir).map_err(ApiError::internal)?;
            let mut out = tokio::fs::File::from_std(file.reopen().map_err(ApiError::internal)?);
            out.write_all(&memory).await.map_err(ApiError::internal)?;
            memory.clear();
            spool = Some((file, out));
        }
        let (_, out) = spool.as_mut().expect("just created");
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    if size == 0 {
        return Err(ApiError::new(
            ErrorCode::EmptyUpload,
            "the uploaded file is empty",
        ));
    }
    match spool {
        None => Ok(Staged::from_bytes(memory.freeze(), declared_type)),
        Some((file, mut out)) => {
            out.flush().await.map_err(ApiError::internal)?;
            let source = Source::File(file.path().to_path_buf());
            Ok(Staged {
                source,
                file: Some(file),
                size,
                declared_type,
            })
        }
    }
}

/// Maps a multipart read error: a body cut short or over the limit is the client's doing.
#[expect(clippy::needless_pass_by_value, reason = "a map_err adapter")]
pub fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::PayloadTooLarge, "the upload is too large");
    }
    ApiError::new(
        ErrorCode::InvalidUpload,
        format!("malformed multipart body: {}", error.body_text()),
    )
}

/// Identifies, checks, decodes and thumbnails the staged file. Blocking: call it off the runtime.
pub fn probe(
    source: &Source,
    declared_type: Option<&str>,
    max_pixels: u64,
) -> Result<Probed, ApiError> {
    let reader = open(source)?;
    let kind = reader
        .format()
        .and_then(ImageType::from_format)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnsupportedImage,
                "the file is not a PNG, JPEG or WebP image",
            )
        })?;
    check_declared_type(kind, declared_type)?;
    let (width, height) = reader.into_dimensions().map_err(invalid_image)?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > max_pixels {
        return Err(ApiError::new(
            ErrorCode::ImageTooLarge,
            format!(
                "the image is {width}x{height}; at most {max_pixels} pixels and {MAX_SIDE} per side"
            ),
        ));
    }
    let mut reader = open(source)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let decoded = reader.decode().map_err(invalid_image)?;
    // Never upscale: an image that already fits is its own thumbnail.
    let thumbnail = if width <= THUMBNAIL_SIZE && height <= THUMBNAIL_SIZE {
        decoded.to_rgba8()
    } else {
        decoded.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE).to_rgba8()
    };
    let webp = lossy_webp(&thumbnail)?;
    let metadata = if kind == ImageType::Png {
        png_text(source)
    } else {
        None
    };
    Ok(Probed {
        kind,
        width,
        height,
        thumbnail: webp,
        metadata,
    })
}

/// A thumbnail's quality (0-100): at 256 px it looks like the original at a few KiB.
pub const THUMBNAIL_QUALITY: f32 = 80.0;

/// Lossy WebP (libwebp) of an RGBA thumbnail; alpha is kept.
pub fn lossy_webp(image: &image::RgbaImage) -> Result<Vec<u8>, ApiError> {
    let encoder = webp::Encoder::from_rgba(image.as_raw(), image.width(), image.height());
    let encoded = encoder
        .encode_simple(false, THUMBNAIL_QUALITY)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("webp encoding failed: {e:?}")))?;
    Ok(encoded.to_vec())
}

fn open(source: &Source) -> Result<ImageReader<Box<dyn BufReadSeek>>, ApiError> {
    let reader = source.reader().map_err(ApiError::internal)?;
    ImageReader::new(reader)
        .with_guessed_format()
        .map_err(ApiError::internal)
}

fn check_declared_type(kind: ImageType, declared: Option<&str>) -> Result<(), ApiError> {
    let Some(declared) = declared.map(|d| {
        d.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }) else {
        return Ok(());
    };
    if declared == "application/octet-stream"
        || ImageType::from_content_type(&declared) == Some(kind)
    {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::ContentTypeMismatch,
        format!(
            "the file was sent as {declared} but is {}",
            kind.content_type()
        ),
    ))
}

#[expect(clippy::needless_pass_by_value, reason = "a map_err adapter")]
fn invalid_image(error: image::ImageError) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidImage,
        format!("the image cannot be decoded: {error}"),
    )
}

/// The kept text chunks of a PNG as a JSON object (bounded: see [`super::png_text`]), or None
/// if it has none or cannot be read.
fn png_text(source: &Source) -> Option<serde_json::Value> {
    let chunks = super::png_text::read(source.reader().ok()?).ok()?;
    let mut map = serde_json::Map::new();
    for (keyword, text) in chunks {
        map.insert(keyword.replace('\0', ""), text_value(&text));
    }
    (!map.is_empty()).then_some(serde_json::Value::Object(map))
}

fn text_value(text: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut value @ serde_json::Value::Object(_)) => {
            strip_nul(&mut value);
            value
        }
        _ => serde_json::Value::String(text.replace('\0', "")),
    }
}

/// PostgreSQL's jsonb cannot hold U+0000, and it keeps numbers as exact decimals, so one at the
/// edge of a double (1.7976931348623157e308) comes back as 309 digits that JSON readers refuse:
/// a hostile PNG must turn neither into a 500. NULs are dropped; huge numbers become text.
fn strip_nul(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => *s = s.replace('\0', ""),
        serde_json::Value::Number(n) if n.as_f64().is_some_and(|x| x.abs() > 1e300) => {
            *value = serde_json::Value::String(n.to_string());
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nul),
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().filter(|k| k.contains('\0')).cloned().collect();
            for key in keys {
                if let Some(v) = map.remove(&key) {
                    map.insert(key.replace('\0', ""), v);
                }
            }
            map.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn png_bytes(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([10, 20, 30]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn probe_bytes(bytes: &[u8], declared: Option<&str>) -> Result<Probed, ApiError> {
        let mut file = NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        let from_file = probe(&Source::File(file.path().to_path_buf()), declared, 64 << 20);
        let from_memory = probe(
            &Source::Memory(Bytes::copy_from_slice(bytes)),
            declared,
            64 << 20,
        );
        assert_eq!(from_file.is_ok(), from_memory.is_ok(), "both sources agree");
        from_file
    }

    /// A real 1x1 PNG whose header is rewritten to claim `width` x `height` pixels.
    fn bomb_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png_bytes(1, 1);
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_png_is_identified_measured_and_thumbnailed() {
        let probed = probe_bytes(&png_bytes(640, 320), Some("image/png")).unwrap();
        assert_eq!(
            (probed.kind, probed.width, probed.height),
            (ImageType::Png, 640, 320)
        );
        let thumb = image::load_from_memory(&probed.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (256, 128));
    }

    #[test]
    fn a_text_bomb_is_stored_without_its_text() {
        use super::super::png_text::tests::{png_with, ztxt};
        let png = png_with(&[
            (b"zTXt", ztxt("parameters", 1 << 30)),
            (b"zTXt", ztxt("Comment", 3)),
        ]);
        let probed = probe_bytes(&png, Some("image/png")).unwrap();
        assert_eq!(probed.metadata, Some(serde_json::json!({"Comment": "aaa"})));
    }

    #[test]
    fn thumbnails_are_lossy_webp_with_alpha() {
        // A photo-like 512 px image: smooth gradients and fine noise.
        let image = image::RgbaImage::from_fn(512, 512, |x, y| {
            let n = ((x * 7919 + y * 104_729) % 23) as u8;
            image::Rgba([
                (x / 3) as u8 + n,
                (y / 2) as u8,
                ((x + y) / 5) as u8 + n,
                255,
            ])
        });
        let mut png = Cursor::new(Vec::new());
        image.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let probed = probe_bytes(&png.into_inner(), None).unwrap();
        let thumb = image::load_from_memory(&probed.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (256, 256));
        let mut lossless = Cursor::new(Vec::new());
        thumb
            .to_rgba8()
            .write_to(&mut lossless, image::ImageFormat::WebP)
            .unwrap();
        assert!(
            probed.thumbnail.len() * 3 < lossless.get_ref().len(),
            "lossy {} bytes, lossless {}",
            probed.thumbnail.len(),
            lossless.get_ref().len()
        );
        let clear = image::RgbaImage::from_pixel(32, 32, image::Rgba([200, 10, 10, 0]));
        let alpha = image::load_from_memory(&lossy_webp(&clear).unwrap()).unwrap();
        assert_eq!(alpha.to_rgba8().get_pixel(5, 5)[3], 0);
    }

    #[test]
    fn nul_characters_in_text_chunks_are_dropped() {
        let value = text_value(r#"{"a\u0000": ["x\u0000y"]}"#);
        assert_eq!(value, serde_json::json!({"a": ["xy"]}));
        assert_eq!(text_value("p\0q"), serde_json::json!("pq"));
    }

    #[test]
    fn bad_inputs_get_distinct_codes() {
        let code = |bytes: &[u8], declared| probe_bytes(bytes, declared).unwrap_err().code();
        assert_eq!(
            code(b"hello, not an image", None),
            ErrorCode::UnsupportedImage
        );
        let png = png_bytes(64, 64);
        assert_eq!(code(&png[..png.len() / 2], None), ErrorCode::InvalidImage);
        assert_eq!(
            code(&png, Some("image/jpeg")),
            ErrorCode::ContentTypeMismatch
        );
        assert_eq!(
            code(&bomb_header(50_000, 50_000), None),
            ErrorCode::ImageTooLarge
        );
    }
}
