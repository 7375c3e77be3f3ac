//! The engine's GPU benchmark, our half of `loadtests/gpu/run.sh` (diffusers is the other):
//! full-size SD 1.5 with random weights, text encoding, every denoising step with CFG and VAE
//! decoding timed together, as diffusers' pipeline call is. Prints one JSON line per batch size.
//!
//! ```text
//! bench_engine write-sd15 DIR                      # random weights, real shapes (4.3 GB)
//! bench_engine run DIR [--device cuda|cpu] [--size 512] [--steps 30] [--batches 1,4]
//!                      [--repeat 3] [--sampler euler]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use atelier::diffusion::pipeline::Pipeline;
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
        let mut run = pipeline.start(&params, None)?;
        while !pipeline.done(&run) {
            pipeline.step(&mut run);
        }
        // Decoding copies the pixels to the host, which waits for the device.
        let images = pipeline.decode(&run);
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
