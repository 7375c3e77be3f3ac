"""Writes unet_golden.json: the noise prediction of diffusers' UNet2DConditionModel (the
reference) for a tiny SD-1.5-shaped configuration whose weights follow a formula both sides
compute: parameter k (in sorted name order) has element j = 0.05 * sin(0.1 * (k + 1) + 0.37 * j),
plus 1 for norm weights. Inputs: latents 0.5 * sin(0.11 * j), context 0.5 * cos(0.07 * j),
timestep 500. Run once, from the repository root, in a venv that has torch:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_unet_golden.py
"""
import json
import os

import torch
from diffusers import UNet2DConditionModel

CONFIG = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
              block_out_channels=[32, 64], cross_attention_dim=128, attention_head_dim=2,
              norm_num_groups=32,
              down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
              up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"])
LATENT = [2, 4, 8, 8]
CONTEXT = [2, 77, 128]


def formula(n, k, scale):
    j = torch.arange(n, dtype=torch.float64)
    return scale * torch.sin(0.1 * (k + 1) + 0.37 * j)


def main():
    unet = UNet2DConditionModel(**CONFIG).eval()
    params = dict(unet.named_parameters())
    names = sorted(params)
    with torch.no_grad():
        for k, name in enumerate(names):
            p = params[name]
            values = formula(p.numel(), k, 0.05)
            if "norm" in name and name.endswith("weight"):
                values = values + 1.0
            p.copy_(values.reshape(p.shape).to(p.dtype))
        n = LATENT[0] * LATENT[1] * LATENT[2] * LATENT[3]
        latents = (0.5 * torch.sin(0.11 * torch.arange(n, dtype=torch.float64))).reshape(LATENT).float()
        m = CONTEXT[0] * CONTEXT[1] * CONTEXT[2]
        context = (0.5 * torch.cos(0.07 * torch.arange(m, dtype=torch.float64))).reshape(CONTEXT).float()
        eps = unet(latents, 500, encoder_hidden_states=context).sample
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unet_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "names": {n: list(params[n].shape) for n in names},
            "latent_shape": LATENT,
            "context_shape": CONTEXT,
            "timestep": 500,
            "eps_row0": eps[:, :, 0, :].tolist(),
            "eps_sum": float(eps.double().sum()),
            "eps_abs_sum": float(eps.double().abs().sum()),
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
