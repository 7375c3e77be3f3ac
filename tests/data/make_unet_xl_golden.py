"""Writes unet_xl_golden.json: the noise prediction of diffusers' UNet2DConditionModel (the
reference) for a tiny SDXL-shaped configuration: no attention in the first level, two
transformer blocks in the second, linear projections, and SDXL's "text_time" added conditioning
(a pooled text embedding and six size and crop numbers, each embedded sinusoidally). Weights
follow the formula both sides compute: parameter k (in sorted name order) has element
j = 0.05 * sin(0.1 * (k + 1) + 0.37 * j), plus 1 for norm weights. Inputs: latents
0.5 * sin(0.11 * j), context 0.5 * cos(0.07 * j), pooled 0.5 * sin(0.13 * j), timestep 500 and
the time ids below. Run once, from the repository root, in a venv that has torch:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_unet_xl_golden.py
"""
import json
import os

import torch
from diffusers import UNet2DConditionModel

POOLED = 32
TIME_WIDTH = 8
CONFIG = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
              block_out_channels=[32, 64], cross_attention_dim=128, attention_head_dim=2,
              norm_num_groups=32, transformer_layers_per_block=[1, 2],
              use_linear_projection=True, addition_embed_type="text_time",
              addition_time_embed_dim=TIME_WIDTH,
              projection_class_embeddings_input_dim=POOLED + 6 * TIME_WIDTH,
              down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
              up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"])
LATENT = [2, 4, 8, 8]
CONTEXT = [2, 77, 128]
TIME_IDS = [[64.0, 64.0, 0.0, 0.0, 64.0, 64.0], [32.0, 48.0, 4.0, 8.0, 64.0, 64.0]]


def wave(shape, step, f):
    n = 1
    for d in shape:
        n *= d
    return (0.5 * f(step * torch.arange(n, dtype=torch.float64))).reshape(shape).float()


def main():
    unet = UNet2DConditionModel(**CONFIG).eval()
    params = dict(unet.named_parameters())
    names = sorted(params)
    with torch.no_grad():
        for k, name in enumerate(names):
            p = params[name]
            j = torch.arange(p.numel(), dtype=torch.float64)
            values = 0.05 * torch.sin(0.1 * (k + 1) + 0.37 * j)
            if "norm" in name and name.endswith("weight"):
                values = values + 1.0
            p.copy_(values.reshape(p.shape).to(p.dtype))
        latents = wave(LATENT, 0.11, torch.sin)
        context = wave(CONTEXT, 0.07, torch.cos)
        pooled = wave([LATENT[0], POOLED], 0.13, torch.sin)
        added = {"text_embeds": pooled, "time_ids": torch.tensor(TIME_IDS)}
        eps = unet(latents, 500, encoder_hidden_states=context,
                   added_cond_kwargs=added).sample
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unet_xl_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "names": {n: list(params[n].shape) for n in names},
            "latent_shape": LATENT,
            "context_shape": CONTEXT,
            "pooled_width": POOLED,
            "time_ids": TIME_IDS,
            "timestep": 500,
            "eps_row0": eps[:, :, 0, :].tolist(),
            "eps_sum": float(eps.double().sum()),
            "eps_abs_sum": float(eps.double().abs().sum()),
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
