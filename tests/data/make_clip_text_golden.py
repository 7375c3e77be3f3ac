"""Writes clip_text_golden.json: outputs of transformers' CLIPTextModel (the reference) for a tiny
configuration whose weights follow a formula both sides compute: parameter k (in sorted name
order) has element j = 0.1 * sin(0.1 * (k + 1) + 0.37 * j). Run once, from the repository root,
in a venv that has torch:

    .venv/bin/pip install transformers==4.57.1
    .venv/bin/python tests/data/make_clip_text_golden.py
"""
import json
import math
import os

import torch
from transformers import CLIPTextConfig, CLIPTextModel

CONFIG = dict(vocab_size=1000, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
              num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
              layer_norm_eps=1e-5)
POSITIONS = [0, 5, 40, 76]


def main():
    model = CLIPTextModel(CLIPTextConfig(**CONFIG)).eval()
    params = dict(model.named_parameters())
    names = sorted(params)
    with torch.no_grad():
        for k, name in enumerate(names):
            p = params[name]
            j = torch.arange(p.numel(), dtype=torch.float64)
            values = 0.1 * torch.sin(0.1 * (k + 1) + 0.37 * j)
            p.copy_(values.reshape(p.shape).to(p.dtype))
        ids = torch.tensor([[(i * 37) % 1000 for i in range(77)]])
        hidden = model(input_ids=ids).last_hidden_state[0]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip_text_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "config": CONFIG,
            "names": {n: list(params[n].shape) for n in names},
            "positions": POSITIONS,
            "hidden": [hidden[p].tolist() for p in POSITIONS],
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
