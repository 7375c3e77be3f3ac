//! Decoding large latents in overlapping tiles, as diffusers' `enable_tiling` does: tiles of 64
//! latents (512 px) overlapping by 16, each decoded alone, neighbours blended linearly across
//! the overlap, so the decoder's memory follows the tile, not the image. Used for images above
//! [`UNTILED_MAX_LATENTS`]; smaller ones decode whole and give exactly what they gave before.

use tch::Tensor;

/// Latent side of one tile.
pub const TILE: i64 = 64;
/// Latent rows (and columns) shared by neighbouring tiles.
pub const OVERLAP: i64 = 16;
/// Latents up to this many (128 x 128: a 1024 x 1024 image) are decoded whole.
pub const UNTILED_MAX_LATENTS: i64 = 128 * 128;
const SCALE: i64 = 8;

/// Whether latents of `h` x `w` are decoded in tiles.
pub fn needed(h: i64, w: i64) -> bool {
    h * w > UNTILED_MAX_LATENTS
}

/// Decodes `latents` `[1, c, h, w]` tile by tile with `decode` (latents to pixels `[1, 3, 8h,
/// 8w]`), blending the overlaps; the result has the shape a whole decode would have.
pub fn decode(latents: &Tensor, decode: impl Fn(&Tensor) -> Tensor) -> Tensor {
    let (_, _, h, w) = latents.size4().expect("latents are [1, c, h, w]");
    let stride = TILE - OVERLAP;
    let blend = OVERLAP * SCALE;
    let keep = stride * SCALE;
    let starts = |len: i64| (0..len).step_by(stride as usize).collect::<Vec<_>>();
    let mut rows: Vec<Vec<Tensor>> = Vec::new();
    for &i in &starts(h) {
        let mut row = Vec::new();
        for &j in &starts(w) {
            let tile = latents
                .narrow(2, i, TILE.min(h - i))
                .narrow(3, j, TILE.min(w - j));
            row.push(decode(&tile));
        }
        rows.push(row);
    }
    let mut out_rows = Vec::new();
    for r in 0..rows.len() {
        let mut out_row = Vec::new();
        for c in 0..rows[r].len() {
            let mut tile = rows[r][c].shallow_clone();
            if r > 0 {
                tile = blend_edge(&rows[r - 1][c], &tile, blend, 2);
            }
            if c > 0 {
                tile = blend_edge(&rows[r][c - 1], &tile, blend, 3);
            }
            rows[r][c] = tile.shallow_clone();
            let (th, tw) = (tile.size()[2], tile.size()[3]);
            out_row.push(tile.narrow(2, 0, keep.min(th)).narrow(3, 0, keep.min(tw)));
        }
        out_rows.push(Tensor::cat(&out_row, 3));
    }
    let whole = Tensor::cat(&out_rows, 2);
    whole.narrow(2, 0, h * SCALE).narrow(3, 0, w * SCALE)
}

/// `b` with its first `extent` rows (`dim` 2) or columns (`dim` 3) faded in from the last ones
/// of `a`, which it overlaps.
fn blend_edge(a: &Tensor, b: &Tensor, extent: i64, dim: i64) -> Tensor {
    let extent = extent
        .min(a.size()[dim as usize])
        .min(b.size()[dim as usize]);
    if extent == 0 {
        return b.shallow_clone();
    }
    let mut shape = vec![1i64; 4];
    shape[dim as usize] = extent;
    let weight = (Tensor::arange(extent, (b.kind(), b.device())) / extent as f64).reshape(&shape);
    let a_len = a.size()[dim as usize];
    let a_tail = a.narrow(dim, a_len - extent, extent);
    let b_head = b.narrow(dim, 0, extent);
    let faded = a_tail * (weight.ones_like() - &weight) + b_head * &weight;
    let rest = b.narrow(dim, extent, b.size()[dim as usize] - extent);
    Tensor::cat(&[faded, rest], dim)
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    /// A decoder that depends on each latent alone: tiles must reassemble it exactly.
    fn pointwise(latents: &Tensor) -> Tensor {
        let rgb = latents.narrow(1, 0, 3) * 0.5 + latents.narrow(1, 3, 1);
        rgb.upsample_nearest2d([latents.size()[2] * 8, latents.size()[3] * 8], None, None)
    }

    #[test]
    fn a_pointwise_decoder_is_reassembled_exactly_at_any_size() {
        tch::manual_seed(3);
        for (h, w) in [(130, 129), (200, 90), (64, 300), (49, 49)] {
            let latents = Tensor::randn([1, 4, h, w], (Kind::Float, Device::Cpu));
            let whole = pointwise(&latents);
            let tiled = decode(&latents, pointwise);
            assert_eq!(tiled.size(), whole.size(), "{h}x{w}");
            let diff = (tiled - whole).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{h}x{w}: {diff}");
        }
    }

    #[test]
    fn each_tile_is_at_most_a_tile() {
        let latents = Tensor::zeros([1, 4, 150, 150], (Kind::Float, Device::Cpu));
        let largest = std::cell::Cell::new(0);
        let _ = decode(&latents, |t| {
            largest.set(largest.get().max(t.size()[2] * t.size()[3]));
            pointwise(t)
        });
        assert_eq!(largest.get(), TILE * TILE);
        assert!(needed(129, 128) && !needed(128, 128));
    }
}
