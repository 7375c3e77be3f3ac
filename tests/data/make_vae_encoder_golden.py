"""Writes vae_encoder_golden.json: the latent mean from diffusers' AutoencoderKL encoder (the
reference) for the tiny configuration of make_vae_golden.py, with weights that follow a formula
both sides compute: parameter k (in sorted name order, encoder and quant_conv only) has element
j = 0.05 * sin(0.1 * (k + 1) + 0.37 * j), except group-norm weights, which are 1 + that. The image
is 0.5 * sin(0.13 * j). Run once, from the repository root, in a venv that has torch:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_vae_encoder_golden.py
"""
import json
import os

import torch
from diffusers import AutoencoderKL

from make_vae_golden import CONFIG, FULL_SCALE, set_formula

IMAGE = [1, 3, 16, 24]


def encoder_params(vae):
    return {n: p for n, p in vae.named_parameters()
            if n.startswith("encoder.") or n.startswith("quant_conv.")}


def main():
    vae = AutoencoderKL(**CONFIG).eval()
    params = encoder_params(vae)
    names = set_formula(params)
    with torch.no_grad():
        j = torch.arange(16 * 24 * 3, dtype=torch.float64)
        image = (0.5 * torch.sin(0.13 * j)).reshape(IMAGE).float()
        mean = vae.encode(image).latent_dist.mean[0]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vae_encoder_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "names": {n: list(params[n].shape) for n in names},
            "image_shape": IMAGE,
            "mean_shape": list(mean.shape),
            "mean_row0": mean[:, 0, :].tolist(),
            "mean_sum": float(mean.double().sum()),
            "mean_abs_sum": float(mean.double().abs().sum()),
            "full_scale_names": {n: list(p.shape) for n, p in
                                 encoder_params(AutoencoderKL(**FULL_SCALE)).items()},
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
