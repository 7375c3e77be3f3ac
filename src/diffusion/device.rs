//! Choosing the torch device for `worker.device`, refusing CUDA when libtorch cannot reach a GPU
//! (no GPU or driver, or `libtorch_cuda` dropped at link time; see `build.rs`).

/// The device for `cpu`, `cuda` (the first GPU) or `cuda:N`, or why it cannot be used.
pub fn select(name: &str) -> anyhow::Result<tch::Device> {
    let index = match name {
        "cpu" => return Ok(tch::Device::Cpu),
        "cuda" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => index,
            _ => anyhow::bail!("worker.device must be cpu, cuda or cuda:N, not {other:?}"),
        },
    };
    if !tch::Cuda::is_available() {
        anyhow::bail!(
            "worker.device = {name:?}, but CUDA is not available to libtorch \
             (tch::Cuda::is_available() is false): no NVIDIA GPU or driver here, or the binary was \
             linked without libtorch_cuda"
        );
    }
    let count = tch::Cuda::device_count();
    if i64::try_from(index).map_or(true, |i| i >= count) {
        anyhow::bail!("worker.device = {name:?}, but libtorch sees {count} GPU(s)");
    }
    Ok(tch::Device::Cuda(index))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cpu_is_always_there_and_unknown_devices_are_refused() {
        assert_eq!(super::select("cpu").unwrap(), tch::Device::Cpu);
        assert!(super::select("tpu").is_err());
        assert!(super::select("cuda:x").is_err());
        assert!(super::select("cuda:-1").is_err());
        if !tch::Cuda::is_available() {
            let message = super::select("cuda").unwrap_err().to_string();
            assert!(message.contains("not available"), "{message}");
            let message = super::select("cuda:1").unwrap_err().to_string();
            assert!(message.contains("not available"), "{message}");
        } else {
            let beyond = format!("cuda:{}", tch::Cuda::device_count());
            assert!(super::select(&beyond).is_err());
        }
    }
}
