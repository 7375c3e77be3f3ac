//! The tch engine behind `worker::engine::Engine`. One thread owns the models and every tensor:
//! `generate` sends it the job over a channel and relays each step (progress with a preview) to
//! the worker's hook, sending the hook's answer (continue, suspend, cancel) back. The thread loads
//! models (diffusers folders or single-file LDM checkpoints) on first use, keeps the most recently
//! used within a memory budget, keeps suspended runs (latents, sampler state, step) until they
//! resume, and returns PNGs that carry their parameters.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use tch::{Device, Kind};

use super::autoencoder::Autoencoder;
use super::checkpoint;
use super::lora::Lora;
use super::pipeline::{self, Pipeline, Run};
use crate::worker::engine::{
    Control, Engine, EngineError, EngineJob, EngineMemory, LoadedModel, Outcome, Preview, Resume,
    Steps, Suspended,
};

/// Suspended runs the engine keeps; older ones are dropped (their jobs resume from their
/// checkpoints).
const MAX_SUSPENDED: usize = 16;

/// The handle the worker holds.
pub struct TchEngine {
    requests: Sender<Request>,
    /// (location, bytes) of the loaded models, most recently used last.
    status: Arc<Mutex<Vec<(String, i64)>>>,
    /// `cpu` or `cuda:N`.
    device: String,
    budget_bytes: i64,
}

/// One job for the engine thread.
struct Request {
    job: EngineJob,
    resume: Option<ResumeFrom>,
    events: Sender<Event>,
    control: Receiver<Control>,
}

/// Where the engine thread resumes a run from.
enum ResumeFrom {
    /// A run it keeps, by token.
    Kept(u64),
    /// A checkpoint's bytes.
    Checkpoint(Vec<u8>),
}

/// What the engine thread reports during a job.
enum Event {
    Step(u32, u32, Option<Preview>),
    Done(Result<Outcome, EngineError>),
}

fn failure(message: impl Into<String>, retryable: bool) -> EngineError {
    EngineError {
        message: message.into(),
        retryable,
    }
}

impl TchEngine {
    /// Starts the engine thread on `device` (fp16 on CUDA, fp32 on the CPU), keeping at most
    /// `budget_bytes` of weights loaded.
    pub fn new(device: Device, budget_bytes: i64) -> Self {
        let kind = if device.is_cuda() {
            Kind::Half
        } else {
            Kind::Float
        };
        let (requests, incoming) = mpsc::channel::<Request>();
        let status = Arc::new(Mutex::new(Vec::new()));
        let mut models = Models {
            device,
            kind,
            budget_bytes,
            loaded: Vec::new(),
            status: Arc::clone(&status),
        };
        let mut suspended = Kept::default();
        std::thread::Builder::new()
            .name("atelier-engine".into())
            .spawn(move || {
                while let Ok(request) = incoming.recv() {
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        run_job(&mut models, &mut suspended, &request)
                    }))
                    .unwrap_or_else(|_| Err(failure("the engine crashed on this job", true)));
                    let _ = request.events.send(Event::Done(result));
                }
            })
            .expect("the engine thread can be spawned");
        Self {
            requests,
            status,
            device: match device {
                Device::Cuda(index) => format!("cuda:{index}"),
                _ => "cpu".into(),
            },
            budget_bytes,
        }
    }

    /// Bytes of weights loaded now.
    pub fn loaded_bytes(&self) -> i64 {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.iter().map(|(_, bytes)| bytes).sum()
    }
}

/// A loaded model: a whole pipeline, or a VAE that jobs may swap in.
enum Loaded {
    Pipeline(Box<Pipeline>),
    Vae(Box<Autoencoder>),
    Lora(Box<Lora>),
}

/// What a location holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    Model,
    Vae,
    Lora,
}

impl What {
    fn noun(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Vae => "VAE",
            Self::Lora => "LoRA",
        }
    }
}

impl Loaded {
    fn bytes(&self) -> i64 {
        match self {
            Self::Pipeline(p) => p.bytes(),
            Self::Vae(v) => v.bytes(),
            Self::Lora(l) => l.bytes(),
        }
    }
}

/// The engine thread's models, least recently used first.
struct Models {
    device: Device,
    kind: Kind,
    budget_bytes: i64,
    loaded: Vec<(String, Loaded)>,
    status: Arc<Mutex<Vec<(String, i64)>>>,
}

impl Models {
    /// Makes `location` (a pipeline, or a VAE when `vae`) the most recently used, loading it if
    /// needed and unloading the least recently used beyond the budget, except those in `keep`.
    fn touch(&mut self, location: &str, what: What, keep: &[&str]) -> Result<(), EngineError> {
        let index = match self.loaded.iter().position(|(l, _)| l == location) {
            Some(index) => index,
            None => {
                let started = std::time::Instant::now();
                let path = std::path::Path::new(location);
                let (device, kind) = (self.device, self.kind);
                let loaded = match what {
                    What::Model => {
                        Pipeline::load(path, device, kind).map(|p| Loaded::Pipeline(Box::new(p)))
                    }
                    What::Vae => {
                        Autoencoder::load(path, device, kind).map(|v| Loaded::Vae(Box::new(v)))
                    }
                    What::Lora => Lora::load(path, device, kind).map(|l| Loaded::Lora(Box::new(l))),
                };
                let what = what.noun();
                let loaded = loaded.map_err(|e| {
                    failure(format!("the {what} could not be loaded: {e:#}"), false)
                })?;
                while self.loaded.iter().map(|(_, m)| m.bytes()).sum::<i64>() + loaded.bytes()
                    > self.budget_bytes
                {
                    let Some(oldest) = self.loaded.iter().position(|(l, _)| !keep.contains(&&**l))
                    else {
                        break;
                    };
                    let (evicted, _) = self.loaded.remove(oldest);
                    tracing::info!(model = %evicted, "unloaded a model to stay within the budget");
                }
                tracing::info!(
                    model = %location,
                    mib = loaded.bytes() >> 20,
                    secs = started.elapsed().as_secs_f64(),
                    "{what} loaded"
                );
                self.loaded.push((location.to_owned(), loaded));
                self.loaded.len() - 1
            }
        };
        let entry = self.loaded.remove(index);
        self.loaded.push(entry);
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        *status = self
            .loaded
            .iter()
            .map(|(l, m)| (l.clone(), m.bytes()))
            .collect();
        Ok(())
    }

    /// The pipeline at `location`, the VAE at `vae` and the LoRAs at `loras`, loading what is
    /// missing.
    fn get(
        &mut self,
        location: &str,
        vae: Option<&str>,
        loras: &[&str],
    ) -> Result<Parts<'_>, EngineError> {
        let mut keep = vec![location];
        self.touch(location, What::Model, &[])?;
        if let Some(vae) = vae {
            self.touch(vae, What::Vae, &keep)?;
            keep.push(vae);
        }
        for lora in loras {
            self.touch(lora, What::Lora, &keep)?;
            keep.push(lora);
        }
        let find = |wanted: &str| {
            self.loaded
                .iter()
                .find(|(l, _)| l == wanted)
                .map(|(_, m)| m)
        };
        let mistaken = |what: What| {
            failure(
                format!(
                    "the {} file is installed as another kind of model",
                    what.noun()
                ),
                false,
            )
        };
        let Some(Loaded::Pipeline(pipeline)) = find(location) else {
            return Err(mistaken(What::Model));
        };
        let vae = match vae.map(find) {
            None => None,
            Some(Some(Loaded::Vae(v))) => Some(&**v),
            Some(_) => return Err(mistaken(What::Vae)),
        };
        let loras = loras
            .iter()
            .map(|l| match find(l) {
                Some(Loaded::Lora(lora)) => Ok(&**lora),
                _ => Err(mistaken(What::Lora)),
            })
            .collect::<Result<_, _>>()?;
        Ok(Parts {
            pipeline,
            vae,
            loras,
        })
    }
}

/// What one job uses.
struct Parts<'a> {
    pipeline: &'a Pipeline,
    vae: Option<&'a Autoencoder>,
    loras: Vec<&'a Lora>,
}

/// Suspended runs by token.
#[derive(Default)]
struct Kept {
    runs: VecDeque<(u64, Run)>,
    next: u64,
}

impl Kept {
    fn keep(&mut self, run: Run) -> u64 {
        self.next += 1;
        if self.runs.len() >= MAX_SUSPENDED {
            self.runs.pop_front();
        }
        self.runs.push_back((self.next, run));
        self.next
    }

    fn take(&mut self, token: u64) -> Option<Run> {
        let index = self.runs.iter().position(|(t, _)| *t == token)?;
        self.runs.remove(index).map(|(_, run)| run)
    }
}

/// Runs one job on the engine thread.
fn run_job(
    models: &mut Models,
    kept: &mut Kept,
    request: &Request,
) -> Result<Outcome, EngineError> {
    let job = &request.job;
    let location = job
        .model_location
        .as_deref()
        .ok_or_else(|| failure("the model is not installed", false))?;
    let vae = match &job.vae_location {
        None => None,
        Some(None) => return Err(failure("the VAE is not installed", false)),
        Some(Some(vae)) => Some(vae.as_str()),
    };
    let lora_locations = job
        .lora_locations
        .iter()
        .map(|(location, _)| {
            location
                .as_deref()
                .ok_or_else(|| failure("a LoRA is not installed", false))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Parts {
        pipeline,
        vae,
        loras,
    } = models.get(location, vae, &lora_locations)?;
    let strengths = loras
        .iter()
        .zip(&job.lora_locations)
        .map(|(l, (_, s))| (*l, *s));
    // The adapters stay applied while this request runs; dropping the guard restores the model.
    let _patched = pipeline
        .apply(&strengths.collect::<Vec<_>>())
        .map_err(|e| failure(format!("the LoRA could not be applied: {e:#}"), false))?;
    let kept_run = match &request.resume {
        Some(ResumeFrom::Kept(token)) => kept.take(*token),
        _ => None,
    };
    let mut run = match kept_run {
        Some(run) => run,
        None => {
            let mut run = pipeline
                .start(&job.params, job.init_image.as_ref(), job.mask.as_ref(), vae)
                .map_err(|e| failure(format!("{e:#}"), false))?;
            if let Some(ResumeFrom::Checkpoint(bytes)) = &request.resume {
                // Retryable: the queue drops the checkpoint of a failed run, so the retry
                // starts from the first step.
                checkpoint::restore(&mut run, bytes, pipeline.device()).map_err(|e| {
                    failure(format!("the job's checkpoint does not fit it: {e:#}"), true)
                })?;
            }
            run
        }
    };
    if run.truncated {
        tracing::warn!(
            item = %job.id,
            chunks = super::prompt::MAX_CHUNKS,
            "the prompt was cut to its first chunks of 75 tokens"
        );
    }
    while !pipeline.done(&run) {
        pipeline.step(&mut run);
        let (done, total) = pipeline.progress(&run);
        let (done, total) = (done as u32, total as u32);
        let preview = pipeline::preview(&run.latents).map(|(width, height, rgb)| Preview {
            width,
            height,
            rgb,
        });
        if request
            .events
            .send(Event::Step(done, total, preview))
            .is_err()
        {
            return Ok(Outcome::Canceled);
        }
        match request.control.recv() {
            Ok(Control::Continue) => {}
            Ok(Control::Suspend) => {
                let checkpoint = checkpoint::write(&run)
                    .inspect_err(|e| tracing::warn!(error = %e, "no checkpoint of the run"))
                    .ok();
                let token = kept.keep(run);
                return Ok(Outcome::Suspended(Suspended {
                    held: Box::new(token),
                    checkpoint,
                }));
            }
            Ok(Control::Cancel) | Err(_) => return Ok(Outcome::Canceled),
        }
    }
    pipeline
        .decode(&run, vae)
        .into_iter()
        .map(|(w, h, pixels)| pipeline::png(w, h, &pixels, &job.params))
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Outcome::Finished)
        .map_err(|e| failure(format!("encoding the image failed: {e}"), false))
}

impl Engine for TchEngine {
    fn memory(&self) -> EngineMemory {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        EngineMemory {
            device: self.device.clone(),
            budget_bytes: self.budget_bytes,
            models: status
                .iter()
                .map(|(location, bytes)| LoadedModel {
                    location: location.clone(),
                    bytes: *bytes,
                })
                .collect(),
        }
    }

    fn generate(
        &self,
        job: &EngineJob,
        resume: Option<Resume>,
        steps: &mut dyn Steps,
    ) -> Result<Outcome, EngineError> {
        let stopped = || failure("the engine thread stopped", true);
        let resume = match resume {
            None => None,
            Some(Resume::Held(held)) => held.downcast::<u64>().ok().map(|t| ResumeFrom::Kept(*t)),
            Some(Resume::Checkpoint(bytes)) => Some(ResumeFrom::Checkpoint(bytes)),
        };
        let (events, from_engine) = mpsc::channel();
        let (to_engine, control) = mpsc::channel();
        let request = Request {
            job: job.clone(),
            resume,
            events,
            control,
        };
        self.requests.send(request).map_err(|_| stopped())?;
        loop {
            match from_engine.recv().map_err(|_| stopped())? {
                Event::Step(done, total, preview) => {
                    let answer = steps.after_step(done, total, preview);
                    let _ = to_engine.send(answer);
                }
                Event::Done(result) => return result,
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
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
                let refused =
                    elsewhere.generate(target, Some(Resume::Checkpoint(bytes)), &mut hook());
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
            eprintln!(
                "init {init}: f16 off by {rounding:.2}/255, another seed {other_seed:.2}/255"
            );
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
}
