//! Checkpoints of a run between two steps: the latents, the sampler's step and its carried
//! tensor, as bytes any worker's engine can resume from (exactly: tensors keep their dtype).
//! Everything else a run holds (the plan, the prompt's conditioning, an inpainting mask) is
//! rebuilt from the job by `Pipeline::start`, so a checkpoint is a few hundred KiB per image.
//!
//! Layout (little-endian): `ATCK1`, the step (u32), the tensor count (u8), then per tensor its
//! dtype code (u8), rank (u8), dims (i64 each), byte count (u64) and bytes.

use anyhow::{Context, bail, ensure};
use tch::{Device, Kind, Tensor};

use super::pipeline::Run;
use super::sampler::SamplerState;

const MAGIC: &[u8; 5] = b"ATCK1";

fn kind_code(kind: Kind) -> anyhow::Result<u8> {
    Ok(match kind {
        Kind::Float => 0,
        Kind::Half => 1,
        Kind::BFloat16 => 2,
        other => bail!("latents of kind {other:?} cannot be checkpointed"),
    })
}

fn code_kind(code: u8) -> anyhow::Result<Kind> {
    Ok(match code {
        0 => Kind::Float,
        1 => Kind::Half,
        2 => Kind::BFloat16,
        other => bail!("unknown dtype code {other} in the checkpoint"),
    })
}

fn put_tensor(out: &mut Vec<u8>, tensor: &Tensor) -> anyhow::Result<()> {
    let tensor = tensor.to_device(Device::Cpu).contiguous();
    let kind = tensor.kind();
    let dims = tensor.size();
    let numel = tensor.numel();
    let mut bytes = vec![0u8; numel * kind.elt_size_in_bytes()];
    tensor.f_copy_data_u8(&mut bytes, numel)?;
    out.push(kind_code(kind)?);
    out.push(u8::try_from(dims.len())?);
    for dim in &dims {
        out.extend_from_slice(&dim.to_le_bytes());
    }
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&bytes);
    Ok(())
}

/// A cursor over checkpoint bytes that fails instead of reading past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        ensure!(self.0.len() >= n, "the checkpoint is truncated");
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> anyhow::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> anyhow::Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }

    fn tensor(&mut self, shape: &[i64]) -> anyhow::Result<Tensor> {
        let kind = code_kind(self.u8()?)?;
        let rank = usize::from(self.u8()?);
        let dims = (0..rank)
            .map(|_| Ok(i64::from_le_bytes(self.take(8)?.try_into()?)))
            .collect::<anyhow::Result<Vec<i64>>>()?;
        ensure!(
            dims == shape,
            "the checkpoint's latents are {dims:?}, not the job's {shape:?}"
        );
        let len = usize::try_from(self.u64()?)?;
        let numel: i64 = dims.iter().product();
        ensure!(
            len as i64 == numel * kind.elt_size_in_bytes() as i64,
            "the checkpoint's tensor has the wrong byte count"
        );
        Ok(Tensor::f_from_data_size(self.take(len)?, &dims, kind)?)
    }
}

/// The run's state between steps, as bytes.
pub fn write(run: &Run) -> anyhow::Result<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&u32::try_from(run.state.step)?.to_le_bytes());
    let previous = run.state.previous_denoised();
    out.push(1 + u8::from(previous.is_some()));
    put_tensor(&mut out, &run.latents)?;
    if let Some(previous) = previous {
        put_tensor(&mut out, previous)?;
    }
    Ok(out)
}

/// Puts the state in `bytes` into `run`, a fresh run of the same job (as `Pipeline::start`
/// made it), on `device`. The latents keep the run's dtype.
pub fn restore(run: &mut Run, bytes: &[u8], device: Device) -> anyhow::Result<()> {
    let mut reader = Reader(bytes);
    ensure!(reader.take(MAGIC.len())? == MAGIC, "not a run checkpoint");
    let step = usize::try_from(u32::from_le_bytes(reader.take(4)?.try_into()?))?;
    let (first, total) = run.span();
    ensure!(
        (first..total).contains(&step),
        "the checkpoint's step {step} is outside this job's steps {first}..{total}"
    );
    let count = reader.u8()?;
    ensure!(
        (1..=2).contains(&count),
        "the checkpoint has {count} tensors"
    );
    let shape = run.latents.size();
    let latents = reader.tensor(&shape).context("latents")?;
    let previous = if count == 2 {
        Some(
            reader
                .tensor(&shape)
                .context("sampler state")?
                .to_device(device),
        )
    } else {
        None
    };
    ensure!(reader.0.is_empty(), "the checkpoint has trailing bytes");
    run.latents = latents.to_device(device).to_kind(run.latents.kind());
    run.state = SamplerState::restored(step, previous);
    Ok(())
}
