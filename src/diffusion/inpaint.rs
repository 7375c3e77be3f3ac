//! Inpainting with any model: a mask (white: repaint, black: keep) over the init image. After
//! every step the kept region of the latents is replaced by the init image's latents noised to
//! the level the run has reached (clean after the last step), so only the masked region is
//! generated and it grows out of its surroundings; after decoding, kept pixels are the init
//! image's own (a VAE round trip would blur them), blended by the full-resolution mask, which
//! a mask blur first softens with a Gaussian so the repainted region fades into the kept one.

use tch::{Device, Kind, Tensor};

use super::schedule::Plan;
use crate::worker::engine::{GrayImage, RgbImage};

/// What a run needs to inpaint.
pub struct Inpaint {
    /// The init image's clean latents, `[images, 4, h/8, w/8]`, f32.
    known: Tensor,
    /// The run's initial noise, which noises `known` to each step's level.
    noise: Tensor,
    /// The mask at latent resolution (area average), `[1, 1, h/8, w/8]`, 1 = repaint.
    latent_mask: Tensor,
    /// The mask at full resolution (blurred), `[1, h, w, 1]`, f32 in [0, 1], on the CPU.
    pixel_mask: Tensor,
    /// The init image's pixels, `[1, h, w, 3]`, f32, on the CPU.
    init_pixels: Tensor,
}

impl Inpaint {
    /// The inpainting state for `init` (already encoded as `known`) under `mask`, both the
    /// requested size; `blur` is the pixel composite's fade, in pixels.
    pub fn new(
        known: &Tensor,
        noise: &Tensor,
        init: &RgbImage,
        mask: &GrayImage,
        blur: u32,
    ) -> anyhow::Result<Self> {
        let (h, w) = (i64::from(mask.height), i64::from(mask.width));
        anyhow::ensure!(
            (mask.width, mask.height) == (init.width, init.height)
                && mask.luma.len() as i64 == h * w,
            "the mask is not the init image's size"
        );
        let pixel_mask = Tensor::from_slice(&mask.luma)
            .to_kind(Kind::Float)
            .view([1, h, w, 1])
            / 255.0;
        let latent_size = [known.size()[2], known.size()[3]];
        let latent_mask = pixel_mask
            .permute([0, 3, 1, 2])
            .adaptive_avg_pool2d(latent_size)
            .to_device(known.device());
        let init_pixels = Tensor::from_slice(&init.rgb)
            .to_kind(Kind::Float)
            .view([1, h, w, 3]);
        Ok(Self {
            known: known.to_kind(Kind::Float),
            noise: noise.to_kind(Kind::Float),
            latent_mask,
            pixel_mask: blurred(&pixel_mask, blur),
            init_pixels,
        })
    }

    /// `latents` after step `done - 1`, with the kept region put back at the level of step
    /// `done` (the init image itself once every step is done).
    pub fn blend(&self, plan: &Plan, latents: &Tensor, done: usize) -> Tensor {
        let known = if done < plan.len() {
            plan.noised(&self.known, &self.noise, done)
        } else {
            self.known.shallow_clone()
        };
        let generated = latents.to_kind(Kind::Float);
        let keep = self.latent_mask.neg() + 1.0;
        (&generated * &self.latent_mask + known * keep).to_kind(latents.kind())
    }

    /// Decoded pixels `[n, h, w, 3]` (u8, CPU) with the kept region the init image's.
    pub fn composite(&self, pixels: &Tensor) -> Tensor {
        let decoded = pixels.to_device(Device::Cpu).to_kind(Kind::Float);
        let keep = self.pixel_mask.neg() + 1.0;
        (decoded * &self.pixel_mask + &self.init_pixels * keep)
            .round()
            .clamp(0.0, 255.0)
            .to_kind(Kind::Uint8)
    }
}

/// `mask` `[1, h, w, 1]` blurred by a Gaussian of standard deviation `radius / 2` over
/// `radius` pixels each way (edges replicated); the mask itself when `radius` is 0.
fn blurred(mask: &Tensor, radius: u32) -> Tensor {
    if radius == 0 {
        return mask.shallow_clone();
    }
    let r = i64::from(radius);
    let sigma = f64::from(radius) / 2.0;
    let offsets = Tensor::arange_start(-r, r + 1, (Kind::Float, Device::Cpu));
    let kernel = (offsets.square() / (-2.0 * sigma * sigma)).exp();
    let kernel = &kernel / kernel.sum(Kind::Float);
    let (h, w) = (mask.size()[1], mask.size()[2]);
    let image = mask.permute([0, 3, 1, 2]);
    // Replicating more than the image's own size is not allowed, so pad in steps.
    let pad = |t: Tensor, vertical: bool| {
        let mut t = t;
        let mut left = r;
        while left > 0 {
            let side = if vertical { t.size()[2] } else { t.size()[3] };
            let step = left.min(side - 1).max(1);
            let padding = if vertical {
                [0, 0, step, step]
            } else {
                [step, step, 0, 0]
            };
            t = t.replication_pad2d(padding);
            left -= step;
        }
        t
    };
    let across = pad(image, false).conv2d(
        &kernel.view([1, 1, 1, 2 * r + 1]),
        None::<Tensor>,
        [1, 1],
        [0, 0],
        [1, 1],
        1,
    );
    let down = pad(across, true).conv2d(
        &kernel.view([1, 1, 2 * r + 1, 1]),
        None::<Tensor>,
        [1, 1],
        [0, 0],
        [1, 1],
        1,
    );
    down.permute([0, 2, 3, 1]).view([1, h, w, 1])
}

#[cfg(test)]
mod tests {
    use super::super::engine::TchEngine;
    use super::super::engine::tests::{Hook, finished, hook, job, with_init};
    use super::super::tiny::write_tiny_diffusers;
    use super::*;
    use crate::worker::engine::{Engine, Outcome, Resume};

    #[test]
    fn a_blurred_mask_fades_across_the_edge_and_keeps_its_far_sides() {
        let half = Tensor::from_slice(
            &(0..64 * 16)
                .map(|i| if i % 64 < 32 { 0.0f32 } else { 1.0 })
                .collect::<Vec<_>>(),
        )
        .view([1, 16, 64, 1]);
        assert!(blurred(&half, 0).equal(&half));
        let soft = blurred(&half, 8);
        assert_eq!(soft.size(), [1, 16, 64, 1]);
        let row = Vec::<f32>::try_from(soft.get(0).get(3).squeeze_dim(-1)).unwrap();
        assert!(row[..24].iter().all(|v| *v == 0.0), "{row:?}");
        assert!(row[41..].iter().all(|v| (*v - 1.0).abs() < 1e-6), "{row:?}");
        assert!(
            row.windows(2).all(|p| p[0] <= p[1] + 1e-6),
            "rises monotonically"
        );
        assert!(row[31] > 0.2 && row[31] < 0.5 && row[32] > 0.5 && row[32] < 0.8);
        let rows = soft.squeeze();
        assert!(rows.get(0).allclose(&rows.get(15), 1e-6, 1e-6, false));
        // Radii far beyond a tiny mask's size are fine.
        let tiny = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 0.0, 0.0, 1.0]).view([1, 2, 3, 1]);
        let soft = blurred(&tiny, 40);
        assert_eq!(soft.size(), [1, 2, 3, 1]);
        let (low, high) = (soft.min().double_value(&[]), soft.max().double_value(&[]));
        assert!(low > 0.0 && high < 1.0);
    }

    /// The left `keep` columns black (kept), the rest white (repainted).
    fn mask(width: u32, height: u32, keep: u32) -> GrayImage {
        let luma = (0..width * height)
            .map(|i| if i % width < keep { 0 } else { 255 })
            .collect();
        GrayImage {
            width,
            height,
            luma,
        }
    }

    #[test]
    fn only_the_masked_region_is_repainted_and_suspension_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_diffusers(dir.path()).unwrap();
        let engine = TchEngine::new(Device::Cpu, 1 << 30);
        let mut inpainting = with_init(job(dir.path().to_str().unwrap(), "euler_a", 3), 1.0, 9);
        let (width, height) = (inpainting.params.width, inpainting.params.height);
        inpainting.params.mask_image_id = Some(uuid::Uuid::from_u128(99));
        inpainting.mask = Some(mask(width, height, 24));
        let init = inpainting.init_image.clone().unwrap().rgb;
        let pngs = finished(engine.generate(&inpainting, None, &mut hook()).unwrap());
        for png in &pngs {
            let pixels = image::load_from_memory(png).unwrap().to_rgb8();
            let (mut kept, mut changed) = (0, 0);
            for (x, y, pixel) in pixels.enumerate_pixels() {
                let at = ((y * width + x) * 3) as usize;
                let original = &init[at..at + 3];
                if x < 24 {
                    assert_eq!(pixel.0, original, "kept pixel ({x}, {y}) changed");
                    kept += 1;
                } else if pixel.0 != original {
                    changed += 1;
                }
            }
            assert_eq!(kept, 24 * height);
            assert!(
                changed > (width - 24) * height / 2,
                "only {changed} repainted pixels changed"
            );
        }

        let mut suspending = Hook {
            suspend_at: Some(2),
            ..hook()
        };
        let Outcome::Suspended(state) =
            engine.generate(&inpainting, None, &mut suspending).unwrap()
        else {
            panic!("expected a suspension")
        };
        let checkpoint = state.checkpoint.expect("the engine writes a checkpoint");
        let held = Some(Resume::Held(state.held));
        let resumed = finished(engine.generate(&inpainting, held, &mut suspending).unwrap());
        assert_eq!(resumed, pngs, "suspend and resume change nothing");
        let from_checkpoint = Some(Resume::Checkpoint(checkpoint));
        let resumed = finished(
            engine
                .generate(&inpainting, from_checkpoint, &mut hook())
                .unwrap(),
        );
        assert_eq!(resumed, pngs, "resumed from the checkpoint exactly");

        // A blurred mask fades the repainted region into the kept one: pixels out of the
        // blur's reach stay exactly as they were (kept) or as without it (repainted), the
        // columns beside the edge blend.
        let mut blurred_job = inpainting.clone();
        blurred_job.params.mask_blur = 6;
        let faded = finished(engine.generate(&blurred_job, None, &mut hook()).unwrap());
        let sharp = image::load_from_memory(&pngs[0]).unwrap().to_rgb8();
        let soft = image::load_from_memory(&faded[0]).unwrap().to_rgb8();
        for (x, y, pixel) in soft.enumerate_pixels() {
            let at = ((y * width + x) * 3) as usize;
            if x < 24 - 6 {
                assert_eq!(pixel.0, init[at..at + 3], "({x}, {y}) is out of the fade");
            } else if x >= 24 + 6 {
                assert_eq!(
                    pixel,
                    sharp.get_pixel(x, y),
                    "({x}, {y}) is out of the fade"
                );
            }
        }
        let blended = (20..28)
            .filter(|x| {
                let at = ((5 * width + x) * 3) as usize;
                let pixel = soft.get_pixel(*x, 5).0;
                pixel != sharp.get_pixel(*x, 5).0 && pixel[..] != init[at..at + 3]
            })
            .count();
        assert!(
            blended >= 4,
            "only {blended} of 8 columns by the edge blend"
        );

        let mut wrong = inpainting.clone();
        wrong.mask = Some(mask(width / 2, height, 4));
        let error = engine.generate(&wrong, None, &mut hook()).unwrap_err();
        assert!(
            error.message.contains("not the init image's size"),
            "{}",
            error.message
        );
    }
}
