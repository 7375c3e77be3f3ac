//! Test support for the golden tests: formula inputs, and the formula weights (from `tiny`) that
//! the scripts in `tests/data/` also use, so a network and its reference see identical numbers.

use tch::{Device, Kind, Tensor};

pub(crate) use super::tiny::formula_weights;

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
