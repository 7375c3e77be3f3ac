"""Writes ldm_keys.json: every UNet and VAE weight of an SD 1.5 single-file (original LDM)
checkpoint, and every UNet weight of an SDXL one (transformer depths 2 and 10, linear
projections, the added-conditioning embedding `label_emb`), with its shape and the diffusers name it maps to. The LDM names are generated here
from the architecture (not downloaded); diffusers' own converter (the reference) then maps them,
and the result must be exactly the parameter set of diffusers' SD 1.5 UNet and VAE, which checks
the generated list. Run once, from the repository root, in a venv that has torch:

    .venv/bin/pip install diffusers==0.42.1
    .venv/bin/python tests/data/make_ldm_keys.py
"""
import json
import os

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=[320, 640, 1280, 1280], cross_attention_dim=768, attention_head_dim=8,
            down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
           block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
           up_block_types=["UpDecoderBlock2D"] * 4, sample_size=512)


def resnet(prefix, cin, cout, emb=None):
    keys = {f"{prefix}.in_layers.0.weight": [cin], f"{prefix}.in_layers.0.bias": [cin],
            f"{prefix}.in_layers.2.weight": [cout, cin, 3, 3], f"{prefix}.in_layers.2.bias": [cout],
            f"{prefix}.out_layers.0.weight": [cout], f"{prefix}.out_layers.0.bias": [cout],
            f"{prefix}.out_layers.3.weight": [cout, cout, 3, 3], f"{prefix}.out_layers.3.bias": [cout]}
    if emb:
        keys[f"{prefix}.emb_layers.1.weight"] = [cout, emb]
        keys[f"{prefix}.emb_layers.1.bias"] = [cout]
    if cin != cout:
        keys[f"{prefix}.skip_connection.weight"] = [cout, cin, 1, 1]
        keys[f"{prefix}.skip_connection.bias"] = [cout]
    return keys


def transformer(prefix, c, ctx=768, depth=1, linear=False):
    projection = [c, c] if linear else [c, c, 1, 1]
    keys = {f"{prefix}.norm.weight": [c], f"{prefix}.norm.bias": [c],
            f"{prefix}.proj_in.weight": projection, f"{prefix}.proj_in.bias": [c],
            f"{prefix}.proj_out.weight": projection, f"{prefix}.proj_out.bias": [c]}
    for d in range(depth):
        keys.update(transformer_block(f"{prefix}.transformer_blocks.{d}", c, ctx))
    return keys


def transformer_block(t, c, ctx):
    keys = {}
    for attn, kv in [("attn1", c), ("attn2", ctx)]:
        keys[f"{t}.{attn}.to_q.weight"] = [c, c]
        keys[f"{t}.{attn}.to_k.weight"] = [c, kv]
        keys[f"{t}.{attn}.to_v.weight"] = [c, kv]
        keys[f"{t}.{attn}.to_out.0.weight"] = [c, c]
        keys[f"{t}.{attn}.to_out.0.bias"] = [c]
    for n in ["norm1", "norm2", "norm3"]:
        keys[f"{t}.{n}.weight"] = [c]
        keys[f"{t}.{n}.bias"] = [c]
    keys[f"{t}.ff.net.0.proj.weight"] = [c * 8, c]
    keys[f"{t}.ff.net.0.proj.bias"] = [c * 8]
    keys[f"{t}.ff.net.2.weight"] = [c, c * 4]
    keys[f"{t}.ff.net.2.bias"] = [c]
    return keys


def ldm_unet(ch=(320, 640, 1280, 1280), attn=(True, True, True, False), layers=2, ctx=768,
             depth=None, linear=False, added=None):
    """`attn` says which levels have transformers, `depth` how many blocks each has (1 each by
    default; the middle block has the last level's); `added` is the input width of SDXL's
    added-conditioning embedding."""
    p, base = "model.diffusion_model", ch[0]
    emb = base * 4
    last = len(ch) - 1
    depth = depth or [1] * len(ch)
    keys = {f"{p}.time_embed.0.weight": [emb, base], f"{p}.time_embed.0.bias": [emb],
            f"{p}.time_embed.2.weight": [emb, emb], f"{p}.time_embed.2.bias": [emb],
            f"{p}.input_blocks.0.0.weight": [base, 4, 3, 3], f"{p}.input_blocks.0.0.bias": [base]}
    if added:
        keys.update({f"{p}.label_emb.0.0.weight": [emb, added], f"{p}.label_emb.0.0.bias": [emb],
                     f"{p}.label_emb.0.2.weight": [emb, emb], f"{p}.label_emb.0.2.bias": [emb]})
    i, c, skips = 1, base, [base]
    for level, cout in enumerate(ch):
        for _ in range(layers):
            keys.update(resnet(f"{p}.input_blocks.{i}.0", c, cout, emb))
            c = cout
            if attn[level]:
                keys.update(transformer(f"{p}.input_blocks.{i}.1", c, ctx, depth[level], linear))
            skips.append(c)
            i += 1
        if level < last:
            keys[f"{p}.input_blocks.{i}.0.op.weight"] = [c, c, 3, 3]
            keys[f"{p}.input_blocks.{i}.0.op.bias"] = [c]
            skips.append(c)
            i += 1
    keys.update(resnet(f"{p}.middle_block.0", c, c, emb))
    keys.update(transformer(f"{p}.middle_block.1", c, ctx, depth[last], linear))
    keys.update(resnet(f"{p}.middle_block.2", c, c, emb))
    i = 0
    for level, cout in enumerate(reversed(ch)):
        for j in range(layers + 1):
            keys.update(resnet(f"{p}.output_blocks.{i}.0", c + skips.pop(), cout, emb))
            c = cout
            n = 1
            if attn[last - level]:
                keys.update(transformer(f"{p}.output_blocks.{i}.1", c, ctx, depth[last - level],
                                        linear))
                n = 2
            if j == layers and level < last:
                keys[f"{p}.output_blocks.{i}.{n}.conv.weight"] = [c, c, 3, 3]
                keys[f"{p}.output_blocks.{i}.{n}.conv.bias"] = [c]
            i += 1
    keys.update({f"{p}.out.0.weight": [base], f"{p}.out.0.bias": [base],
                 f"{p}.out.2.weight": [4, base, 3, 3], f"{p}.out.2.bias": [4]})
    return keys


def vae_resnet(prefix, cin, cout):
    keys = {f"{prefix}.norm1.weight": [cin], f"{prefix}.norm1.bias": [cin],
            f"{prefix}.conv1.weight": [cout, cin, 3, 3], f"{prefix}.conv1.bias": [cout],
            f"{prefix}.norm2.weight": [cout], f"{prefix}.norm2.bias": [cout],
            f"{prefix}.conv2.weight": [cout, cout, 3, 3], f"{prefix}.conv2.bias": [cout]}
    if cin != cout:
        keys[f"{prefix}.nin_shortcut.weight"] = [cout, cin, 1, 1]
        keys[f"{prefix}.nin_shortcut.bias"] = [cout]
    return keys


def vae_mid(prefix, c):
    keys = vae_resnet(f"{prefix}.mid.block_1", c, c)
    keys.update(vae_resnet(f"{prefix}.mid.block_2", c, c))
    for n in ["norm"]:
        keys[f"{prefix}.mid.attn_1.{n}.weight"] = [c]
        keys[f"{prefix}.mid.attn_1.{n}.bias"] = [c]
    for n in ["q", "k", "v", "proj_out"]:
        keys[f"{prefix}.mid.attn_1.{n}.weight"] = [c, c, 1, 1]
        keys[f"{prefix}.mid.attn_1.{n}.bias"] = [c]
    return keys


def ldm_vae(ch=(128, 256, 512, 512), layers=2):
    p, last = "first_stage_model", len(ch) - 1
    keys = {f"{p}.encoder.conv_in.weight": [ch[0], 3, 3, 3], f"{p}.encoder.conv_in.bias": [ch[0]]}
    c = ch[0]
    for level, cout in enumerate(ch):
        for j in range(layers):
            keys.update(vae_resnet(f"{p}.encoder.down.{level}.block.{j}", c, cout))
            c = cout
        if level < last:
            keys[f"{p}.encoder.down.{level}.downsample.conv.weight"] = [c, c, 3, 3]
            keys[f"{p}.encoder.down.{level}.downsample.conv.bias"] = [c]
    keys.update(vae_mid(f"{p}.encoder", c))
    keys.update({f"{p}.encoder.norm_out.weight": [c], f"{p}.encoder.norm_out.bias": [c],
                 f"{p}.encoder.conv_out.weight": [8, c, 3, 3], f"{p}.encoder.conv_out.bias": [8],
                 f"{p}.quant_conv.weight": [8, 8, 1, 1], f"{p}.quant_conv.bias": [8],
                 f"{p}.post_quant_conv.weight": [4, 4, 1, 1], f"{p}.post_quant_conv.bias": [4],
                 f"{p}.decoder.conv_in.weight": [ch[-1], 4, 3, 3], f"{p}.decoder.conv_in.bias": [ch[-1]]})
    keys.update(vae_mid(f"{p}.decoder", ch[-1]))
    c = ch[-1]
    for level in reversed(range(len(ch))):
        cout = ch[level]
        for j in range(layers + 1):
            keys.update(vae_resnet(f"{p}.decoder.up.{level}.block.{j}", c, cout))
            c = cout
        if level > 0:
            keys[f"{p}.decoder.up.{level}.upsample.conv.weight"] = [c, c, 3, 3]
            keys[f"{p}.decoder.up.{level}.upsample.conv.bias"] = [c]
    keys.update({f"{p}.decoder.norm_out.weight": [ch[0]], f"{p}.decoder.norm_out.bias": [ch[0]],
                 f"{p}.decoder.conv_out.weight": [3, ch[0], 3, 3], f"{p}.decoder.conv_out.bias": [3]})
    return keys


def mapping(ldm, convert, model_cls, config):
    tensors = {k: torch.empty(shape, device="meta") for k, shape in ldm.items()}
    converted = convert(dict(tensors), config)
    by_id = {id(t): k for k, t in tensors.items()}
    with torch.device("meta"):
        expected = {k: list(v.shape) for k, v in model_cls(**config).state_dict().items()}
    pairs = []
    unmatched = set(ldm) - {by_id[id(t)] for t in converted.values() if id(t) in by_id}
    for name, tensor in converted.items():
        source = by_id.get(id(tensor))
        if source is None:
            # The converter reshapes the VAE's 1x1-convolution attention weights into new tensors.
            prefix, _, rest = name.partition(".mid_block.attentions.0.")
            part = {"to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}[rest.rsplit(".", 1)[0]]
            source = f"first_stage_model.{prefix}.mid.attn_1.{part}.{rest.rsplit('.', 1)[1]}"
            assert source in unmatched, source
        pairs.append([source, name, list(tensor.shape)])
    got = {name for _, name, _ in pairs}
    assert got == set(expected), (sorted(set(expected) - got)[:5], sorted(got - set(expected))[:5])
    return pairs


# The tiny test model of src/diffusion/tiny.rs, in the same layout.
TINY_UNET = dict(UNET, block_out_channels=[32, 64], layers_per_block=1, cross_attention_dim=128,
                 attention_head_dim=2, sample_size=8, down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                 up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"])
TINY_VAE = dict(VAE, block_out_channels=[32, 32, 32, 32], layers_per_block=1)
# SDXL's UNet, and the tiny SDXL test model's (tests/data/make_unet_xl_golden.py).
XL_UNET = dict(sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
               block_out_channels=[320, 640, 1280], cross_attention_dim=2048,
               attention_head_dim=[5, 10, 20], transformer_layers_per_block=[1, 2, 10],
               use_linear_projection=True, addition_embed_type="text_time",
               addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
               down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
               up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"])
TINY_XL_UNET = dict(XL_UNET, sample_size=8, layers_per_block=1, block_out_channels=[32, 64],
                    cross_attention_dim=128, attention_head_dim=2,
                    transformer_layers_per_block=[1, 2], addition_time_embed_dim=8,
                    projection_class_embeddings_input_dim=80,
                    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"])


def main():
    unet = mapping(ldm_unet(), convert_ldm_unet_checkpoint, UNet2DConditionModel, UNET)
    vae = mapping(ldm_vae(), convert_ldm_vae_checkpoint, AutoencoderKL, VAE)
    tiny_unet = mapping(ldm_unet((32, 64), (True, False), 1, 128), convert_ldm_unet_checkpoint,
                        UNet2DConditionModel, TINY_UNET)
    tiny_vae = mapping(ldm_vae((32, 32, 32, 32), 1), convert_ldm_vae_checkpoint, AutoencoderKL, TINY_VAE)
    unet_xl = mapping(ldm_unet((320, 640, 1280), (False, True, True), 2, 2048, [0, 2, 10], True, 2816),
                      convert_ldm_unet_checkpoint, UNet2DConditionModel, XL_UNET)
    tiny_unet_xl = mapping(ldm_unet((32, 64), (False, True), 1, 128, [0, 2], True, 80),
                           convert_ldm_unet_checkpoint, UNet2DConditionModel, TINY_XL_UNET)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ldm_keys.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"unet": unet, "vae": vae, "tiny_unet": tiny_unet, "tiny_vae": tiny_vae,
                   "unet_xl": unet_xl, "tiny_unet_xl": tiny_unet_xl}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
