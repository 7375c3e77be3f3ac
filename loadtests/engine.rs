//! The engine's GPU benchmark, our half of `loadtests/gpu/run.sh` (diffusers is the other):
//! full-size SD 1.5 with random weights, text encoding, every denoising step with CFG and VAE
//! decoding timed together, as diffusers' pipeline call is. Prints one JSON line per batch size.
//!
//! ```text
//! bench_engine write-sd15 DIR                      # random weights, real shapes (4.3 GB)
//! bench_engine write-sdxl DIR                      # SDXL's, in f16 (7 GB)
//! bench_engine run DIR [--device cuda|cpu] [--size 512] [--steps 30] [--batches 1,4]
//!                      [--repeat 3] [--sampler euler]
//! bench_engine load DIR --access map|read [--device cpu] [--kind f32|f16]
//! bench_engine write-sd15-lora FILE [--rank 32]    # a random LoRA for it (every layer)
//! bench_engine lora DIR FILE [--device cpu] [--size 256] [--steps 4] [--repeat 3]
//! ```
//!
//! `load` loads the three weight files of a diffusers folder and prints the time and the
//! process's memory (`VmHWM`, `RssAnon`, `RssFile` from `/proc/self/status`); run it once per
//! access, each in a fresh process, to compare memory-mapping with positioned reads.
//!
//! `lora` times applying the LoRA to the loaded model and restoring it (what every request with
//! a LoRA pays), and whole generations without and with it, side by side.

use std::path::{Path, PathBuf};
use std::time::Instant;

use atelier::diffusion::lora::Lora;
use atelier::diffusion::pipeline::Pipeline;
use atelier::diffusion::weights::{Access, Weights};
use atelier::queue::model::GenerationParams;
use clap::{Parser, Subcommand};
use tch::{Device, Kind};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a random-weight SD 1.5 (diffusers layout) into DIR.
    WriteSd15 { dir: PathBuf },
    /// Writes a random-weight SDXL (diffusers layout, f16, about 7 GB) into DIR.
    WriteSdxl { dir: PathBuf },
    /// Writes a random LoRA for the SD 1.5 of `write-sd15`.
    WriteSd15Lora {
        file: PathBuf,
        #[arg(long, default_value_t = 32)]
        rank: i64,
    },
    /// Times applying and restoring a LoRA, and generations without and with it.
    Lora {
        dir: PathBuf,
        file: PathBuf,
        #[arg(long, default_value = "cpu")]
        device: String,
        #[arg(long, default_value_t = 256)]
        size: u32,
        #[arg(long, default_value_t = 4)]
        steps: u32,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Loads the weights in DIR and reports time and memory.
    Load {
        dir: PathBuf,
        #[arg(long, value_parser = ["map", "read"])]
        access: String,
        #[arg(long, default_value = "cpu")]
        device: String,
        #[arg(long, value_parser = ["f32", "f16"], default_value = "f32")]
        kind: String,
        /// Reads every weight once after loading (a mapping faults its pages in only then).
        #[arg(long)]
        touch: bool,
        /// Seconds to wait before reporting (start two at once to see mapped pages shared).
        #[arg(long, default_value_t = 0)]
        hold: u64,
    },
    /// Times whole generations with the model in DIR.
    Run {
        dir: PathBuf,
        #[arg(long, default_value = "cuda")]
        device: String,
        #[arg(long, default_value_t = 512)]
        size: u32,
        #[arg(long, default_value_t = 30)]
        steps: u32,
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        batches: Vec<u32>,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        #[arg(long, default_value = "euler")]
        sampler: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::WriteSd15 { dir } => {
            std::fs::create_dir_all(&dir)?;
            atelier::diffusion::full_size::write_sd15(&dir, 7)?;
            println!("wrote a random-weight SD 1.5 to {}", dir.display());
        }
        Command::WriteSdxl { dir } => {
            std::fs::create_dir_all(&dir)?;
            atelier::diffusion::full_size::write_sdxl(&dir, 7)?;
            println!("wrote a random-weight SDXL to {}", dir.display());
        }
        Command::WriteSd15Lora { file, rank } => {
            atelier::diffusion::full_size::write_sd15_lora(&file, rank, 11)?;
            println!("wrote a rank-{rank} LoRA to {}", file.display());
        }
        Command::Lora {
            dir,
            file,
            device,
            size,
            steps,
            repeat,
        } => lora(&dir, &file, &device, size, steps, repeat)?,
        Command::Load {
            dir,
            access,
            device,
            kind,
            touch,
            hold,
        } => load(&dir, &access, &device, &kind, touch, hold)?,
        Command::Run {
            dir,
            device,
            size,
            steps,
            batches,
            repeat,
            sampler,
        } => {
            let device = atelier::diffusion::device::select(&device)?;
            let kind = if device.is_cuda() {
                Kind::Half
            } else {
                Kind::Float
            };
            let started = Instant::now();
            let pipeline = Pipeline::load(&dir, device, kind)?;
            eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());
            for batch in batches {
                bench(
                    &pipeline, &dir, device, size, steps, batch, repeat, &sampler,
                )?;
            }
        }
    }
    Ok(())
}

/// Seconds `run` takes.
fn timed(run: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let started = Instant::now();
    run()?;
    Ok(started.elapsed().as_secs_f64())
}

/// The median of `repeat` timings of `run`, after one warm-up.
fn median(repeat: usize, mut run: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    run()?;
    let mut times = Vec::new();
    for _ in 0..repeat {
        let started = Instant::now();
        run()?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn lora(
    dir: &Path,
    file: &Path,
    device: &str,
    size: u32,
    steps: u32,
    repeat: usize,
) -> anyhow::Result<()> {
    let device = atelier::diffusion::device::select(device)?;
    let kind = if device.is_cuda() {
        Kind::Half
    } else {
        Kind::Float
    };
    let pipeline = Pipeline::load(dir, device, kind)?;
    let lora = Lora::load(file, device, kind)?;
    let mut params: GenerationParams = serde_json::from_value(serde_json::json!({
        "model": dir.display().to_string(), "prompt": "a lighthouse", "width": size,
        "height": size, "steps": steps, "sampler": "euler", "seed": 1,
    }))?;
    params.validate()?;
    let sync = || {
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
    };
    let generate = |with: bool| -> anyhow::Result<()> {
        let adapters = if with { vec![(&lora, 0.8)] } else { Vec::new() };
        let _patched = pipeline.apply(&adapters)?;
        let mut run = pipeline.start(&params, None, None, None)?;
        while !pipeline.done(&run) {
            pipeline.step(&mut run);
        }
        pipeline.decode(&run, None);
        Ok(())
    };
    // Before any LoRA has been applied in this process (see "What a LoRA costs a request" in
    // docs/performance.md: later generations without one were slower).
    let before = median(repeat, || generate(false))?;
    let apply = median(repeat, || {
        drop(pipeline.apply(&[(&lora, 0.8)])?);
        sync();
        Ok(())
    })?;
    // Alternating, so that a drift of the machine's speed falls on both.
    let (mut without, mut with) = (Vec::new(), Vec::new());
    generate(true)?;
    generate(false)?;
    for _ in 0..repeat {
        with.push(timed(|| generate(true))?);
        without.push(timed(|| generate(false))?);
    }
    let middle = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let (without, with) = (middle(without), middle(with));
    println!(
        "{}",
        serde_json::json!({
            "device": format!("{device:?}"), "lora_layers": lora.layers().len(),
            "lora_gib": lora.bytes() as f64 / f64::from(1u32 << 30), "size": size, "steps": steps,
            "apply_and_restore_s": apply, "generate_without_s": without, "generate_with_s": with,
            "generate_before_any_lora_s": before,
            "ratio_with_over_without": with / without,
        })
    );
    Ok(())
}

fn load(
    dir: &Path,
    access: &str,
    device: &str,
    kind: &str,
    touch: bool,
    hold: u64,
) -> anyhow::Result<()> {
    let access = if access == "map" {
        Access::Map
    } else {
        Access::Read
    };
    let device = atelier::diffusion::device::select(device)?;
    let kind = if kind == "f16" {
        Kind::Half
    } else {
        Kind::Float
    };
    let started = Instant::now();
    let mut bytes = 0;
    let mut parts = Vec::new();
    for (part, file) in [
        ("text_encoder", "model.safetensors"),
        ("unet", "diffusion_pytorch_model.safetensors"),
        ("vae", "diffusion_pytorch_model.safetensors"),
    ] {
        let weights = Weights::load_with(
            &dir.join(part).join(file),
            |n| Some(n.to_owned()),
            device,
            kind,
            access,
        )?;
        bytes += weights.bytes();
        parts.push(weights);
    }
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut checksum = 0.0;
    if touch {
        for weights in &parts {
            for name in weights.names() {
                let shape = weights.shape(name).unwrap_or_default();
                checksum += weights
                    .get(name, &shape)?
                    .sum(Kind::Double)
                    .double_value(&[]);
            }
        }
    }
    let touched = started.elapsed().as_secs_f64();
    std::thread::sleep(std::time::Duration::from_secs(hold));
    let status = std::fs::read_to_string("/proc/self/status")?
        + &std::fs::read_to_string("/proc/self/smaps_rollup")?;
    let kib = |field: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let gib = |field: &str| kib(field).map(|k| k as f64 / (1024.0 * 1024.0));
    println!(
        "{}",
        serde_json::json!({
            "load": format!("{access:?}").to_lowercase(), "device": format!("{device:?}"),
            "kind": format!("{kind:?}"), "seconds": seconds, "seconds_touched": touched,
            "checksum": checksum, "pss_gib": gib("Pss:"),
            "weights_gib": bytes as f64 / f64::from(1u32 << 30),
            "peak_rss_gib": gib("VmHWM:"), "rss_anon_gib": gib("RssAnon:"),
            "rss_file_gib": gib("RssFile:"),
        })
    );
    drop(parts);
    Ok(())
}

#[expect(clippy::too_many_arguments, reason = "a benchmark's knobs")]
fn bench(
    pipeline: &Pipeline,
    dir: &Path,
    device: Device,
    size: u32,
    steps: u32,
    batch: u32,
    repeat: usize,
    sampler: &str,
) -> anyhow::Result<()> {
    let mut params: GenerationParams = serde_json::from_value(serde_json::json!({
        "model": dir.display().to_string(),
        "prompt": "a photograph of an astronaut riding a horse",
        "width": size, "height": size, "steps": steps, "num_images": batch,
        "sampler": sampler, "cfg_scale": 7.5, "seed": 1,
    }))?;
    params.validate()?;
    let generate = || -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut run = pipeline.start(&params, None, None, None)?;
        while !pipeline.done(&run) {
            pipeline.step(&mut run);
        }
        // Decoding copies the pixels to the host, which waits for the device.
        let images = pipeline.decode(&run, None);
        anyhow::ensure!(images.len() == batch as usize, "expected {batch} images");
        Ok(started.elapsed().as_secs_f64())
    };
    generate()?; // warm-up: kernels chosen, allocator filled
    let mut times = (0..repeat)
        .map(|_| generate())
        .collect::<anyhow::Result<Vec<_>>>()?;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
    println!(
        "{}",
        serde_json::json!({
            "engine": "atelier", "device": format!("{device:?}"), "size": size, "steps": steps,
            "batch": batch, "sampler": sampler, "seconds_median": median, "seconds_all": times,
            "it_per_s": f64::from(steps) / median, "images_per_s": f64::from(batch) / median,
        })
    );
    Ok(())
}
