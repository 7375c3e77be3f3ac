"""Writes img2img_golden.json: where diffusers' image-to-image pipelines start (the reference).
For each sampler, step count and strength: the first step index (t_start, as
StableDiffusionImg2ImgPipeline.get_timesteps computes it) and the scheduler's add_noise at that
start for clean latents 0.5 and noise 1.0. Run once, from the repository root:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_img2img_golden.py
"""
import json
import os

import torch

from make_sampler_golden import SAMPLERS


def main():
    cases = []
    for name, make in SAMPLERS.items():
        for steps, strength in [(10, 0.6), (30, 0.75), (20, 1.0), (7, 0.3)]:
            scheduler = make()
            scheduler.set_timesteps(steps)
            init_timestep = min(int(steps * strength), steps)
            t_start = max(steps - init_timestep, 0)
            timesteps = scheduler.timesteps[t_start * scheduler.order:]
            if hasattr(scheduler, "set_begin_index"):
                scheduler.set_begin_index(t_start * scheduler.order)
            clean = torch.full((1, 4, 2, 2), 0.5)
            noise = torch.ones((1, 4, 2, 2))
            noisy = scheduler.add_noise(clean, noise, timesteps[:1])
            cases.append({"sampler": name, "steps": steps, "strength": strength,
                          "start": t_start, "noisy": float(noisy[0, 0, 0, 0])})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "img2img_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(cases, f)
        f.write("\n")


if __name__ == "__main__":
    main()
