//! Key adapters from the original LDM single-file layout (`model.diffusion_model.*`,
//! `first_stage_model.*`) to the internal (diffusers) naming. The UNet's layout depends on its
//! layers per block, which the caller reads from the checkpoint (`layers_per_block`); the VAE's
//! decoder levels come in reverse order, and its attention projections are 1x1 convolutions that
//! must be squeezed to linear weights (`is_vae_attention_projection`).

const UNET: &str = "model.diffusion_model.";
/// The prefix of a full checkpoint's VAE weights.
pub const VAE: &str = "first_stage_model.";

/// Layers per block of an LDM UNet: the first downsampler sits at `input_blocks.{layers + 1}`.
pub fn layers_per_block<'a>(names: impl Iterator<Item = &'a str>) -> Option<usize> {
    names
        .filter_map(|n| {
            n.strip_prefix(UNET)?
                .strip_prefix("input_blocks.")?
                .strip_suffix(".0.op.weight")
        })
        .filter_map(|i| i.parse::<usize>().ok())
        .min()
        .map(|first| first - 1)
}

/// A UNet resnet's parts: (LDM, internal).
const RESNET_PARTS: [(&str, &str); 6] = [
    ("in_layers.0.", "norm1."),
    ("in_layers.2.", "conv1."),
    ("emb_layers.1.", "time_emb_proj."),
    ("out_layers.0.", "norm2."),
    ("out_layers.3.", "conv2."),
    ("skip_connection.", "conv_shortcut."),
];

/// UNet weights outside the blocks: (LDM, internal).
const UNET_SIMPLE: [(&str, &str); 7] = [
    ("time_embed.0.", "time_embedding.linear_1."),
    ("time_embed.2.", "time_embedding.linear_2."),
    ("label_emb.0.0.", "add_embedding.linear_1."),
    ("label_emb.0.2.", "add_embedding.linear_2."),
    ("input_blocks.0.0.", "conv_in."),
    ("out.0.", "conv_norm_out."),
    ("out.2.", "conv_out."),
];

/// `rest` with the first matching prefix of `pairs` replaced; `forward` maps the first of each
/// pair to the second, otherwise the second to the first.
fn renamed(rest: &str, pairs: &[(&str, &str)], forward: bool) -> Option<String> {
    pairs.iter().find_map(|&(ldm, internal)| {
        let (from, to) = if forward {
            (ldm, internal)
        } else {
            (internal, ldm)
        };
        rest.strip_prefix(from).map(|tail| format!("{to}{tail}"))
    })
}

fn resnet_part(rest: &str) -> Option<String> {
    renamed(rest, &RESNET_PARTS, true)
}

/// Splits `"{index}.{rest}"`.
fn index(text: &str) -> Option<(usize, &str)> {
    let (number, rest) = text.split_once('.')?;
    Some((number.parse().ok()?, rest))
}

/// The internal name of an LDM UNet weight, for a UNet with `layers` layers per block.
pub fn unet_name(name: &str, layers: usize) -> Option<String> {
    let rest = name.strip_prefix(UNET)?;
    if let Some(found) = renamed(rest, &UNET_SIMPLE, true) {
        return Some(found);
    }
    if let Some(mid) = rest.strip_prefix("middle_block.") {
        let (i, tail) = index(mid)?;
        return match i {
            0 | 2 => Some(format!(
                "mid_block.resnets.{}.{}",
                i / 2,
                resnet_part(tail)?
            )),
            1 => Some(format!("mid_block.attentions.0.{tail}")),
            _ => None,
        };
    }
    if let Some(input) = rest.strip_prefix("input_blocks.") {
        let (i, tail) = index(input)?;
        let (block, layer) = ((i - 1) / (layers + 1), (i - 1) % (layers + 1));
        let (part, tail) = index(tail)?;
        return match (layer == layers, part) {
            (true, 0) => Some(format!(
                "down_blocks.{block}.downsamplers.0.conv.{}",
                tail.strip_prefix("op.")?
            )),
            (false, 0) => Some(format!(
                "down_blocks.{block}.resnets.{layer}.{}",
                resnet_part(tail)?
            )),
            (false, 1) => Some(format!("down_blocks.{block}.attentions.{layer}.{tail}")),
            _ => None,
        };
    }
    if let Some(output) = rest.strip_prefix("output_blocks.") {
        let (i, tail) = index(output)?;
        let (block, layer) = (i / (layers + 1), i % (layers + 1));
        let (part, tail) = index(tail)?;
        if part == 0 {
            return Some(format!(
                "up_blocks.{block}.resnets.{layer}.{}",
                resnet_part(tail)?
            ));
        }
        if let Some(conv) = tail.strip_prefix("conv.") {
            return Some(format!("up_blocks.{block}.upsamplers.0.conv.{conv}"));
        }
        return (part == 1).then(|| format!("up_blocks.{block}.attentions.{layer}.{tail}"));
    }
    None
}

/// The LDM module path (without `model.diffusion_model.`) of an internal UNet weight name, for a
/// UNet with `layers` layers per block: the inverse of [`unet_name`], which kohya's SDXL LoRA
/// files name their layers by. An upsampler's LDM index depends on whether its up block has
/// attention, which `up_has_attention(block)` says.
pub fn unet_ldm_name(
    name: &str,
    layers: usize,
    up_has_attention: impl Fn(usize) -> bool,
) -> Option<String> {
    if let Some(found) = renamed(name, &UNET_SIMPLE, false) {
        return Some(found);
    }
    let resnet = |tail: &str| renamed(tail, &RESNET_PARTS, false);
    if let Some(mid) = name.strip_prefix("mid_block.") {
        if let Some(tail) = mid.strip_prefix("attentions.0.") {
            return Some(format!("middle_block.1.{tail}"));
        }
        let (i, tail) = index(mid.strip_prefix("resnets.")?)?;
        return Some(format!("middle_block.{}.{}", 2 * i, resnet(tail)?));
    }
    let (side, first, rest) = if let Some(rest) = name.strip_prefix("down_blocks.") {
        ("input_blocks", 1, rest)
    } else {
        ("output_blocks", 0, name.strip_prefix("up_blocks.")?)
    };
    let (block, rest) = index(rest)?;
    let at = |layer: usize| first + block * (layers + 1) + layer;
    if let Some(conv) = rest.strip_prefix("downsamplers.0.conv.") {
        return Some(format!("{side}.{}.0.op.{conv}", at(layers)));
    }
    if let Some(conv) = rest.strip_prefix("upsamplers.0.conv.") {
        let part = if up_has_attention(block) { 2 } else { 1 };
        return Some(format!("{side}.{}.{part}.conv.{conv}", at(layers)));
    }
    let (kind, rest) = rest.split_once('.')?;
    let (layer, tail) = index(rest)?;
    match kind {
        "resnets" => Some(format!("{side}.{}.0.{}", at(layer), resnet(tail)?)),
        "attentions" => Some(format!("{side}.{}.1.{tail}", at(layer))),
        _ => None,
    }
}

/// One more than the highest index `N` in names `{prefix}N.…` (0 where none has it): how many
/// numbered blocks a checkpoint has.
pub fn count_numbered<S: AsRef<str>>(names: impl Iterator<Item = S>, prefix: &str) -> usize {
    names
        .filter_map(|k| {
            k.as_ref()
                .strip_prefix(prefix)?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |top| top + 1)
}

/// Resolution levels of an LDM VAE (4 in SD), from its `first_stage_model.decoder.up.N` names.
pub fn vae_levels<S: AsRef<str>>(names: impl Iterator<Item = S>) -> usize {
    count_numbered(names, "first_stage_model.decoder.up.")
}

/// The internal name of an LDM VAE weight, for a VAE with `levels` resolution levels (4 in SD).
pub fn vae_name(name: &str, levels: usize) -> Option<String> {
    let rest = name.strip_prefix(VAE)?;
    if rest.starts_with("quant_conv.") || rest.starts_with("post_quant_conv.") {
        return Some(rest.to_owned());
    }
    let (side, rest) = rest.split_once('.')?;
    if side != "encoder" && side != "decoder" {
        return None;
    }
    let vae_resnet = |tail: &str| tail.replace("nin_shortcut.", "conv_shortcut.");
    let inner = if let Some(tail) = rest.strip_prefix("norm_out.") {
        format!("conv_norm_out.{tail}")
    } else if rest.starts_with("conv_in.") || rest.starts_with("conv_out.") {
        rest.to_owned()
    } else if let Some(mid) = rest.strip_prefix("mid.") {
        if let Some(tail) = mid.strip_prefix("block_1.") {
            format!("mid_block.resnets.0.{}", vae_resnet(tail))
        } else if let Some(tail) = mid.strip_prefix("block_2.") {
            format!("mid_block.resnets.1.{}", vae_resnet(tail))
        } else {
            let tail = mid.strip_prefix("attn_1.")?;
            let (part, leaf) = tail.rsplit_once('.')?;
            let part = match part {
                "norm" => "group_norm",
                "q" => "to_q",
                "k" => "to_k",
                "v" => "to_v",
                "proj_out" => "to_out.0",
                _ => return None,
            };
            format!("mid_block.attentions.0.{part}.{leaf}")
        }
    } else {
        let (kind, rest) = rest.split_once('.')?;
        let (level, tail) = index(rest)?;
        let (blocks, level) = match kind {
            "down" => ("down_blocks", level),
            "up" => ("up_blocks", levels.checked_sub(level + 1)?),
            _ => return None,
        };
        if let Some(block) = tail.strip_prefix("block.") {
            let (j, leaf) = index(block)?;
            format!("{blocks}.{level}.resnets.{j}.{}", vae_resnet(leaf))
        } else if let Some(leaf) = tail.strip_prefix("downsample.conv.") {
            format!("{blocks}.{level}.downsamplers.0.conv.{leaf}")
        } else {
            format!(
                "{blocks}.{level}.upsamplers.0.conv.{}",
                tail.strip_prefix("upsample.conv.")?
            )
        }
    };
    Some(format!("{side}.{inner}"))
}

/// Whether an internal VAE name is an attention projection weight, stored as a 1x1 convolution
/// in LDM files and used as a linear weight.
pub fn is_vae_attention_projection(name: &str) -> bool {
    name.contains("mid_block.attentions.0.to_") && name.ends_with(".weight")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Keys {
        unet: Vec<(String, String, Vec<i64>)>,
        vae: Vec<(String, String, Vec<i64>)>,
        unet_xl: Vec<(String, String, Vec<i64>)>,
    }

    #[test]
    fn every_key_of_sd15_and_sdxl_checkpoints_maps_as_the_reference_converter_maps_it() {
        let keys: Keys =
            serde_json::from_str(include_str!("../../tests/data/ldm_keys.json")).unwrap();
        assert_eq!((keys.unet.len(), keys.vae.len()), (686, 248));
        let layers = layers_per_block(keys.unet.iter().map(|(ldm, _, _)| ldm.as_str())).unwrap();
        assert_eq!(layers, 2);
        for (ldm, expected, _) in &keys.unet {
            assert_eq!(
                unet_name(ldm, layers).as_deref(),
                Some(expected.as_str()),
                "{ldm}"
            );
        }
        for (ldm, expected, shape) in &keys.vae {
            assert_eq!(
                vae_name(ldm, 4).as_deref(),
                Some(expected.as_str()),
                "{ldm}"
            );
            assert_eq!(
                is_vae_attention_projection(expected),
                shape.len() == 2,
                "{expected}"
            );
        }
        assert_eq!(unet_name("cond_stage_model.transformer.x", 2), None);
        for list in [&keys.unet, &keys.unet_xl] {
            let attention = |block: usize| {
                let prefix = format!("up_blocks.{block}.attentions.");
                list.iter()
                    .any(|(_, internal, _)| internal.starts_with(&prefix))
            };
            for (ldm, internal, _) in list {
                let back = unet_ldm_name(internal, 2, attention).map(|n| format!("{UNET}{n}"));
                assert_eq!(back.as_deref(), Some(ldm.as_str()), "back from {internal}");
            }
        }
        assert_eq!(keys.unet_xl.len(), 1680);
        let layers = layers_per_block(keys.unet_xl.iter().map(|(ldm, _, _)| ldm.as_str()));
        assert_eq!(layers, Some(2));
        for (ldm, expected, _) in &keys.unet_xl {
            assert_eq!(
                unet_name(ldm, 2).as_deref(),
                Some(expected.as_str()),
                "SDXL: {ldm}"
            );
        }
        assert_eq!(vae_name("first_stage_model.loss.logvar", 4), None);
    }
}
