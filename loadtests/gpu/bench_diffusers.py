"""The reference half of loadtests/gpu/run.sh: diffusers' StableDiffusionPipeline with random
weights of SD 1.5's real shapes (or, with --sdxl, StableDiffusionXLPipeline with SDXL's), built
from configs, nothing downloaded, timed the way
bench_engine times ours: text encoding, every denoising step with CFG, and VAE decoding, the
median of --repeat calls after one warm-up. Prints one JSON line per batch size, with
torch.cuda.max_memory_allocated as the peak.

    python3 bench_diffusers.py --vocab ../../src/diffusion/bpe_simple_vocab_16e6.txt.gz \
        [--device cuda] [--size 512] [--steps 30] [--batches 1,4] [--repeat 3] [--compile]
        [--sdxl]
"""
import argparse
import gzip
import json
import os
import tempfile
import time

import torch
from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline,
                       StableDiffusionXLPipeline, UNet2DConditionModel)
from transformers import (CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection,
                          CLIPTokenizer)


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tokenizer_from(vocab_gz):
    """CLIP's tokenizer files, built from the merges list as open_clip builds its vocabulary."""
    merges = gzip.open(vocab_gz).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({token: i for i, token in enumerate(vocab)}, f)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    return CLIPTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"),
                         model_max_length=77)


def clip_l():
    return CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072,
                                        num_hidden_layers=12, num_attention_heads=12,
                                        max_position_embeddings=77, hidden_act="quick_gelu",
                                        projection_dim=768))


def vae_and_scheduler(scaling_factor):
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                        block_out_channels=[128, 256, 512, 512], sample_size=512,
                        down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, scaling_factor=scaling_factor)
    scheduler = EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085,
                                       beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    return vae, scheduler


def pipeline(vocab_gz, device, dtype):
    torch.manual_seed(7)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
    vae, scheduler = vae_and_scheduler(0.18215)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=clip_l(), tokenizer=tokenizer_from(vocab_gz),
                                   unet=unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    return pipe.to(device=device, dtype=dtype)


def pipeline_xl(vocab_gz, device, dtype):
    """SDXL 1.0 base's configuration: CLIP ViT-L and OpenCLIP ViT-bigG (with projection), the
    2.6B-parameter UNet with added conditioning, the VAE with SDXL's latent scale."""
    torch.manual_seed(7)
    big_g = CLIPTextModelWithProjection(CLIPTextConfig(
        hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
        max_position_embeddings=77, hidden_act="gelu", projection_dim=1280))
    unet = UNet2DConditionModel(
        sample_size=128, layers_per_block=2, block_out_channels=[320, 640, 1280],
        cross_attention_dim=2048, attention_head_dim=[5, 10, 20],
        transformer_layers_per_block=[1, 2, 10], use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
        down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"])
    vae, scheduler = vae_and_scheduler(0.13025)
    tokenizer_2 = tokenizer_from(vocab_gz)
    tokenizer_2.pad_token = "!"
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=clip_l(), text_encoder_2=big_g,
                                     tokenizer=tokenizer_from(vocab_gz), tokenizer_2=tokenizer_2,
                                     unet=unet, scheduler=scheduler)
    return pipe.to(device=device, dtype=dtype)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--sdxl", action="store_true")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    build = pipeline_xl if args.sdxl else pipeline
    pipe = build(args.vocab, args.device, torch.float16 if cuda else torch.float32)
    pipe.set_progress_bar_config(disable=True)
    if args.compile:
        pipe.unet = torch.compile(pipe.unet)
    prompt = "a photograph of an astronaut riding a horse"
    for batch in [int(b) for b in args.batches.split(",")]:
        def generate():
            started = time.perf_counter()
            out = pipe(prompt, height=args.size, width=args.size, num_inference_steps=args.steps,
                       guidance_scale=7.5, num_images_per_prompt=batch, output_type="np")
            if cuda:
                torch.cuda.synchronize()
            assert len(out.images) == batch
            return time.perf_counter() - started
        generate()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        times = sorted(generate() for _ in range(args.repeat))
        median = times[len(times) // 2]
        peak = torch.cuda.max_memory_allocated() if cuda else None
        print(json.dumps({"engine": "diffusers-compile" if args.compile else "diffusers",
                          "model": "sdxl" if args.sdxl else "sd15",
                          "device": args.device, "size": args.size, "steps": args.steps,
                          "batch": batch, "seconds_median": median, "seconds_all": times,
                          "it_per_s": args.steps / median, "images_per_s": batch / median,
                          "peak_allocated_bytes": peak}), flush=True)


if __name__ == "__main__":
    main()
