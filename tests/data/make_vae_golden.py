"""Writes vae_golden.json: the output of diffusers' AutoencoderKL decoder (the reference) for a
tiny configuration whose weights follow a formula both sides compute: parameter k (in sorted
name order, decoder and post_quant_conv only) has element j = 0.05 * sin(0.1 * (k + 1) + 0.37 * j),
except group-norm weights, which are 1 + that. The latents are 0.5 * sin(0.11 * j). Run once,
from the repository root, in a venv that has torch:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_vae_golden.py
"""
import json
import os

import torch
from diffusers import AutoencoderKL

CONFIG = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
              block_out_channels=[32, 64], norm_num_groups=32,
              down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2)
LATENT = [1, 4, 4, 4]
# A decoder that upsamples 8x, as real SD VAEs do, for the tiny test model (names and shapes only).
FULL_SCALE = dict(CONFIG, block_out_channels=[32, 32, 32, 32],
                  down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4)


def set_formula(params):
    """Gives parameter k (in sorted name order) element j = 0.05 * sin(0.1 * (k + 1) + 0.37 * j),
    plus 1 for norm weights; returns the sorted names."""
    names = sorted(params)
    with torch.no_grad():
        for k, name in enumerate(names):
            p = params[name]
            j = torch.arange(p.numel(), dtype=torch.float64)
            values = 0.05 * torch.sin(0.1 * (k + 1) + 0.37 * j)
            if "norm" in name and name.endswith("weight"):
                values = values + 1.0
            p.copy_(values.reshape(p.shape).to(p.dtype))
    return names


def main():
    vae = AutoencoderKL(**CONFIG).eval()
    params = {n: p for n, p in vae.named_parameters()
              if n.startswith("decoder.") or n.startswith("post_quant_conv.")}
    names = set_formula(params)
    with torch.no_grad():
        j = torch.arange(16 * 4, dtype=torch.float64)
        latents = (0.5 * torch.sin(0.11 * j)).reshape(LATENT).float()
        image = vae.decode(latents).sample[0]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vae_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "names": {n: list(params[n].shape) for n in names},
            "latent_shape": LATENT,
            "image_shape": list(image.shape),
            "image_row0": image[:, 0, :].tolist(),
            "image_sum": float(image.double().sum()),
            "image_abs_sum": float(image.double().abs().sum()),
            "full_scale_names": {n: list(p.shape) for n, p in AutoencoderKL(**FULL_SCALE).named_parameters()
                                 if n.startswith("decoder.") or n.startswith("post_quant_conv.")},
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
