//! Test support: the formula weights the golden-data scripts in `tests/data/` also use, so that a
//! network here and its reference implementation run on identical parameters.

use std::collections::{BTreeMap, HashMap};

use tch::{Device, Kind, Tensor};

use super::weights::Weights;

/// Parameter k (in sorted name order) gets element j = `scale * sin(0.1 * (k + 1) + 0.37 * j)`,
/// plus 1 for norm weights when `norms_near_one`.
pub(crate) fn formula_weights(
    names: &BTreeMap<String, Vec<i64>>,
    scale: f64,
    norms_near_one: bool,
) -> Weights {
    let tensors: HashMap<String, Tensor> = names
        .iter()
        .enumerate()
        .map(|(k, (name, shape))| {
            let n: i64 = shape.iter().product();
            let j = Tensor::arange(n, (Kind::Double, Device::Cpu));
            let mut values = ((j * 0.37) + 0.1 * (k as f64 + 1.0)).sin() * scale;
            if norms_near_one && name.contains("norm") && name.ends_with("weight") {
                values += 1.0;
            }
            (
                name.clone(),
                values.to_kind(Kind::Float).reshape(shape.as_slice()),
            )
        })
        .collect();
    Weights::from_map(tensors)
}

/// `scale * f(step * j)` for j in 0..n, as f32 of `shape`.
pub(crate) fn formula_input(
    shape: &[i64],
    scale: f64,
    step: f64,
    f: fn(&Tensor) -> Tensor,
) -> Tensor {
    let n: i64 = shape.iter().product();
    (f(&(Tensor::arange(n, (Kind::Double, Device::Cpu)) * step)) * scale)
        .to_kind(Kind::Float)
        .reshape(shape)
}

/// Asserts `a` is within the tolerance of the f32 reference `b`.
pub(crate) fn assert_close(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!(
        (a - b).abs() <= tolerance + 1e-4 * b.abs(),
        "{what}: {a} vs {b}"
    );
}
