//! A deterministic stand-in for the diffusion engine, in test code only. Each step sleeps for
//! `step_time` (the "GPU work") and mixes the step index into a running state; the images are a
//! function of that state, so they depend only on (seed, steps, size, images) and an item that
//! was suspended and resumed gives exactly the bytes of an uninterrupted run.

use std::sync::Mutex;
use std::time::Duration;

use atelier::queue::model::GenerationParams;
use atelier::worker::engine::{
    Control, Engine, EngineError, EngineJob, Outcome, Preview, Resume, Steps, Suspended,
};
use uuid::Uuid;

/// What the engine was asked to do, for assertions.
#[derive(Clone, Debug)]
pub struct Run {
    pub item: Uuid,
    /// The step it resumed from (None: from the start).
    pub resumed_from: Option<u32>,
    /// Where its state came from.
    pub from: Source,
}

/// Where a run's state came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Start,
    /// The engine's own memory (the worker that suspended it).
    Held,
    /// A checkpoint (any worker).
    Checkpoint,
}

pub struct TestEngine {
    pub step_time: Duration,
    pub runs: Mutex<Vec<Run>>,
}

struct State {
    step: u32,
    acc: u64,
}

impl State {
    fn write(&self) -> Vec<u8> {
        let mut bytes = self.step.to_le_bytes().to_vec();
        bytes.extend_from_slice(&self.acc.to_le_bytes());
        bytes
    }

    fn read(bytes: &[u8]) -> Option<Self> {
        let (step, acc) = bytes.split_at_checked(4)?;
        Some(Self {
            step: u32::from_le_bytes(step.try_into().ok()?),
            acc: u64::from_le_bytes(acc.try_into().ok()?),
        })
    }
}

impl TestEngine {
    pub fn new(step_time: Duration) -> Self {
        Self {
            step_time,
            runs: Mutex::new(Vec::new()),
        }
    }

    pub fn runs(&self) -> Vec<Run> {
        self.runs.lock().unwrap().clone()
    }
}

fn mix(acc: u64, step: u32) -> u64 {
    let mut x = acc ^ (u64::from(step) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^ (x >> 29)
}

fn pixels(acc: u64, salt: u64, count: usize) -> Vec<u8> {
    let mut x = acc ^ salt.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (0..count)
        .map(|i| {
            x = mix(x, i as u32);
            (x & 0xFF) as u8
        })
        .collect()
}

/// The PNGs an uninterrupted run of `params` gives.
pub fn expected_images(params: &GenerationParams) -> Vec<Vec<u8>> {
    let mut acc = params.seed.unwrap();
    for step in 0..params.steps {
        acc = mix(acc, step);
    }
    render(params, acc)
}

fn render(params: &GenerationParams, acc: u64) -> Vec<Vec<u8>> {
    let text = serde_json::to_string(params).unwrap();
    (0..params.num_images)
        .map(|i| {
            let rgb = pixels(
                acc,
                u64::from(i),
                (params.width * params.height * 3) as usize,
            );
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, params.width, params.height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .add_text_chunk("atelier".into(), text.clone())
                .unwrap();
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&rgb).unwrap();
            drop(writer);
            out
        })
        .collect()
}

impl Engine for TestEngine {
    fn generate(
        &self,
        job: &EngineJob,
        resume: Option<Resume>,
        steps: &mut dyn Steps,
    ) -> Result<Outcome, EngineError> {
        let params = &job.params;
        let refused = |message: &str| EngineError {
            message: message.into(),
            retryable: false,
        };
        let (mut state, from) = match resume {
            Some(Resume::Held(held)) => (
                *held
                    .downcast::<State>()
                    .map_err(|_| refused("foreign suspended state"))?,
                Source::Held,
            ),
            Some(Resume::Checkpoint(bytes)) => {
                let state = State::read(&bytes).ok_or_else(|| refused("a bad checkpoint"))?;
                (state, Source::Checkpoint)
            }
            None => (
                State {
                    step: 0,
                    acc: params.seed.unwrap(),
                },
                Source::Start,
            ),
        };
        self.runs.lock().unwrap().push(Run {
            item: job.id,
            resumed_from: (state.step > 0).then_some(state.step),
            from,
        });
        while state.step < params.steps {
            std::thread::sleep(self.step_time);
            state.acc = mix(state.acc, state.step);
            state.step += 1;
            let preview = Preview {
                width: 8,
                height: 8,
                rgb: pixels(state.acc, 99, 8 * 8 * 3),
            };
            match steps.after_step(state.step, params.steps, Some(preview)) {
                Control::Continue => {}
                Control::Suspend => {
                    let checkpoint = Some(state.write());
                    return Ok(Outcome::Suspended(Suspended {
                        held: Box::new(state),
                        checkpoint,
                    }));
                }
                Control::Cancel => return Ok(Outcome::Canceled),
            }
        }
        Ok(Outcome::Finished(render(params, state.acc)))
    }
}
