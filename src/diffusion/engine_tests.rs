//! Tests of the tch engine with tiny random-weight models: sizes, reproducibility, suspension
//! and checkpoints for every sampler, image to image, single-file checkpoints, SD 2 and half
//! precision.

use uuid::Uuid;

use super::*;
use crate::diffusion::tiny::{write_tiny_diffusers, write_tiny_single_file};
use crate::queue::model::GenerationParams;

/// Records steps; suspends once at `suspend_at`, cancels at `cancel_at`.
pub(crate) struct Hook {
    pub(crate) seen: Vec<(u32, u32, bool)>,
    pub(crate) suspend_at: Option<u32>,
    pub(crate) cancel_at: Option<u32>,
}

impl Steps for Hook {
    fn after_step(&mut self, done: u32, total: u32, preview: Option<Preview>) -> Control {
        self.seen.push((
            done,
            total,
            preview.is_some_and(|p| p.rgb.len() == (p.width * p.height * 3) as usize),
        ));
        if self.cancel_at == Some(done) {
            return Control::Cancel;
        }
        if self.suspend_at == Some(done) {
            self.suspend_at = None;
            return Control::Suspend;
        }
        Control::Continue
    }
}

pub(crate) fn hook() -> Hook {
    Hook {
        seen: Vec::new(),
        suspend_at: None,
        cancel_at: None,
    }
}

pub(crate) fn job(location: &str, sampler: &str, seed: u64) -> EngineJob {
    let mut params: GenerationParams = serde_json::from_value(serde_json::json!({
        "model": "tiny", "prompt": "a lighthouse at dusk", "negative_prompt": "blurry",
        "width": 64, "height": 72, "steps": 6, "num_images": 2, "sampler": sampler, "seed": seed,
    }))
    .unwrap();
    params.validate().unwrap();
    EngineJob {
        id: Uuid::now_v7(),
        params,
        model_location: Some(location.to_owned()),
        vae_location: None,
        lora_locations: Vec::new(),
        mask: None,
        init_image: None,
    }
}

pub(crate) fn finished(outcome: Outcome) -> Vec<Vec<u8>> {
    match outcome {
        Outcome::Finished(pngs) => pngs,
        other => panic!("expected images, got {other:?}"),
    }
}

#[test]
fn a_tiny_model_makes_pngs_of_the_requested_size_reproducibly_even_when_suspended() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_diffusers(dir.path()).unwrap();
    let location = dir.path().to_str().unwrap();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    for sampler in ["euler_a", "dpmpp_2m_karras"] {
        let job = job(location, sampler, 42);
        let mut steps = hook();
        let pngs = finished(engine.generate(&job, None, &mut steps).unwrap());
        assert_eq!(pngs.len(), 2);
        let decoded = image::load_from_memory(&pngs[0]).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 72));
        assert_eq!(steps.seen.len(), 6);
        assert!(
            steps
                .seen
                .iter()
                .all(|(_, total, preview)| *total == 6 && *preview)
        );
        let text = String::from_utf8_lossy(&pngs[0]);
        assert!(
            text.contains("a lighthouse at dusk"),
            "parameters travel in a text chunk"
        );

        let again = finished(engine.generate(&job, None, &mut hook()).unwrap());
        assert_eq!(
            again, pngs,
            "{sampler}: the same seed gives the same images"
        );
        let other = finished(
            engine
                .generate(&self::job(location, sampler, 43), None, &mut hook())
                .unwrap(),
        );
        assert_ne!(other, pngs, "{sampler}: another seed gives other images");

        let mut suspending = Hook {
            suspend_at: Some(3),
            ..hook()
        };
        let Outcome::Suspended(state) = engine.generate(&job, None, &mut suspending).unwrap()
        else {
            panic!("expected a suspension")
        };
        let checkpoint = state.checkpoint.expect("the engine writes a checkpoint");
        engine
            .generate(&self::job(location, sampler, 7), None, &mut hook())
            .unwrap();
        let held = Some(Resume::Held(state.held));
        let resumed = finished(engine.generate(&job, held, &mut suspending).unwrap());
        assert_eq!(
            resumed, pngs,
            "{sampler}: suspend and resume change nothing"
        );
        let elsewhere = TchEngine::new(Device::Cpu, 1 << 30);
        let mut rest = hook();
        let from_checkpoint = Some(Resume::Checkpoint(checkpoint.clone()));
        let resumed = finished(
            elsewhere
                .generate(&job, from_checkpoint, &mut rest)
                .unwrap(),
        );
        assert_eq!(
            resumed, pngs,
            "{sampler}: another engine resumes from the checkpoint exactly"
        );
        assert_eq!(rest.seen.iter().map(|s| s.0).collect::<Vec<_>>(), [4, 5, 6]);
        let other_job = self::job(location, sampler, 7);
        let mut wrong = job.clone();
        wrong.params.width = 128;
        for (target, bytes) in [
            (&wrong, checkpoint.clone()),
            (&other_job, checkpoint[..checkpoint.len() - 1].to_vec()),
            (&other_job, b"ATCK1junk".to_vec()),
        ] {
            let refused = elsewhere.generate(target, Some(Resume::Checkpoint(bytes)), &mut hook());
            assert!(
                refused.as_ref().is_err_and(|e| e.retryable),
                "{sampler}: a checkpoint that does not fit is refused, and the job retried \
                 from the start: {refused:?}"
            );
        }
        assert_eq!(
            suspending.seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
    }
    let mut cancelling = Hook {
        cancel_at: Some(2),
        ..hook()
    };
    assert!(matches!(
        engine
            .generate(&job(location, "ddim", 1), None, &mut cancelling)
            .unwrap(),
        Outcome::Canceled
    ));
    assert_eq!(cancelling.seen.len(), 2);
    assert_eq!(engine.resident_models(), [location]);
    assert!(engine.loaded_bytes() > 0);
}

/// `job` as image to image from a gradient (shifted by `shade`) at `strength`.
pub(crate) fn with_init(mut job: EngineJob, strength: f64, shade: u8) -> EngineJob {
    let (width, height) = (job.params.width, job.params.height);
    let rgb = (0..width * height * 3)
        .map(|i| ((i / 3) % width * 4) as u8 ^ ((i % 3) as u8 * 60) ^ shade)
        .collect();
    job.params.strength = Some(strength);
    job.params.init_image_id = Some(Uuid::from_u128(u128::from(shade) + 1));
    job.init_image = Some(crate::worker::engine::RgbImage { width, height, rgb });
    job
}

#[test]
fn image_to_image_runs_its_share_of_the_steps_from_the_init_image() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_diffusers(dir.path()).unwrap();
    let location = dir.path().to_str().unwrap();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    for sampler in ["ddim", "euler_a", "dpmpp_2m_karras"] {
        let job = with_init(job(location, sampler, 42), 0.5, 0);
        let mut steps = hook();
        let pngs = finished(engine.generate(&job, None, &mut steps).unwrap());
        let counted: Vec<_> = steps.seen.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(
            counted,
            [(1, 3), (2, 3), (3, 3)],
            "{sampler}: half of 6 steps"
        );
        let decoded = image::load_from_memory(&pngs[0]).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 72));
        assert_eq!(
            finished(engine.generate(&job, None, &mut hook()).unwrap()),
            pngs,
            "{sampler}: reproducible"
        );
        let text = finished(
            engine
                .generate(&self::job(location, sampler, 42), None, &mut hook())
                .unwrap(),
        );
        assert_ne!(text, pngs, "{sampler}: the init image matters");
        let other_init = with_init(self::job(location, sampler, 42), 0.5, 77);
        assert_ne!(
            finished(engine.generate(&other_init, None, &mut hook()).unwrap()),
            pngs,
            "{sampler}: another init image gives other images"
        );
        let mut suspending = Hook {
            suspend_at: Some(1),
            ..hook()
        };
        let Outcome::Suspended(state) = engine.generate(&job, None, &mut suspending).unwrap()
        else {
            panic!("expected a suspension")
        };
        let checkpoint = state.checkpoint.expect("the engine writes a checkpoint");
        let held = Some(Resume::Held(state.held));
        let resumed = finished(engine.generate(&job, held, &mut suspending).unwrap());
        assert_eq!(
            resumed, pngs,
            "{sampler}: suspend and resume change nothing"
        );
        let from_checkpoint = Some(Resume::Checkpoint(checkpoint));
        let resumed = finished(engine.generate(&job, from_checkpoint, &mut hook()).unwrap());
        assert_eq!(
            resumed, pngs,
            "{sampler}: resumed from the checkpoint exactly"
        );
    }
    let mut all = hook();
    finished(
        engine
            .generate(
                &with_init(job(location, "euler", 1), 1.0, 0),
                None,
                &mut all,
            )
            .unwrap(),
    );
    assert_eq!(all.seen.len(), 6, "strength 1 runs every step");
}

#[test]
fn the_sd15_wide_tiny_model_passes_the_probe_and_generates() {
    use crate::diffusion::tiny::{Width, write_diffusers};
    use crate::models::model::Base;
    let dir = tempfile::tempdir().unwrap();
    write_diffusers(dir.path(), Width::Sd15).unwrap();
    let probed = crate::models::probe::probe(dir.path()).unwrap();
    assert_eq!(probed.base, Base::Sd1);
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let pngs = finished(
        engine
            .generate(
                &job(dir.path().to_str().unwrap(), "euler", 5),
                None,
                &mut hook(),
            )
            .unwrap(),
    );
    assert_eq!(pngs.len(), 2);
    let decoded = image::load_from_memory(&pngs[1]).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 72));

    // Its LoRA (what `atelier model write-tiny --sd15 --lora FILE` writes) is an SD 1.x
    // LoRA to the probe, and changes the images.
    let lora = dir.path().join("lora.safetensors");
    crate::diffusion::tiny::write_lora(&lora, Width::Sd15).unwrap();
    let probed = crate::models::probe::probe(&lora).unwrap();
    assert_eq!(
        (probed.base, probed.kind),
        (Base::Sd1, crate::models::model::ModelType::Lora)
    );
    let mut adapted = job(dir.path().to_str().unwrap(), "euler", 5);
    adapted.lora_locations = vec![(Some(lora.to_str().unwrap().to_owned()), 1.0)];
    let changed = finished(engine.generate(&adapted, None, &mut hook()).unwrap());
    assert_ne!(changed, pngs);
}

#[test]
fn a_single_file_checkpoint_gives_the_same_images_as_its_diffusers_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    write_tiny_diffusers(&folder).unwrap();
    let file = dir.path().join("tiny.safetensors");
    write_tiny_single_file(&file).unwrap();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let from_folder = finished(
        engine
            .generate(
                &job(folder.to_str().unwrap(), "euler", 9),
                None,
                &mut hook(),
            )
            .unwrap(),
    );
    let from_file = finished(
        engine
            .generate(&job(file.to_str().unwrap(), "euler", 9), None, &mut hook())
            .unwrap(),
    );
    assert_eq!(from_file, from_folder);
    assert_eq!(engine.resident_models().len(), 2);
    let img2img = |location: &str| {
        let job = with_init(job(location, "euler", 9), 0.5, 1);
        finished(engine.generate(&job, None, &mut hook()).unwrap())
    };
    assert!(
        img2img(file.to_str().unwrap()) == img2img(folder.to_str().unwrap()),
        "both layouts carry the same VAE encoder"
    );
    let small = TchEngine::new(Device::Cpu, 1);
    finished(
        small
            .generate(
                &job(folder.to_str().unwrap(), "euler", 9),
                None,
                &mut hook(),
            )
            .unwrap(),
    );
    finished(
        small
            .generate(&job(file.to_str().unwrap(), "euler", 9), None, &mut hook())
            .unwrap(),
    );
    assert_eq!(
        small.resident_models(),
        [file.to_str().unwrap()],
        "the budget keeps one model"
    );
}

#[test]
fn an_sd2_single_file_is_read_at_the_penultimate_layer_with_v_prediction() {
    use crate::diffusion::pipeline::{Pipeline, Prediction};
    use crate::diffusion::tiny::write_tiny_single_file_sd2;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir_all(folder.join("scheduler")).unwrap();
    write_tiny_diffusers(&folder).unwrap();
    let file = dir.path().join("sd2.safetensors");
    write_tiny_single_file_sd2(&file).unwrap();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let generate = |location: &std::path::Path| {
        let job = job(location.to_str().unwrap(), "dpmpp_2m_karras", 4);
        finished(engine.generate(&job, None, &mut hook()).unwrap())
    };
    let epsilon = generate(&folder);
    std::fs::write(
        folder.join("scheduler/scheduler_config.json"),
        r#"{"prediction_type": "v_prediction"}"#,
    )
    .unwrap();
    let load = |path: &std::path::Path| Pipeline::load(path, Device::Cpu, Kind::Float).unwrap();
    assert_eq!(load(&folder).prediction(), Prediction::V);
    assert_eq!(load(&file).prediction(), Prediction::V);
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let generate = |location: &std::path::Path| {
        let job = job(location.to_str().unwrap(), "dpmpp_2m_karras", 4);
        finished(engine.generate(&job, None, &mut hook()).unwrap())
    };
    let v = generate(&folder);
    assert!(
        v != epsilon,
        "the folder's scheduler config turns v-prediction on"
    );
    assert!(
        generate(&file) == v,
        "the OpenCLIP single file (one more block, unused) equals the folder"
    );
}

/// The CUDA path runs in f16; libtorch's CPU kernels take f16 too, so the dtype handling
/// (f32 noise and previews around f16 latents, the VAE round trip) is exercised here. The
/// f16 images differ from the f32 ones by rounding only: far less than another seed's do.
#[test]
fn half_precision_gives_the_f32_images_within_rounding() {
    use crate::diffusion::pipeline::Pipeline;
    let dir = tempfile::tempdir().unwrap();
    write_tiny_diffusers(dir.path()).unwrap();
    let run = |kind: Kind, seed: u64, init: bool| {
        let pipeline = Pipeline::load(dir.path(), Device::Cpu, kind).unwrap();
        let job = job(dir.path().to_str().unwrap(), "dpmpp_2m_karras", seed);
        let job = if init { with_init(job, 0.6, 9) } else { job };
        let mut run = pipeline
            .start(&job.params, job.init_image.as_ref(), None, None)
            .unwrap();
        while !pipeline.done(&run) {
            pipeline.step(&mut run);
            assert!(pipeline::preview(&run.latents).is_some());
        }
        pipeline.decode(&run, None)
    };
    let mean_error = |a: &[(u32, u32, Vec<u8>)], b: &[(u32, u32, Vec<u8>)]| {
        let a: Vec<u8> = a.iter().flat_map(|image| image.2.iter().copied()).collect();
        let b: Vec<u8> = b.iter().flat_map(|image| image.2.iter().copied()).collect();
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum::<f64>()
            / a.len() as f64
    };
    for init in [false, true] {
        let full = run(Kind::Float, 3, init);
        let rounding = mean_error(&full, &run(Kind::Half, 3, init));
        let other_seed = mean_error(&full, &run(Kind::Float, 4, init));
        eprintln!("init {init}: f16 off by {rounding:.2}/255, another seed {other_seed:.2}/255");
        assert!(
            rounding * 4.0 < other_seed,
            "init {init}: f16 is off by {rounding:.2} of 255, another seed by {other_seed:.2}"
        );
    }
}

#[test]
fn missing_and_broken_models_fail_clearly() {
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let mut none = job("/nonexistent", "euler", 1);
    none.model_location = None;
    let error = engine.generate(&none, None, &mut hook()).unwrap_err();
    assert!(!error.retryable && error.message.contains("not installed"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("unet")).unwrap();
    let error = engine
        .generate(
            &job(dir.path().to_str().unwrap(), "euler", 1),
            None,
            &mut hook(),
        )
        .unwrap_err();
    assert!(
        error.message.contains("could not be loaded"),
        "{}",
        error.message
    );
}
