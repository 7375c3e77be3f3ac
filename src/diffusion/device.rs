//! Choosing the torch device for `worker.device`, refusing CUDA when libtorch cannot reach a GPU
//! (no GPU or driver, or `libtorch_cuda` dropped at link time; see `build.rs`).

/// The device for `cpu` or `cuda`, or why it cannot be used.
pub fn select(name: &str) -> anyhow::Result<tch::Device> {
    match name {
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
        "cuda" => anyhow::bail!(
            "worker.device = \"cuda\", but CUDA is not available to libtorch \
             (tch::Cuda::is_available() is false): no NVIDIA GPU or driver here, or the binary was \
             linked without libtorch_cuda"
        ),
        other => anyhow::bail!("worker.device must be cpu or cuda, not {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cpu_is_always_there_and_unknown_devices_are_refused() {
        assert_eq!(super::select("cpu").unwrap(), tch::Device::Cpu);
        assert!(super::select("tpu").is_err());
        if !tch::Cuda::is_available() {
            let message = super::select("cuda").unwrap_err().to_string();
            assert!(message.contains("not available"), "{message}");
        }
    }
}
