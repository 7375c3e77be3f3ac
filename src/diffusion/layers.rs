//! Building blocks shared by the networks: a weight with its bias, loaded with shape checks, and
//! the operations the models apply with them.

use anyhow::Context;
use tch::Tensor;

use super::weights::Weights;

/// Group-norm groups in every SD network.
pub(crate) const GROUPS: i64 = 32;

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

    /// The input width of a linear layer.
    pub(crate) fn in_features(&self) -> i64 {
        self.weight.size()[1]
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

    /// Applies it; with seamless tiling on (`diffusion::seamless`), the padding wraps around.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        let padding = self.affine.weight.size()[2] / 2;
        let axes = super::seamless::current();
        if padding > 0 && (axes.x || axes.y) {
            return super::seamless::pad(x, padding, axes).conv2d(
                &self.affine.weight,
                Some(&self.affine.bias),
                [self.stride, self.stride],
                [0, 0],
                [1, 1],
                1,
            );
        }
        x.conv2d(
            &self.affine.weight,
            Some(&self.affine.bias),
            [self.stride, self.stride],
            [padding, padding],
            [1, 1],
            1,
        )
    }

    /// Applies it as the VAE encoder's downsamplers do: one row and column of zeros added at
    /// the bottom and right, then no padding (the layer is stride 2).
    pub(crate) fn forward_padded_after(&self, x: &Tensor) -> Tensor {
        x.constant_pad_nd([0, 1, 0, 1]).conv2d(
            &self.affine.weight,
            Some(&self.affine.bias),
            [self.stride, self.stride],
            [0, 0],
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

/// A residual block (diffusers' `ResnetBlock2D`): group norm, SiLU, convolution, the time
/// embedding added per channel when the block has one (UNet, not VAE), again, then the input
/// through a 1x1 shortcut when the width changes.
pub(crate) struct Resnet {
    norm1: Affine,
    conv1: Conv,
    time: Option<Affine>,
    norm2: Affine,
    conv2: Conv,
    shortcut: Option<Conv>,
    eps: f64,
}

impl Resnet {
    /// Loads `name` taking `channels` in; `time_width` is the time embedding's width (UNet).
    pub(crate) fn load(
        weights: &Weights,
        name: &str,
        channels: i64,
        time_width: Option<i64>,
        eps: f64,
    ) -> anyhow::Result<Self> {
        let conv1 = Conv::load(weights, &format!("{name}.conv1"), 1)?;
        let out = conv1.out_channels();
        let shortcut = weights
            .shape(&format!("{name}.conv_shortcut.weight"))
            .map(|_| Conv::load(weights, &format!("{name}.conv_shortcut"), 1))
            .transpose()?;
        let time = time_width
            .map(|width| Affine::load(weights, &format!("{name}.time_emb_proj"), &[out, width]))
            .transpose()?;
        Ok(Self {
            norm1: Affine::load(weights, &format!("{name}.norm1"), &[channels])?,
            conv1,
            time,
            norm2: Affine::load(weights, &format!("{name}.norm2"), &[out])?,
            conv2: Conv::load(weights, &format!("{name}.conv2"), 1)?,
            shortcut,
            eps,
        })
    }

    /// `time` is the SiLU of the time embedding (UNet blocks only).
    pub(crate) fn forward(&self, x: &Tensor, time: Option<&Tensor>) -> Tensor {
        let mut h = self
            .conv1
            .forward(&self.norm1.group_norm(x, GROUPS, self.eps).silu());
        if let (Some(projection), Some(time)) = (&self.time, time) {
            h += projection.linear(time).unsqueeze(-1).unsqueeze(-1);
        }
        let h = self
            .conv2
            .forward(&self.norm2.group_norm(&h, GROUPS, self.eps).silu());
        match &self.shortcut {
            Some(shortcut) => shortcut.forward(x) + h,
            None => x + h,
        }
    }

    /// Output channels.
    pub(crate) fn out_channels(&self) -> i64 {
        self.conv1.out_channels()
    }
}
