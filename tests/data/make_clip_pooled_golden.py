"""Writes clip_pooled_golden.json: what SDXL takes from its second text encoder, from
transformers' CLIPTextModelWithProjection (the reference) for a small configuration as wide as
OpenCLIP's (GELU) whose weights follow a formula both sides compute: parameter k (in sorted name
order) has element j = 0.1 * sin(0.1 * (k + 1) + 0.37 * j), plus 1 for layer-norm weights. SDXL
conditions on the penultimate layer's hidden states (no final layer norm) and on the projected,
final-normed state at the end-of-text token (the highest id, found by argmax). Run once, from
the repository root, in a venv that has torch:

    .venv/bin/pip install transformers==5.24.0
    .venv/bin/python tests/data/make_clip_pooled_golden.py
"""
import json
import os

import torch
from transformers import CLIPTextConfig, CLIPTextModelWithProjection

CONFIG = dict(vocab_size=1000, hidden_size=1024, intermediate_size=256, num_hidden_layers=3,
              num_attention_heads=16, max_position_embeddings=77, hidden_act="gelu",
              layer_norm_eps=1e-5, projection_dim=64, eos_token_id=2)
POSITIONS = [0, 5, 40, 76]
END = 12


def main():
    model = CLIPTextModelWithProjection(CLIPTextConfig(**CONFIG)).eval()
    params = dict(model.named_parameters())
    names = sorted(params)
    with torch.no_grad():
        for k, name in enumerate(names):
            p = params[name]
            j = torch.arange(p.numel(), dtype=torch.float64)
            values = 0.1 * torch.sin(0.1 * (k + 1) + 0.37 * j)
            if "norm" in name and name.endswith("weight"):
                values = values + 1.0
            p.copy_(values.reshape(p.shape).to(p.dtype))
        ids = [(i * 37) % 998 + 1 for i in range(END)] + [999] + [0] * (76 - END)
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        penultimate = out.hidden_states[-2][0]
        pooled = out.text_embeds[0]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip_pooled_golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({
            "names": {n: list(params[n].shape) for n in names},
            "ids": ids,
            "positions": POSITIONS,
            "penultimate": [penultimate[p].tolist() for p in POSITIONS],
            "pooled": pooled.tolist(),
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
