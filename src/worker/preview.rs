//! Progress previews as small JPEG `data:` URLs. They travel in a PostgreSQL notification, whose
//! payload is capped near 8000 bytes, so a preview too large at its own size is halved until it
//! fits: a 1024x1024 image's 128x128 latent preview still reaches its owner.

use base64::Engine as _;

use super::engine::RgbImage;

/// The longest URL sent; the rest of the notification's JSON needs the remainder of 8000 bytes.
pub(super) const MAX_URL: usize = 7000;

/// The preview as a `data:` URL of at most [`MAX_URL`] bytes, scaled down as far as needed.
pub(super) fn data_url(preview: &RgbImage) -> Option<String> {
    let mut image = image::RgbImage::from_raw(preview.width, preview.height, preview.rgb.clone())?;
    loop {
        let url = encode(&image)?;
        if url.len() <= MAX_URL {
            return Some(url);
        }
        let (w, h) = (image.width() / 2, image.height() / 2);
        if w < 8 || h < 8 {
            return None;
        }
        image = image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
    }
}

fn encode(image: &image::RgbImage) -> Option<String> {
    let mut jpeg = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 60);
    image::ImageEncoder::write_image(
        encoder,
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    )
    .ok()?;
    Some(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&jpeg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(side: u32) -> RgbImage {
        // A xorshift stream: the worst case for JPEG, like an early step's latents.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let rgb = (0..side * side * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 56) as u8
            })
            .collect();
        RgbImage {
            width: side,
            height: side,
            rgb,
        }
    }

    fn decoded_side(url: &str) -> u32 {
        let b64 = url.strip_prefix("data:image/jpeg;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let image = image::load_from_memory(&bytes).unwrap();
        assert_eq!(image.width(), image.height());
        image.width()
    }

    #[test]
    fn a_small_preview_keeps_its_size() {
        let url = data_url(&noise(32)).unwrap();
        assert!(url.len() <= MAX_URL);
        assert_eq!(decoded_side(&url), 32);
    }

    #[test]
    fn a_large_noisy_preview_is_scaled_down_until_it_fits() {
        let large = noise(128);
        assert!(
            encode(&image::RgbImage::from_raw(128, 128, large.rgb.clone()).unwrap())
                .unwrap()
                .len()
                > MAX_URL
        );
        let url = data_url(&large).unwrap();
        assert!(url.len() <= MAX_URL, "{} bytes", url.len());
        let side = decoded_side(&url);
        assert!((8..128).contains(&side), "scaled to {side}");
    }

    #[test]
    fn pixels_that_do_not_match_the_size_give_no_preview() {
        let broken = RgbImage {
            width: 10,
            height: 10,
            rgb: vec![0; 7],
        };
        assert!(data_url(&broken).is_none());
    }
}
