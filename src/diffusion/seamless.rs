//! Seamless tiling: convolutions that wrap around the image's left and right edges, its top
//! and bottom, or both, instead of padding them with zeros, so that the generated image tiles.
//! The axes hold for one call on the engine thread (`with`) and every convolution reads them
//! (`layers::Conv`), so no network's signature changes. Everything else in the networks (norms,
//! attention, nearest upsampling) already treats every position alike.

use std::cell::Cell;

use tch::Tensor;

/// Which edges wrap around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Axes {
    /// Left and right.
    pub x: bool,
    /// Top and bottom.
    pub y: bool,
}

thread_local! {
    static AXES: Cell<Axes> = const { Cell::new(Axes { x: false, y: false }) };
}

/// Runs `f` with this thread's convolutions wrapping around `axes` (restored afterwards, also
/// when `f` panics).
pub fn with<T>(axes: Axes, f: impl FnOnce() -> T) -> T {
    struct Restore(Axes);
    impl Drop for Restore {
        fn drop(&mut self) {
            AXES.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(AXES.with(|a| a.replace(axes)));
    f()
}

/// The axes in force on this thread.
pub(crate) fn current() -> Axes {
    AXES.with(Cell::get)
}

/// `x` `[b, c, h, w]` padded by `p` on every side: wrapped around the seamless axes, zeros on
/// the others.
pub(crate) fn pad(x: &Tensor, p: i64, axes: Axes) -> Tensor {
    let wide = if axes.x {
        x.pad([p, p, 0, 0], "circular", None)
    } else {
        x.constant_pad_nd([p, p, 0, 0])
    };
    if axes.y {
        wide.pad([0, 0, p, p], "circular", None)
    } else {
        wide.constant_pad_nd([0, 0, p, p])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tch::{Device, Kind};

    use super::*;
    use crate::diffusion::golden::{formula_input, formula_weights};
    use crate::diffusion::unet::{Heads, UNet};

    /// With both axes wrapping, the UNet commutes with a circular shift of its input (by a
    /// multiple of its downsampling), as a network without edges must; with zero padding it
    /// does not.
    #[test]
    fn a_wrapping_unet_commutes_with_circular_shifts() {
        #[derive(serde::Deserialize)]
        struct Golden {
            names: BTreeMap<String, Vec<i64>>,
        }
        let golden: Golden =
            serde_json::from_str(include_str!("../../tests/data/unet_golden.json")).unwrap();
        let unet = UNet::new(&formula_weights(&golden.names, 0.05, true), Heads::Fixed(2)).unwrap();
        let latents = formula_input(&[1, 4, 8, 8], 0.5, 0.11, Tensor::sin);
        let context = formula_input(&[1, 77, 128], 0.5, 0.07, Tensor::cos);
        let run = |x: &Tensor| unet.forward(x, 500.0, &context, None);
        let shift = |t: &Tensor| t.roll([2, 4], [2, 3]);
        let gap = |axes: Axes| {
            with(axes, || {
                let (a, b) = (run(&shift(&latents)), shift(&run(&latents)));
                (a - b).abs().max().double_value(&[])
            })
        };
        assert!(gap(Axes { x: true, y: true }) < 1e-4);
        assert!(gap(Axes::default()) > 1e-3, "zero padding sees the edges");
        assert_eq!(current(), Axes::default(), "restored after the call");
    }

    /// The same for the VAE decoder, left to right only: a shift of one latent column is a shift
    /// of eight pixel columns.
    #[test]
    fn a_wrapping_vae_decoder_commutes_with_horizontal_shifts() {
        #[derive(serde::Deserialize)]
        struct Golden {
            full_scale_names: BTreeMap<String, Vec<i64>>,
        }
        // The tiny model's VAE: four levels, so it scales by 8 like a real one.
        let golden: Golden =
            serde_json::from_str(include_str!("../../tests/data/vae_golden.json")).unwrap();
        let weights = formula_weights(&golden.full_scale_names, 0.05, true);
        let decoder = crate::diffusion::vae::VaeDecoder::new(&weights).unwrap();
        let latents = formula_input(&[1, 4, 4, 6], 0.5, 0.11, Tensor::sin);
        let gap = |axes: Axes| {
            with(axes, || {
                let a = decoder.decode(&latents.roll([1], [3]));
                let b = decoder.decode(&latents).roll([8], [3]);
                (a - b).abs().max().double_value(&[])
            })
        };
        assert!(gap(Axes { x: true, y: false }) < 1e-4);
        assert!(gap(Axes::default()) > 1e-3);
    }

    /// A seamless job runs through the engine and gives another image than a plain one.
    #[test]
    fn a_seamless_job_generates() {
        use crate::diffusion::engine::TchEngine;
        use crate::diffusion::engine::tests::{finished, hook, job};
        use crate::worker::engine::Engine;
        let dir = tempfile::tempdir().unwrap();
        crate::diffusion::tiny::write_tiny_diffusers(dir.path()).unwrap();
        let engine = TchEngine::new(Device::Cpu, 1 << 30);
        let location = dir.path().to_str().unwrap();
        let plain = finished(
            engine
                .generate(&job(location, "euler", 3), None, &mut hook())
                .unwrap(),
        );
        let mut tiled = job(location, "euler", 3);
        tiled.params.seamless_x = true;
        tiled.params.seamless_y = true;
        let tiled = finished(engine.generate(&tiled, None, &mut hook()).unwrap());
        assert_eq!(tiled.len(), plain.len());
        assert_ne!(tiled, plain);
        assert_eq!(
            current(),
            Axes::default(),
            "the engine thread is back to plain padding"
        );
    }

    #[test]
    fn padding_wraps_only_the_chosen_axis() {
        let x = Tensor::arange(6, (Kind::Float, Device::Cpu)).view([1, 1, 2, 3]);
        let padded = pad(&x, 1, Axes { x: true, y: false });
        assert_eq!(padded.size(), [1, 1, 4, 5]);
        let row = Vec::<f32>::try_from(padded.get(0).get(0).get(1)).unwrap();
        assert_eq!(row, [2.0, 0.0, 1.0, 2.0, 0.0], "left and right wrap");
        let top = Vec::<f32>::try_from(padded.get(0).get(0).get(0)).unwrap();
        assert_eq!(top, [0.0; 5], "top and bottom are zeros");
    }
}
