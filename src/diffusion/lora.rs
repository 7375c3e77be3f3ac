//! LoRA adapters: low-rank weight deltas `W += weight * alpha / rank * up @ down` for the text
//! encoder's and the UNet's layers. Files in kohya's naming (`lora_unet_down_blocks_0_…_to_q`
//! with `.lora_down.weight`, `.lora_up.weight` and `.alpha`; `lora_te_…` for the text encoder;
//! for SDXL `lora_te1_…`, `lora_te2_…` and UNet layers by their LDM paths, such as
//! `lora_unet_input_blocks_4_1_…`, which the pipeline resolves through `ldm::unet_ldm_name`)
//! and in diffusers/PEFT naming (`unet.….to_q.lora_A.weight` and `.lora_B.weight`, or older
//! `.lora.down.weight` and `.lora.up.weight`; `text_encoder_2.…` for SDXL) are read. A
//! pipeline applies adapters in place for one engine request and restores the saved originals
//! when the request ends (`pipeline::Patched`), so the cached model is never left changed and
//! jobs without adapters give exactly the images they gave before.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use tch::{Device, Kind, Tensor};

use super::weights::Weights;

/// Which part of the model a layer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The text encoder (SDXL's first).
    Text,
    /// SDXL's second text encoder.
    Text2,
    /// The UNet.
    Unet,
}

/// One adapted layer.
pub struct Layer {
    /// Its part of the model.
    pub part: Part,
    /// How the file names the layer (kohya's underscore form or the dotted module path).
    pub key: String,
    down: Tensor,
    up: Tensor,
    /// `alpha / rank` (1 where the file gives no alpha).
    scale: f64,
}

impl Layer {
    /// The weight delta at strength `weight`, in f32, shaped like `like`.
    pub fn delta(&self, weight: f64, like: &Tensor) -> anyhow::Result<Tensor> {
        let (up, down) = (self.up.to_kind(Kind::Float), self.down.to_kind(Kind::Float));
        let rank = down.size()[0];
        let product = up
            .reshape([up.size()[0], rank])
            .matmul(&down.reshape([rank, -1]));
        if product.numel() != like.numel() {
            bail!(
                "LoRA layer {} has {} elements, the model's has {} ({:?})",
                self.key,
                product.numel(),
                like.numel(),
                like.size()
            );
        }
        Ok((product * (self.scale * weight)).reshape(like.size()))
    }
}

/// A loaded LoRA file.
pub struct Lora {
    layers: Vec<Layer>,
    bytes: i64,
}

/// The layer key and tensor role of a LoRA tensor name.
enum Role {
    Down,
    Up,
    Alpha,
}

fn split(name: &str) -> Option<(Part, String, Role)> {
    for (suffix, role) in [
        (".lora_down.weight", Role::Down),
        (".lora_up.weight", Role::Up),
        (".lora_A.weight", Role::Down),
        (".lora_B.weight", Role::Up),
        (".lora.down.weight", Role::Down),
        (".lora.up.weight", Role::Up),
        (".alpha", Role::Alpha),
    ] {
        let Some(key) = name.strip_suffix(suffix) else {
            continue;
        };
        let (part, key) = if let Some(rest) = key.strip_prefix("lora_unet_") {
            (Part::Unet, rest)
        } else if let Some(rest) = key
            .strip_prefix("lora_te_")
            .or_else(|| key.strip_prefix("lora_te1_"))
        {
            (Part::Text, rest)
        } else if let Some(rest) = key.strip_prefix("lora_te2_") {
            (Part::Text2, rest)
        } else if let Some(rest) = key.strip_prefix("text_encoder_2.") {
            (Part::Text2, rest)
        } else if let Some(rest) = key.strip_prefix("unet.") {
            (Part::Unet, rest)
        } else if let Some(rest) = key.strip_prefix("text_encoder.") {
            (Part::Text, rest)
        } else {
            return None;
        };
        return Some((part, key.to_owned(), role));
    }
    None
}

/// Whether tensor names look like a LoRA file's (for the catalogue's probe).
pub fn is_lora<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
    names.any(|n| down_weight(n).is_some())
}

/// The part and layer key of a LoRA down weight's name (whose shape is `[rank, input width]`,
/// which tells the catalogue's probe the model family), or None for any other name.
pub fn down_weight(name: &str) -> Option<(Part, String)> {
    match split(name)? {
        (part, key, Role::Down) => Some((part, key)),
        _ => None,
    }
}

/// The key a layer of `part` with internal weight name `name` (`….weight`) has in a LoRA file:
/// both the underscore form and the dotted module path are accepted.
pub fn keys_of(name: &str) -> Option<[String; 2]> {
    let module = name.strip_suffix(".weight")?;
    Some([module.replace('.', "_"), module.to_owned()])
}

impl Lora {
    /// Reads a LoRA file onto `device` (in `kind`).
    pub fn load(path: &Path, device: Device, kind: Kind) -> anyhow::Result<Self> {
        let weights = Weights::load(path, |n| split(n).map(|_| n.to_owned()), device, kind)?;
        let mut parts: BTreeMap<(Part, String), [Option<Tensor>; 3]> = BTreeMap::new();
        for name in weights.names() {
            let (part, key, role) = split(name).expect("only LoRA names were loaded");
            let shape = weights.shape(name).unwrap_or_default();
            let tensor = weights.get(name, &shape)?;
            let slot = parts.entry((part, key)).or_default();
            slot[role as usize] = Some(tensor);
        }
        let mut layers = Vec::new();
        for ((part, key), [down, up, alpha]) in parts {
            let (Some(down), Some(up)) = (down, up) else {
                bail!("LoRA layer {key} lacks its down or up weight");
            };
            let rank = *down.size().first().context("a LoRA down weight is empty")?;
            if rank == 0 || up.size().get(1) != Some(&rank) {
                bail!(
                    "LoRA layer {key}: down {:?} and up {:?} do not share a rank",
                    down.size(),
                    up.size()
                );
            }
            let scale = match alpha {
                Some(alpha) => alpha.to_kind(Kind::Double).double_value(&[]) / rank as f64,
                None => 1.0,
            };
            if !scale.is_finite() {
                bail!("LoRA layer {key} has a non-finite alpha");
            }
            layers.push(Layer {
                part,
                key,
                down,
                up,
                scale,
            });
        }
        if layers.is_empty() {
            bail!("{} holds no LoRA layers", path.display());
        }
        Ok(Self {
            layers,
            bytes: weights.bytes(),
        })
    }

    /// Its layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Bytes of weights held.
    pub fn bytes(&self) -> i64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_both_conventions_split_into_part_key_and_role() {
        let cases = [
            (
                "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
                Part::Unet,
            ),
            (
                "lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha",
                Part::Text,
            ),
            (
                "unet.mid_block.attentions.0.proj_out.lora_B.weight",
                Part::Unet,
            ),
            (
                "text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_A.weight",
                Part::Text,
            ),
        ];
        for (name, part) in cases {
            let (got, key, _) = split(name).unwrap();
            assert_eq!(got, part, "{name}");
            assert!(!key.contains("lora"), "{key}");
        }
        assert!(split("model.diffusion_model.out.0.weight").is_none());
        assert_eq!(
            split("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight").map(|s| s.0),
            Some(Part::Text2),
            "SDXL's second encoder"
        );
        assert_eq!(
            split("text_encoder_2.text_model.encoder.layers.0.mlp.fc1.lora_A.weight").map(|s| s.0),
            Some(Part::Text2)
        );
        assert_eq!(
            split("lora_te1_text_model_encoder_layers_0_mlp_fc1.alpha").map(|s| s.0),
            Some(Part::Text)
        );
        assert!(is_lora(
            ["x.alpha", "lora_unet_a_b.lora_down.weight"].into_iter()
        ));
        assert!(!is_lora(["decoder.conv_out.weight"].into_iter()));
        assert_eq!(
            keys_of("down_blocks.0.attentions.0.proj_in.weight").unwrap(),
            [
                "down_blocks_0_attentions_0_proj_in",
                "down_blocks.0.attentions.0.proj_in"
            ]
        );
    }
}
