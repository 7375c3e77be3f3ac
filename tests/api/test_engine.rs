//! A deterministic stand-in for the diffusion engine, in test code only. Each step sleeps for
//! `step_time` (the "GPU work") and mixes the step index into a running state; the images are a
//! function of that state, so they depend only on (seed, steps, size, images) and an item that
//! was suspended and resumed gives exactly the bytes of an uninterrupted run.

use std::sync::Mutex;
use std::time::Duration;

use atelier::queue::model::GenerationParams;
use atelier::worker::engine::{
    Control, Engine, EngineError, EngineJob, Outcome, Preview, Steps, Suspended,
};
use uuid::Uuid;

/// What the engine was asked to do, for assertions.
#[derive(Clone, Debug)]
pub struct Run {
    pub item: Uuid,
    /// The step it resumed from (None: from the start).
    pub resumed_from: Option<u32>,
}

pub struct TestEngine {
    pub step_time: Duration,
    pub runs: Mutex<Vec<Run>>,
}

struct State {
    step: u32,
    acc: u64,
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
        resume: Option<Suspended>,
        steps: &mut dyn Steps,
    ) -> Result<Outcome, EngineError> {
        let params = &job.params;
        let mut state = match resume {
            Some(suspended) => *suspended.0.downcast::<State>().map_err(|_| EngineError {
                message: "foreign suspended state".into(),
                retryable: false,
            })?,
            None => State {
                step: 0,
                acc: params.seed.unwrap(),
            },
        };
        self.runs.lock().unwrap().push(Run {
            item: job.id,
            resumed_from: (state.step > 0).then_some(state.step),
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
                Control::Suspend => return Ok(Outcome::Suspended(Suspended(Box::new(state)))),
                Control::Cancel => return Ok(Outcome::Canceled),
            }
        }
        Ok(Outcome::Finished(render(params, state.acc)))
    }
}
