//! Noise schedules and sampler plans for Stable Diffusion 1.x/2.x: the scaled-linear beta
//! schedule over 1,000 training steps, "leading" timestep spacing with an offset of 1 (how SD 1.5
//! ships its scheduler config), and each sampler's timesteps and sigmas. Pure arithmetic in f64;
//! the per-step updates on tensors build on these plans.

/// Training timesteps.
pub const TRAIN_STEPS: usize = 1000;
const BETA_START: f64 = 0.00085;
const BETA_END: f64 = 0.012;
const STEPS_OFFSET: usize = 1;
/// Karras et al.'s rho.
const RHO: f64 = 7.0;

/// The samplers the engine implements (names as in `GenerationParams::sampler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    /// DDIM, deterministic (eta 0).
    Ddim,
    /// Euler (k-diffusion).
    Euler,
    /// Euler ancestral (adds noise each step).
    EulerAncestral,
    /// DPM-Solver++ 2M with Karras sigmas.
    DpmPp2mKarras,
}

impl Sampler {
    /// Parses `ddim`, `euler`, `euler_a` or `dpmpp_2m_karras`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ddim" => Some(Sampler::Ddim),
            "euler" => Some(Sampler::Euler),
            "euler_a" => Some(Sampler::EulerAncestral),
            "dpmpp_2m_karras" => Some(Sampler::DpmPp2mKarras),
            _ => None,
        }
    }
}

/// The training noise schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Cumulative products of `1 - beta`, one per training timestep.
    pub alphas_cumprod: Vec<f64>,
}

impl Default for Schedule {
    fn default() -> Self {
        Self::stable_diffusion()
    }
}

impl Schedule {
    /// SD's scaled-linear schedule: betas are the squares of a linear ramp between the square
    /// roots of 0.00085 and 0.012.
    pub fn stable_diffusion() -> Self {
        let (start, end) = (BETA_START.sqrt(), BETA_END.sqrt());
        let last = (TRAIN_STEPS - 1) as f64;
        let mut product = 1.0;
        let alphas_cumprod = (0..TRAIN_STEPS)
            .map(|i| {
                let beta = (start + (end - start) * i as f64 / last).powi(2);
                product *= 1.0 - beta;
                product
            })
            .collect();
        Self { alphas_cumprod }
    }

    /// The k-diffusion sigma of training timestep `t`: `sqrt((1 - a) / a)`.
    pub fn sigma(&self, t: usize) -> f64 {
        let a = self.alphas_cumprod[t];
        ((1.0 - a) / a).sqrt()
    }

    /// The (fractional) timestep of `sigma`, interpolating linearly in log-sigma.
    pub fn timestep_of(&self, sigma: f64) -> f64 {
        let log_sigma = sigma.max(1e-10).ln();
        let logs: Vec<f64> = (0..TRAIN_STEPS).map(|t| self.sigma(t).ln()).collect();
        let low = logs
            .iter()
            .rposition(|l| log_sigma >= *l)
            .unwrap_or(0)
            .min(TRAIN_STEPS - 2);
        let (lo, hi) = (logs[low], logs[low + 1]);
        let w = ((lo - log_sigma) / (lo - hi)).clamp(0.0, 1.0);
        (1.0 - w) * low as f64 + w * (low + 1) as f64
    }
}

/// Timesteps with "leading" spacing: `i * (1000 / steps) + 1`, from the noisiest down.
pub fn leading_timesteps(steps: usize) -> Vec<usize> {
    let ratio = TRAIN_STEPS / steps.max(1);
    (0..steps.max(1))
        .rev()
        .map(|i| i * ratio + STEPS_OFFSET)
        .collect()
}

/// Karras et al.'s sigmas: `steps` values from `max` to `min`, evenly spaced in `sigma^(1/rho)`.
pub fn karras_sigmas(min: f64, max: f64, steps: usize) -> Vec<f64> {
    let (min_inv, max_inv) = (min.powf(1.0 / RHO), max.powf(1.0 / RHO));
    let last = steps.saturating_sub(1).max(1) as f64;
    (0..steps)
        .map(|i| (max_inv + i as f64 / last * (min_inv - max_inv)).powf(RHO))
        .collect()
}

/// What a sampler runs: the model is evaluated at `timesteps[i]`; k-diffusion samplers move from
/// `sigmas[i]` to `sigmas[i + 1]` (the last sigma is 0); DDIM moves between `alphas[i]` and
/// `alphas_prev[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The sampler.
    pub sampler: Sampler,
    /// Model timesteps, one per step.
    pub timesteps: Vec<f64>,
    /// Sigmas, one more than steps (k-diffusion samplers; empty for DDIM).
    pub sigmas: Vec<f64>,
    /// Cumulative alpha at each step's timestep (DDIM).
    pub alphas: Vec<f64>,
    /// Cumulative alpha at the step's target (DDIM).
    pub alphas_prev: Vec<f64>,
    /// The scale of the initial noise.
    pub init_noise_sigma: f64,
}

impl Plan {
    /// The plan of `sampler` for `steps` denoising steps.
    pub fn new(schedule: &Schedule, sampler: Sampler, steps: usize) -> Self {
        let steps = steps.max(1);
        match sampler {
            Sampler::Ddim => {
                let ratio = TRAIN_STEPS / steps;
                let timesteps = leading_timesteps(steps);
                let alphas = timesteps
                    .iter()
                    .map(|t| schedule.alphas_cumprod[*t])
                    .collect();
                let alphas_prev = timesteps
                    .iter()
                    .map(|t| match t.checked_sub(ratio) {
                        Some(prev) => schedule.alphas_cumprod[prev],
                        None => schedule.alphas_cumprod[0],
                    })
                    .collect();
                Self {
                    sampler,
                    timesteps: timesteps.iter().map(|t| *t as f64).collect(),
                    sigmas: Vec::new(),
                    alphas,
                    alphas_prev,
                    init_noise_sigma: 1.0,
                }
            }
            Sampler::Euler | Sampler::EulerAncestral => {
                let timesteps = leading_timesteps(steps);
                let mut sigmas: Vec<f64> = timesteps.iter().map(|t| schedule.sigma(*t)).collect();
                let init_noise_sigma = (sigmas[0].powi(2) + 1.0).sqrt();
                sigmas.push(0.0);
                Self {
                    sampler,
                    timesteps: timesteps.iter().map(|t| *t as f64).collect(),
                    sigmas,
                    alphas: Vec::new(),
                    alphas_prev: Vec::new(),
                    init_noise_sigma,
                }
            }
            Sampler::DpmPp2mKarras => {
                let mut sigmas =
                    karras_sigmas(schedule.sigma(0), schedule.sigma(TRAIN_STEPS - 1), steps);
                let timesteps = sigmas
                    .iter()
                    .map(|s| schedule.timestep_of(*s).round())
                    .collect();
                sigmas.push(0.0);
                Self {
                    sampler,
                    timesteps,
                    sigmas,
                    alphas: Vec::new(),
                    alphas_prev: Vec::new(),
                    init_noise_sigma: 1.0,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sampler_the_queue_accepts_is_one_the_engine_runs() {
        for name in crate::job_limits::SAMPLERS {
            assert!(super::Sampler::parse(name).is_some(), "{name}");
        }
    }

    use super::*;

    #[derive(serde::Deserialize)]
    struct Golden {
        steps: usize,
        ddim_timesteps: Vec<f64>,
        ddim_alphas_cumprod: Vec<f64>,
        ddim_final_alpha_cumprod: f64,
        euler_timesteps: Vec<f64>,
        euler_sigmas: Vec<f64>,
        euler_init_noise_sigma: f64,
        euler_a_sigmas: Vec<f64>,
        dpm_timesteps: Vec<f64>,
        dpm_sigmas: Vec<f64>,
    }

    /// The reference computes in f32.
    fn close(ours: &[f64], reference: &[f64], what: &str) {
        assert_eq!(
            ours.len(),
            reference.len(),
            "{what}: {ours:?} vs {reference:?}"
        );
        for (a, b) in ours.iter().zip(reference) {
            assert!(
                (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
                "{what}: {ours:?} vs {reference:?}"
            );
        }
    }

    #[test]
    fn plans_match_the_reference_schedulers() {
        let golden: Vec<Golden> =
            serde_json::from_str(include_str!("../../tests/data/scheduler_golden.json")).unwrap();
        let schedule = Schedule::stable_diffusion();
        for case in golden {
            let n = case.steps;
            let ddim = Plan::new(&schedule, Sampler::Ddim, n);
            close(
                &ddim.timesteps,
                &case.ddim_timesteps,
                &format!("ddim timesteps, {n} steps"),
            );
            close(
                &ddim.alphas,
                &case.ddim_alphas_cumprod,
                &format!("ddim alphas, {n} steps"),
            );
            assert!((schedule.alphas_cumprod[0] - case.ddim_final_alpha_cumprod).abs() < 1e-6);
            let euler = Plan::new(&schedule, Sampler::Euler, n);
            close(
                &euler.timesteps,
                &case.euler_timesteps,
                &format!("euler timesteps, {n} steps"),
            );
            close(
                &euler.sigmas,
                &case.euler_sigmas,
                &format!("euler sigmas, {n} steps"),
            );
            close(
                &[euler.init_noise_sigma],
                &[case.euler_init_noise_sigma],
                "init noise sigma",
            );
            let ancestral = Plan::new(&schedule, Sampler::EulerAncestral, n);
            close(
                &ancestral.sigmas,
                &case.euler_a_sigmas,
                &format!("euler a sigmas, {n} steps"),
            );
            let dpm = Plan::new(&schedule, Sampler::DpmPp2mKarras, n);
            close(
                &dpm.timesteps,
                &case.dpm_timesteps,
                &format!("dpm timesteps, {n} steps"),
            );
            close(
                &dpm.sigmas,
                &case.dpm_sigmas,
                &format!("dpm sigmas, {n} steps"),
            );
        }
    }

    #[test]
    fn the_schedule_has_known_end_points() {
        let schedule = Schedule::stable_diffusion();
        assert!((schedule.alphas_cumprod[0] - (1.0 - 0.00085)).abs() < 1e-12);
        assert!((schedule.sigma(999) - 14.6146).abs() < 1e-3);
        for t in [0, 10, 500, 998] {
            assert!((schedule.timestep_of(schedule.sigma(t)) - t as f64).abs() < 1e-9);
        }
        assert_eq!(Sampler::parse("euler_a"), Some(Sampler::EulerAncestral));
        assert_eq!(Sampler::parse("lms"), None);
    }
}
