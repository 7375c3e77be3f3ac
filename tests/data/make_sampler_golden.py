"""Writes sampler_golden.json: whole sampling runs of diffusers' schedulers (the reference) on a
stand-in model, out = 0.5 * tanh(input) + 0.001 * t, read as the noise (epsilon) and, for SD 2.x's
768 models, as the velocity (v_prediction), from seeded noise of shape (1, 4, 4, 4).
torch's global generator is seeded with 7 and used for the initial noise and for every ancestral
step, as tch does. Run once, from the repository root, in a venv that has torch:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_sampler_golden.py
"""
import json
import os

import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler)

SD15 = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
            beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading")

SAMPLERS = {
    "ddim": lambda: DDIMScheduler(**SD15, clip_sample=False, set_alpha_to_one=False),
    "euler": lambda: EulerDiscreteScheduler(**SD15),
    "euler_a": lambda: EulerAncestralDiscreteScheduler(**SD15),
    "dpmpp_2m_karras": lambda: DPMSolverMultistepScheduler(
        **SD15, algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True),
}


def main():
    cases = []
    for prediction in ["epsilon", "v_prediction"]:
        for name, make in SAMPLERS.items():
            for steps in [1, 4, 12, 20]:
                scheduler = make()
                scheduler.register_to_config(prediction_type=prediction)
                scheduler.set_timesteps(steps)
                torch.manual_seed(7)
                x = torch.randn(1, 4, 4, 4) * scheduler.init_noise_sigma
                for t in scheduler.timesteps:
                    model_input = scheduler.scale_model_input(x, t)
                    out = 0.5 * torch.tanh(model_input) + 0.001 * float(t)
                    x = scheduler.step(out, t, x).prev_sample
                cases.append({"sampler": name, "steps": steps, "prediction": prediction,
                              "final": x.flatten().tolist()})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sampler_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(cases, f)
        f.write("\n")


if __name__ == "__main__":
    main()
