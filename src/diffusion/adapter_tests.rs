//! Engine tests for what a job adds to its model: an installed VAE in place of the model's own
//! (both layouts), and LoRA adapters (both namings), checked against models that have the same
//! weights built in, with the model restored exactly after every request.

use tch::{Device, Kind};

use super::engine::TchEngine;
use super::engine::tests::{Hook, finished, hook, job};
use super::sampler::with_seed;
use super::tiny::{write_tiny_diffusers, write_tiny_single_file};
use crate::worker::engine::{Engine, EngineJob, Outcome, Resume};

/// A LoRA file's name, its tensors, and the error it should give.
type Case = (&'static str, Vec<(String, tch::Tensor)>, &'static str);

/// The tiny model's VAE with `decoder.conv_out.bias` raised by 0.25, as a diffusers VAE
/// folder and as an LDM-named single file (no `first_stage_model.` prefix), plus a whole
/// diffusers model that has it as its own VAE.
fn brighter_vae(root: &std::path::Path) -> (String, String, String) {
    use crate::diffusion::tiny::write_tensors;
    use crate::diffusion::weights::Weights;
    let model = root.join("model");
    std::fs::create_dir_all(&model).unwrap();
    write_tiny_diffusers(&model).unwrap();
    let brighten = |weights: Weights, bias: &str, strip: &str| {
        let mut tensors: Vec<(String, tch::Tensor)> = Vec::new();
        for name in weights.names() {
            let shape = weights.shape(name).unwrap();
            let mut t = weights.get(name, &shape).unwrap().copy();
            if name == bias {
                t += 0.25;
            }
            tensors.push((name.strip_prefix(strip).unwrap_or(name).to_owned(), t));
        }
        tensors
    };
    let keep = |n: &str| Some(n.to_owned());
    let vae_file = model.join("vae/diffusion_pytorch_model.safetensors");
    let own = Weights::load(&vae_file, keep, Device::Cpu, Kind::Float).unwrap();
    let folder = root.join("vae-folder");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("config.json"), "{}").unwrap();
    let brighter = brighten(own, "decoder.conv_out.bias", "");
    write_tensors(
        &folder.join("diffusion_pytorch_model.safetensors"),
        brighter,
    )
    .unwrap();
    let single = root.join("single.safetensors");
    write_tiny_single_file(&single).unwrap();
    let ldm_vae = Weights::load(
        &single,
        |n| n.starts_with("first_stage_model.").then(|| n.to_owned()),
        Device::Cpu,
        Kind::Float,
    )
    .unwrap();
    let file = root.join("vae-ldm.safetensors");
    let brighter = brighten(
        ldm_vae,
        "first_stage_model.decoder.conv_out.bias",
        "first_stage_model.",
    );
    write_tensors(&file, brighter).unwrap();
    let merged = root.join("merged");
    std::fs::create_dir_all(merged.join("vae")).unwrap();
    for part in ["model_index.json", "text_encoder", "unet"] {
        let from = model.join(part);
        if from.is_dir() {
            std::fs::create_dir_all(merged.join(part)).unwrap();
            for entry in std::fs::read_dir(&from).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), merged.join(part).join(entry.file_name())).unwrap();
            }
        } else {
            std::fs::copy(&from, merged.join(part)).unwrap();
        }
    }
    std::fs::copy(
        folder.join("diffusion_pytorch_model.safetensors"),
        merged.join("vae/diffusion_pytorch_model.safetensors"),
    )
    .unwrap();
    (text_of(&folder), text_of(&file), text_of(&merged))
}

fn text_of(path: &std::path::Path) -> String {
    path.to_str().unwrap().to_owned()
}

fn pixels(pngs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    pngs.iter()
        .map(|png| image::load_from_memory(png).unwrap().to_rgb8().into_raw())
        .collect()
}

#[test]
fn an_installed_vae_replaces_the_models_own_in_either_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, file, merged) = brighter_vae(dir.path());
    let model = dir.path().join("model");
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let generate = |location: &str, vae: Option<&str>| {
        let mut job = job(location, "euler", 5);
        job.params.vae = vae.map(|_| "brighter".to_owned());
        job.vae_location = vae.map(|v| Some(v.to_owned()));
        let pngs = finished(engine.generate(&job, None, &mut hook()).unwrap());
        (pixels(&pngs), pngs)
    };
    let (own, _) = generate(model.to_str().unwrap(), None);
    let (with_folder, pngs) = generate(model.to_str().unwrap(), Some(&folder));
    let (with_file, _) = generate(model.to_str().unwrap(), Some(&file));
    let (reference, _) = generate(&merged, None);
    assert_eq!(
        with_folder, reference,
        "the same as a model whose own VAE it is"
    );
    assert_eq!(with_file, reference, "the LDM file holds the same VAE");
    assert_ne!(own, reference, "the VAE changed the images");
    let mean = |images: &[Vec<u8>]| {
        images.iter().flatten().map(|v| f64::from(*v)).sum::<f64>()
            / images.iter().map(Vec::len).sum::<usize>() as f64
    };
    assert!(
        mean(&with_folder) > mean(&own),
        "a raised output bias brightens"
    );
    assert!(
        String::from_utf8_lossy(&pngs[0]).contains("brighter"),
        "the VAE is recorded"
    );
    let resident = engine.resident_models();
    assert!(
        resident.contains(&folder) && resident.contains(&file),
        "{resident:?}"
    );

    let mut missing = job(model.to_str().unwrap(), "euler", 5);
    missing.vae_location = Some(None);
    let error = engine.generate(&missing, None, &mut hook()).unwrap_err();
    assert_eq!(error.message, "the VAE is not installed");
    for (not_a_vae, expected) in [
        (merged, "the VAE file is installed as another kind of model"),
        (text_of(&model.join("unet")), "the VAE could not be loaded"),
    ] {
        let mut wrong = job(model.to_str().unwrap(), "euler", 5);
        wrong.vae_location = Some(Some(not_a_vae));
        let error = engine.generate(&wrong, None, &mut hook()).unwrap_err();
        assert!(error.message.starts_with(expected), "{}", error.message);
    }
}

/// Writes a LoRA for the tiny model at `model` into `path` (kohya's naming for some layers,
/// PEFT's for others; a linear, a cross-attention, a 1x1 and a 3x3 convolution and the text
/// encoder) and returns, per internal weight name, the delta it makes at `strength`.
fn write_lora(
    model: &std::path::Path,
    path: &std::path::Path,
    strength: f64,
) -> Vec<(String, tch::Tensor)> {
    use crate::diffusion::tiny::write_tensors;
    use crate::diffusion::weights::Weights;
    let keep = |n: &str| Some(n.to_owned());
    let unet = Weights::load(
        &model.join("unet/diffusion_pytorch_model.safetensors"),
        keep,
        Device::Cpu,
        Kind::Float,
    )
    .unwrap();
    let pick = |suffix: &str| {
        let mut names: Vec<&str> = unet.names().filter(|n| n.ends_with(suffix)).collect();
        names.sort_unstable();
        names[0].to_owned()
    };
    let targets = [
        (pick("attn1.to_q.weight"), "kohya", 4.0),
        (pick("attn2.to_k.weight"), "peft", 0.0),
        (pick("proj_in.weight"), "kohya", 2.0),
        (pick("resnets.0.conv1.weight"), "kohya", 8.0),
        (
            "text_model.encoder.layers.0.self_attn.q_proj.weight".to_owned(),
            "kohya",
            4.0,
        ),
    ];
    let text = Weights::load(
        &model.join("text_encoder/model.safetensors"),
        keep,
        Device::Cpu,
        Kind::Float,
    )
    .unwrap();
    let rank = 4;
    let mut tensors = Vec::new();
    let mut deltas = Vec::new();
    for (seed, (name, style, alpha)) in (3..).zip(targets) {
        let is_text = name.starts_with("text_model.");
        let weights = if is_text { &text } else { &unet };
        let shape = weights.shape(&name).unwrap();
        let fan_in: i64 = shape[1..].iter().product();
        let mut down_shape = vec![rank, shape[1]];
        down_shape.extend_from_slice(&shape[2..]);
        let mut up_shape = vec![shape[0], rank];
        up_shape.extend(std::iter::repeat_n(1, shape.len() - 2));
        let (down, up) = with_seed(seed, || {
            let random = |shape: &[i64]| tch::Tensor::randn(shape, (Kind::Float, Device::Cpu));
            (random(&down_shape) * 0.3, random(&up_shape) * 0.3)
        });
        let scale = if alpha == 0.0 {
            1.0
        } else {
            alpha / rank as f64
        };
        let delta = (up
            .reshape([shape[0], rank])
            .matmul(&down.reshape([rank, fan_in]))
            * (scale * strength))
            .reshape(shape.as_slice());
        deltas.push((name.clone(), delta));
        let module = name.strip_suffix(".weight").unwrap();
        if style == "kohya" {
            let prefix = if is_text { "lora_te_" } else { "lora_unet_" };
            let key = format!("{prefix}{}", module.replace('.', "_"));
            tensors.push((format!("{key}.lora_down.weight"), down));
            tensors.push((format!("{key}.lora_up.weight"), up));
            tensors.push((format!("{key}.alpha"), tch::Tensor::from(alpha as f32)));
        } else {
            let prefix = if is_text { "text_encoder." } else { "unet." };
            tensors.push((format!("{prefix}{module}.lora_A.weight"), down));
            tensors.push((format!("{prefix}{module}.lora_B.weight"), up));
        }
    }
    write_tensors(path, tensors).unwrap();
    deltas
}

/// A copy of the tiny model at `model` with `deltas` merged into its weights.
fn merged_copy(model: &std::path::Path, into: &std::path::Path, deltas: &[(String, tch::Tensor)]) {
    use crate::diffusion::tiny::write_tensors;
    use crate::diffusion::weights::Weights;
    std::fs::create_dir_all(into.join("vae")).unwrap();
    std::fs::copy(
        model.join("model_index.json"),
        into.join("model_index.json"),
    )
    .unwrap();
    let vae = "vae/diffusion_pytorch_model.safetensors";
    std::fs::copy(model.join(vae), into.join(vae)).unwrap();
    for file in [
        "unet/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
    ] {
        let keep = |n: &str| Some(n.to_owned());
        let weights = Weights::load(&model.join(file), keep, Device::Cpu, Kind::Float).unwrap();
        let tensors = weights
            .names()
            .map(|name| {
                let shape = weights.shape(name).unwrap();
                let mut t = weights.get(name, &shape).unwrap().copy();
                for (target, delta) in deltas {
                    if target == name {
                        t += delta;
                    }
                }
                (name.to_owned(), t)
            })
            .collect();
        std::fs::create_dir_all(into.join(file).parent().unwrap()).unwrap();
        write_tensors(&into.join(file), tensors).unwrap();
    }
}

#[test]
fn a_lora_gives_the_merged_models_images_and_leaves_the_model_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    write_tiny_diffusers(&model).unwrap();
    let lora = dir.path().join("lora.safetensors");
    let deltas = write_lora(&model, &lora, 0.8);
    let merged = dir.path().join("merged");
    merged_copy(&model, &merged, &deltas);
    let (model, lora, merged) = (text_of(&model), text_of(&lora), text_of(&merged));
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let with_lora = |location: &str, lora: Option<(&str, f64)>| {
        let mut job = job(location, "euler_a", 9);
        job.lora_locations = lora
            .map(|(l, s)| (Some(l.to_owned()), s))
            .into_iter()
            .collect();
        job
    };
    let generate =
        |job: &EngineJob| pixels(&finished(engine.generate(job, None, &mut hook()).unwrap()));
    let own = generate(&with_lora(&model, None));
    let adapted = generate(&with_lora(&model, Some((&lora, 0.8))));
    let reference = generate(&with_lora(&merged, None));
    let largest_difference = adapted
        .iter()
        .flatten()
        .zip(reference.iter().flatten())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(
        largest_difference <= 1,
        "the merged model's images, within rounding: {largest_difference}"
    );
    assert_ne!(adapted, own, "the LoRA changed the images");
    assert_eq!(
        generate(&with_lora(&model, None)),
        own,
        "the model is restored exactly"
    );
    assert_eq!(
        generate(&with_lora(&model, Some((&lora, 0.0)))),
        own,
        "strength 0 changes nothing"
    );

    // Suspended between steps, with another job (without the LoRA) run in between.
    let mut suspending = Hook {
        suspend_at: Some(3),
        ..hook()
    };
    let lora_job = with_lora(&model, Some((&lora, 0.8)));
    let Outcome::Suspended(state) = engine.generate(&lora_job, None, &mut suspending).unwrap()
    else {
        panic!("expected a suspension")
    };
    assert_eq!(generate(&with_lora(&model, None)), own);
    let resumed = finished(
        engine
            .generate(&lora_job, Some(Resume::Held(state.held)), &mut suspending)
            .unwrap(),
    );
    assert_eq!(
        pixels(&resumed),
        adapted,
        "suspend and resume change nothing"
    );
}

#[test]
fn loras_that_do_not_fit_fail_clearly_and_change_nothing() {
    use crate::diffusion::tiny::write_tensors;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    write_tiny_diffusers(&model).unwrap();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let location = text_of(&model);
    let own = pixels(&finished(
        engine
            .generate(&job(&location, "ddim", 2), None, &mut hook())
            .unwrap(),
    ));
    let t = |shape: &[i64]| tch::Tensor::ones(shape, (Kind::Float, Device::Cpu));
    let cases: [Case; 3] = [
        (
            "elsewhere",
            vec![
                (
                    "lora_unet_joint_blocks_0_x_block_attn_qkv.lora_down.weight".into(),
                    t(&[2, 320]),
                ),
                (
                    "lora_unet_joint_blocks_0_x_block_attn_qkv.lora_up.weight".into(),
                    t(&[320, 2]),
                ),
            ],
            "fits none of this model's layers",
        ),
        (
            "wrong-shape",
            vec![
                (
                    "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight".into(),
                    t(&[2, 768]),
                ),
                (
                    "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight".into(),
                    t(&[768, 2]),
                ),
            ],
            "elements",
        ),
        (
            "half",
            vec![(
                "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight".into(),
                t(&[2, 128]),
            )],
            "lacks its down or up weight",
        ),
    ];
    for (name, tensors, expected) in cases {
        let path = dir.path().join(format!("{name}.safetensors"));
        write_tensors(&path, tensors).unwrap();
        let mut job = job(&location, "ddim", 2);
        job.lora_locations = vec![(Some(text_of(&path)), 1.0)];
        let error = engine.generate(&job, None, &mut hook()).unwrap_err();
        assert!(
            error.message.contains(expected),
            "{name}: {}",
            error.message
        );
    }
    let mut job = job(&location, "ddim", 2);
    job.lora_locations = vec![(None, 1.0)];
    let error = engine.generate(&job, None, &mut hook()).unwrap_err();
    assert_eq!(error.message, "a LoRA is not installed");
    let again = pixels(&finished(
        engine
            .generate(&self::job(&location, "ddim", 2), None, &mut hook())
            .unwrap(),
    ));
    assert_eq!(again, own, "failed LoRAs left the model as it was");
}
