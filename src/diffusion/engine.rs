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
    /// The caller's span (the worker's `job` span): the engine thread logs inside it.
    span: tracing::Span,
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
                    let _job = request.span.clone().entered();
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
        let step = tracing::debug_span!("step", n = pipeline.progress(&run).0).entered();
        pipeline.step(&mut run);
        drop(step);
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
            span: tracing::Span::current(),
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
#[path = "engine_tests.rs"]
pub(super) mod tests;
