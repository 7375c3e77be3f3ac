//! The samplers' per-step updates on latents, for epsilon-predicting models: DDIM (eta 0),
//! Euler, Euler ancestral and DPM-Solver++ 2M (Karras sigmas), and the noising that starts image
//! to image part-way through a plan. A run's whole state between steps
//! is the latents plus [`SamplerState`], which is what a suspended job keeps.

use tch::Tensor;

use super::schedule::{Plan, Sampler};

/// What a sampler carries from one step to the next besides the latents.
#[derive(Debug, Default)]
pub struct SamplerState {
    /// Steps done (image to image starts part-way).
    pub step: usize,
    /// DPM++ 2M: the previous step's denoised estimate.
    previous_denoised: Option<Tensor>,
}

impl SamplerState {
    /// A fresh state that starts at step `step` (image to image).
    pub fn starting_at(step: usize) -> Self {
        Self {
            step,
            previous_denoised: None,
        }
    }

    /// DPM++ 2M's previous denoised estimate, if the sampler keeps one (for checkpoints).
    pub fn previous_denoised(&self) -> Option<&Tensor> {
        self.previous_denoised.as_ref()
    }

    /// A state at `step` with the sampler's carried tensor (a restored checkpoint).
    pub fn restored(step: usize, previous_denoised: Option<Tensor>) -> Self {
        Self {
            step,
            previous_denoised,
        }
    }

    /// A shallow copy (tensors share storage; the sampler never writes in place).
    pub fn duplicate(&self) -> Self {
        Self {
            step: self.step,
            previous_denoised: self.previous_denoised.as_ref().map(Tensor::shallow_clone),
        }
    }
}

/// Serialises use of libtorch's one global generator: a draw seeded with `manual_seed` gives its
/// seed's values only if no other thread seeds or draws in between (several engines in one
/// process, as in the tests). Every seeded draw in this crate goes through it.
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    static HOLDING_GENERATOR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `draw` with the generator to itself (re-entrant on one thread).
pub fn with_generator<T>(draw: impl FnOnce() -> T) -> T {
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            HOLDING_GENERATOR.with(|held| held.set(false));
        }
    }
    if HOLDING_GENERATOR.with(std::cell::Cell::get) {
        return draw();
    }
    let _lock = GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    HOLDING_GENERATOR.with(|held| held.set(true));
    let _release = Release;
    draw()
}

/// Seeds the generator with `seed` and runs `draw` with it to itself.
pub fn with_seed<T>(seed: i64, draw: impl FnOnce() -> T) -> T {
    with_generator(|| {
        tch::manual_seed(seed);
        draw()
    })
}

/// The ancestral noise of step `step` of a job seeded with `seed`: a function of the two alone,
/// so a job suspended and resumed (while other jobs draw noise) gets the same image.
pub fn step_noise(seed: u64, step: usize, shape: &[i64], device: tch::Device) -> Tensor {
    let mixed = seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    with_seed(i64::from_le_bytes(mixed.to_le_bytes()) & i64::MAX, || {
        Tensor::randn(shape, (tch::Kind::Float, device))
    })
}

/// The VP-space coefficients of a k-diffusion sigma: (alpha_t, sigma_t).
fn alpha_sigma(sigma: f64) -> (f64, f64) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

impl Plan {
    /// Steps in the plan.
    pub fn len(&self) -> usize {
        self.timesteps.len()
    }

    /// Whether the plan has no steps.
    pub fn is_empty(&self) -> bool {
        self.timesteps.is_empty()
    }

    /// `clean` latents noised to the level that step `i` expects (image to image starts there):
    /// `clean + noise * sigma` for the Euler samplers (their latents are not scaled), and
    /// `sqrt(alpha) * clean + sqrt(1 - alpha) * noise` for DDIM and DPM++ (variance preserving).
    pub fn noised(&self, clean: &Tensor, noise: &Tensor, i: usize) -> Tensor {
        match self.sampler {
            Sampler::Euler | Sampler::EulerAncestral => clean + noise * self.sigmas[i],
            Sampler::Ddim => {
                let alpha = self.alphas[i];
                clean * alpha.sqrt() + noise * (1.0 - alpha).sqrt()
            }
            Sampler::DpmPp2mKarras => {
                let (alpha, sigma) = alpha_sigma(self.sigmas[i]);
                clean * alpha + noise * sigma
            }
        }
    }

    /// The noise a v-predicting model (SD 2.x's 768 models) means by `v` at step `i`, given its
    /// input `x` (variance-preserving latents, as [`Plan::scale_input`] gives them):
    /// `eps = alpha * v + sigma * x`, since `x = alpha * x0 + sigma * eps` and
    /// `v = alpha * eps - sigma * x0` with `alpha^2 + sigma^2 = 1`.
    pub fn eps_from_v(&self, x: &Tensor, v: &Tensor, i: usize) -> Tensor {
        let (alpha, sigma) = match self.sampler {
            Sampler::Ddim => (self.alphas[i].sqrt(), (1.0 - self.alphas[i]).sqrt()),
            _ => alpha_sigma(self.sigmas[i]),
        };
        v * alpha + x * sigma
    }

    /// The model's input at step `i`: Euler samplers scale by `1 / sqrt(sigma^2 + 1)`.
    pub fn scale_input(&self, latents: &Tensor, i: usize) -> Tensor {
        match self.sampler {
            Sampler::Euler | Sampler::EulerAncestral => {
                let sigma = self.sigmas[i];
                latents / (sigma * sigma + 1.0).sqrt()
            }
            Sampler::Ddim | Sampler::DpmPp2mKarras => latents.shallow_clone(),
        }
    }

    /// One step: from `latents` and the model's noise prediction `eps` at step `state.step`, the
    /// latents of the next step. `noise` gives fresh Gaussian noise (Euler ancestral only).
    pub fn step(
        &self,
        state: &mut SamplerState,
        latents: &Tensor,
        eps: &Tensor,
        noise: impl FnOnce() -> Tensor,
    ) -> Tensor {
        let i = state.step;
        state.step += 1;
        match self.sampler {
            Sampler::Ddim => {
                let (a, a_prev) = (self.alphas[i], self.alphas_prev[i]);
                let denoised = (latents - eps * (1.0 - a).sqrt()) / a.sqrt();
                denoised * a_prev.sqrt() + eps * (1.0 - a_prev).sqrt()
            }
            Sampler::Euler => latents + eps * (self.sigmas[i + 1] - self.sigmas[i]),
            Sampler::EulerAncestral => {
                let (from, to) = (self.sigmas[i], self.sigmas[i + 1]);
                let up = (to * to * (from * from - to * to) / (from * from)).sqrt();
                let down = (to * to - up * up).sqrt();
                let moved = latents + eps * (down - from);
                if up > 0.0 {
                    moved + noise() * up
                } else {
                    moved
                }
            }
            Sampler::DpmPp2mKarras => self.dpm_step(state, i, latents, eps),
        }
    }

    fn dpm_step(&self, state: &mut SamplerState, i: usize, x: &Tensor, eps: &Tensor) -> Tensor {
        let (alpha_s, sigma_s) = alpha_sigma(self.sigmas[i]);
        let denoised = (x - eps * sigma_s) / alpha_s;
        let next = self.sigmas[i + 1];
        let previous = state.previous_denoised.replace(denoised.shallow_clone());
        let last = i + 1 == self.len();
        if next == 0.0 {
            return denoised;
        }
        let (alpha_t, sigma_t) = alpha_sigma(next);
        let lambda = |alpha: f64, sigma: f64| alpha.ln() - sigma.ln();
        let h = lambda(alpha_t, sigma_t) - lambda(alpha_s, sigma_s);
        let first = x * (sigma_t / sigma_s) - &denoised * (alpha_t * ((-h).exp() - 1.0));
        match previous {
            Some(previous) if i > 0 && !last => {
                let (alpha_p, sigma_p) = alpha_sigma(self.sigmas[i - 1]);
                let r = (lambda(alpha_s, sigma_s) - lambda(alpha_p, sigma_p)) / h;
                let d1 = (&denoised - previous) / r;
                first - d1 * (0.5 * alpha_t * ((-h).exp() - 1.0))
            }
            _ => first,
        }
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;
    use crate::diffusion::schedule::Schedule;

    #[derive(serde::Deserialize)]
    struct Golden {
        sampler: String,
        steps: usize,
        prediction: String,
        #[serde(rename = "final")]
        last: Vec<f32>,
    }

    /// The stand-in model of `tests/data/make_sampler_golden.py`.
    fn model(input: &Tensor, t: f64) -> Tensor {
        input.tanh() * 0.5 + 0.001 * t
    }

    /// A whole run from seeded noise. With `per_step_noise`, ancestral noise comes from
    /// [`step_noise`]; otherwise from the global stream, as the reference draws it. With
    /// `suspend_at`, the run stops there, another job draws noise, and the run resumes from the
    /// kept latents and state.
    fn run(plan: &Plan, seed: i64, per_step_noise: bool, suspend_at: Option<usize>) -> Vec<f32> {
        run_predicting(plan, seed, per_step_noise, suspend_at, false)
    }

    /// [`run`], with the stand-in model's output read as `v` when `v` is set.
    fn run_predicting(
        plan: &Plan,
        seed: i64,
        per_step_noise: bool,
        suspend_at: Option<usize>,
        v: bool,
    ) -> Vec<f32> {
        // The whole run holds the generator: without per-step noise, its stream is the noise.
        with_seed(seed, || {
            let mut x =
                Tensor::randn([1, 4, 4, 4], (Kind::Float, Device::Cpu)) * plan.init_noise_sigma;
            let mut state = SamplerState::default();
            while state.step < plan.len() {
                if suspend_at == Some(state.step) {
                    let kept = (x.copy(), state.duplicate());
                    let _other_job = Tensor::randn([64], (Kind::Float, Device::Cpu));
                    (x, state) = kept;
                }
                let i = state.step;
                let input = plan.scale_input(&x, i);
                let out = model(&input, plan.timesteps[i]);
                let eps = if v {
                    plan.eps_from_v(&input, &out, i)
                } else {
                    out
                };
                x = plan.step(&mut state, &x, &eps, || {
                    if per_step_noise {
                        step_noise(seed as u64, i, &[1, 4, 4, 4], Device::Cpu)
                    } else {
                        Tensor::randn([1, 4, 4, 4], (Kind::Float, Device::Cpu))
                    }
                });
            }
            Vec::<f32>::try_from(x.flatten(0, -1)).unwrap()
        })
    }

    #[test]
    fn whole_runs_match_the_reference_schedulers() {
        let golden: Vec<Golden> =
            serde_json::from_str(include_str!("../../tests/data/sampler_golden.json")).unwrap();
        let schedule = Schedule::stable_diffusion();
        for case in golden {
            let sampler = Sampler::parse(&case.sampler).unwrap();
            let plan = Plan::new(&schedule, sampler, case.steps);
            let v = case.prediction == "v_prediction";
            let ours = run_predicting(&plan, 7, false, None, v);
            for (a, b) in ours.iter().zip(&case.last) {
                assert!(
                    (a - b).abs() <= 1e-3 + 1e-4 * b.abs(),
                    "{} ({}) with {} steps: {ours:?} vs {:?}",
                    case.sampler,
                    case.prediction,
                    case.steps,
                    case.last
                );
            }
        }
    }

    #[test]
    fn suspending_and_resuming_changes_nothing() {
        let schedule = Schedule::stable_diffusion();
        for sampler in ["ddim", "euler", "euler_a", "dpmpp_2m_karras"] {
            let plan = Plan::new(&schedule, Sampler::parse(sampler).unwrap(), 10);
            let whole = run(&plan, 3, true, None);
            assert_eq!(whole, run(&plan, 3, true, Some(5)), "{sampler}");
            assert!(whole.iter().all(|v| v.is_finite()));
        }
    }
}

#[cfg(test)]
mod img2img_tests {
    use tch::{Device, Kind, Tensor};

    use crate::diffusion::pipeline::first_step;
    use crate::diffusion::schedule::{Plan, Sampler, Schedule};

    #[derive(serde::Deserialize)]
    struct Golden {
        sampler: String,
        steps: usize,
        strength: f64,
        start: usize,
        noisy: f64,
    }

    #[test]
    fn image_to_image_starts_where_the_reference_starts_at_its_noise_level() {
        let cases: Vec<Golden> =
            serde_json::from_str(include_str!("../../tests/data/img2img_golden.json")).unwrap();
        assert_eq!(cases.len(), 16);
        for case in cases {
            let what = format!("{} {} steps at {}", case.sampler, case.steps, case.strength);
            let start = first_step(case.steps, case.strength);
            assert_eq!(start, case.start, "{what}: first step");
            let sampler = Sampler::parse(&case.sampler).unwrap();
            let plan = Plan::new(&Schedule::stable_diffusion(), sampler, case.steps);
            let clean = Tensor::full([1, 4, 2, 2], 0.5, (Kind::Float, Device::Cpu));
            let noise = Tensor::ones([1, 4, 2, 2], (Kind::Float, Device::Cpu));
            let noisy = plan
                .noised(&clean, &noise, start)
                .double_value(&[0, 0, 0, 0]);
            assert!(
                (noisy - case.noisy).abs() < 1e-4,
                "{what}: {noisy} vs {}",
                case.noisy
            );
        }
    }
}
