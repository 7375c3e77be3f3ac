//! Building blocks shared by the networks: a weight with its bias, loaded with shape checks, and
//! the operations the models apply with them.

use anyhow::Context;
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

/// A 2-D convolution, `{name}.weight` `[out, in, k, k]` and its bias, "same" padding.
pub(crate) struct Conv {
    affine: Affine,
    stride: i64,
}

impl Conv {
    /// Loads the convolution `name`, whatever its size (read from the weights).
    pub(crate) fn load(weights: &Weights, name: &str, stride: i64) -> anyhow::Result<Self> {
        let shape = weights
            .shape(&format!("{name}.weight"))
            .with_context(|| format!("the weights have no {name}"))?;
        anyhow::ensure!(shape.len() == 4, "{name}.weight is not a convolution");
        Ok(Self {
            affine: Affine::load(weights, name, &shape)?,
            stride,
        })
    }

    /// Applies it.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        let padding = self.affine.weight.size()[2] / 2;
        x.conv2d(
            &self.affine.weight,
            Some(&self.affine.bias),
            [self.stride, self.stride],
            [padding, padding],
            [1, 1],
            1,
        )
    }

    /// Output channels.
    pub(crate) fn out_channels(&self) -> i64 {
        self.affine.weight.size()[0]
    }
}

/// Doubles height and width (nearest neighbour).
pub(crate) fn upsample(x: &Tensor) -> Tensor {
    let size = x.size();
    let (h, w) = (size[size.len() - 2], size[size.len() - 1]);
    x.upsample_nearest2d([h * 2, w * 2], None, None)
}
