"""Writes scheduler_golden.json: timesteps, sigmas and cumulative alphas from diffusers' own
schedulers (the reference implementation), configured as Stable Diffusion 1.5 ships them. Run
once, from the repository root, in a venv that has torch:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_scheduler_golden.py
"""
import json
import os

from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler)

SD15 = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
            beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading")


def main():
    cases = []
    for steps in [1, 4, 20, 30, 50]:
        ddim = DDIMScheduler(**SD15, clip_sample=False, set_alpha_to_one=False)
        ddim.set_timesteps(steps)
        euler = EulerDiscreteScheduler(**SD15)
        euler.set_timesteps(steps)
        ancestral = EulerAncestralDiscreteScheduler(**SD15)
        ancestral.set_timesteps(steps)
        dpm = DPMSolverMultistepScheduler(**SD15, algorithm_type="dpmsolver++", solver_order=2,
                                          use_karras_sigmas=True)
        dpm.set_timesteps(steps)
        cases.append({
            "steps": steps,
            "ddim_timesteps": ddim.timesteps.tolist(),
            "ddim_alphas_cumprod": [float(ddim.alphas_cumprod[t]) for t in ddim.timesteps],
            "ddim_final_alpha_cumprod": float(ddim.final_alpha_cumprod),
            "euler_timesteps": euler.timesteps.tolist(),
            "euler_sigmas": euler.sigmas.tolist(),
            "euler_init_noise_sigma": float(euler.init_noise_sigma),
            "euler_a_sigmas": ancestral.sigmas.tolist(),
            "dpm_timesteps": dpm.timesteps.tolist(),
            "dpm_sigmas": dpm.sigmas.tolist(),
        })
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scheduler_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(cases, f)
        f.write("\n")


if __name__ == "__main__":
    main()
