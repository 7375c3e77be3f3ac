//! Building blocks shared by the networks: a weight with its bias, loaded with shape checks, and
//! the operations the models apply with them.

use tch::Tensor;

use super::weights::Weights;

/// `{name}.weight` and `{name}.bias`.
pub(crate) struct Affine {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

impl Affine {
    /// Loads `{name}.weight` with `shape` and `{name}.bias` with `shape[0]` entries.
    pub(crate) fn load(weights: &Weights, name: &str, shape: &[i64]) -> anyhow::Result<Self> {
        Ok(Self {
            weight: weights.get(&format!("{name}.weight"), shape)?,
            bias: weights.get(&format!("{name}.bias"), &shape[..1])?,
        })
    }

    /// A linear layer.
    pub(crate) fn linear(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, Some(&self.bias))
    }

    /// A layer norm over the last dimension.
    pub(crate) fn layer_norm(&self, x: &Tensor, eps: f64) -> Tensor {
        let width = self.weight.size()[0];
        x.layer_norm([width], Some(&self.weight), Some(&self.bias), eps, true)
    }

    /// A group norm over channels.
    pub(crate) fn group_norm(&self, x: &Tensor, groups: i64, eps: f64) -> Tensor {
        x.group_norm(groups, Some(&self.weight), Some(&self.bias), eps, true)
    }
}
