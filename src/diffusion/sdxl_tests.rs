//! SDXL end to end on the tiny SDXL-shaped model (`tiny::write_sdxl_*`): its folder and its
//! single file give the same images, seeds reproduce, suspension changes nothing, image to image
//! and inpainting run, and the conditioning is SDXL's (two encoders side by side, a pooled
//! embedding, the size numbers, zeros for an empty negative prompt).

use tch::{Device, Kind, Tensor};

use super::engine::TchEngine;
use super::engine::tests::{Hook, finished, hook, job, with_init};
use super::pipeline::Pipeline;
use super::tiny::{write_sdxl_diffusers, write_sdxl_single_file};
use crate::worker::engine::{Engine, GrayImage, Outcome, Resume};

/// The tiny SDXL model as a folder and as a single file, in a temporary directory.
fn both_layouts() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    write_sdxl_diffusers(&folder).unwrap();
    let file = dir.path().join("xl.safetensors");
    write_sdxl_single_file(&file).unwrap();
    let (folder, file) = (
        folder.to_str().unwrap().to_owned(),
        file.to_str().unwrap().to_owned(),
    );
    (dir, folder, file)
}

#[test]
fn an_sdxl_model_gives_the_same_images_from_its_folder_and_its_single_file() {
    let (_dir, folder, file) = both_layouts();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let generate = |location: &str, seed: u64| {
        finished(
            engine
                .generate(&job(location, "euler", seed), None, &mut hook())
                .unwrap(),
        )
    };
    let pngs = generate(&folder, 9);
    assert_eq!(pngs.len(), 2);
    let decoded = image::load_from_memory(&pngs[0]).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 72));
    assert_eq!(generate(&file, 9), pngs, "both layouts hold the same model");
    assert_eq!(
        generate(&folder, 9),
        pngs,
        "the same seed gives the same images"
    );
    assert_ne!(
        generate(&folder, 10),
        pngs,
        "another seed gives other images"
    );

    let job = job(&folder, "dpmpp_2m_karras", 4);
    let whole = finished(engine.generate(&job, None, &mut hook()).unwrap());
    let mut suspending = Hook {
        suspend_at: Some(2),
        ..hook()
    };
    let Outcome::Suspended(state) = engine.generate(&job, None, &mut suspending).unwrap() else {
        panic!("expected a suspension")
    };
    engine
        .generate(&self::job(&file, "euler", 1), None, &mut hook())
        .unwrap();
    let resumed = finished(
        engine
            .generate(&job, Some(Resume::Held(state.held)), &mut suspending)
            .unwrap(),
    );
    assert_eq!(resumed, whole, "suspend and resume change nothing");
}

#[test]
fn sdxl_image_to_image_and_inpainting_run_in_both_layouts() {
    let (_dir, folder, file) = both_layouts();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let img2img = |location: &str| {
        let job = with_init(job(location, "euler", 9), 0.5, 1);
        let mut steps = hook();
        let pngs = finished(engine.generate(&job, None, &mut steps).unwrap());
        assert_eq!(steps.seen.len(), 3, "half of 6 steps");
        pngs
    };
    let from_folder = img2img(&folder);
    assert_eq!(img2img(&file), from_folder);
    let plain = finished(
        engine
            .generate(&job(&folder, "euler", 9), None, &mut hook())
            .unwrap(),
    );
    assert_ne!(from_folder, plain, "the init image matters");

    let mut masked = with_init(job(&folder, "euler", 9), 0.8, 1);
    let (width, height) = (masked.params.width, masked.params.height);
    let init = masked.init_image.clone().unwrap();
    masked.params.mask_image_id = Some(uuid::Uuid::from_u128(99));
    // Repaint the right half; keep the left.
    masked.mask = Some(GrayImage {
        width,
        height,
        luma: (0..width * height)
            .map(|i| if i % width >= width / 2 { 255 } else { 0 })
            .collect(),
    });
    let pngs = finished(engine.generate(&masked, None, &mut hook()).unwrap());
    let image = image::load_from_memory(&pngs[0]).unwrap().to_rgb8();
    for y in 0..height {
        for x in 0..width / 2 - 8 {
            let i = ((y * width + x) * 3) as usize;
            assert_eq!(
                image.get_pixel(x, y).0,
                [init.rgb[i], init.rgb[i + 1], init.rgb[i + 2]],
                "the kept half is the init image's at ({x}, {y})"
            );
        }
    }
}

#[test]
fn sdxl_conditions_on_both_encoders_the_pooled_embedding_and_the_size() {
    let (_dir, folder, _file) = both_layouts();
    let pipeline = Pipeline::load(folder.as_ref(), Device::Cpu, Kind::Float).unwrap();
    let mut params = job(&folder, "euler", 9).params;
    params.negative_prompt = String::new();
    let (context, added, _) = pipeline.conditioning_for_tests(&params);
    assert_eq!(
        context.size(),
        [4, 77, 128],
        "2 images, unconditional first; 64 + 64 wide"
    );
    let (pooled, numbers) = added.expect("SDXL has added conditioning");
    assert_eq!(pooled.size(), [4, 32]);
    let zero = |t: &Tensor| t.abs().max().double_value(&[]) == 0.0;
    assert!(zero(&context.narrow(0, 0, 2)) && zero(&pooled.narrow(0, 0, 2)));
    assert!(!zero(&context.narrow(0, 2, 2)) && !zero(&pooled.narrow(0, 2, 2)));
    assert_eq!(
        Vec::<f64>::try_from(numbers.get(3).to_kind(Kind::Double)).unwrap(),
        [72.0, 64.0, 0.0, 0.0, 72.0, 64.0],
        "height, width, crop top and left, target height and width"
    );
    params.negative_prompt = "blurry".into();
    let (context, added, _) = pipeline.conditioning_for_tests(&params);
    let (pooled, _) = added.unwrap();
    assert!(!zero(&context.narrow(0, 0, 2)) && !zero(&pooled.narrow(0, 0, 2)));
}

/// Writes one LoRA for the tiny SDXL model twice, with the same values: in kohya's SDXL naming
/// (UNet layers by their LDM module paths, `lora_te1_`, `lora_te2_`) and in diffusers' naming.
/// It adapts every UNet attention query and cross-attention key, a 3x3 resnet convolution, the
/// upsampler of an up block with attention, and a layer of each text encoder.
fn write_sdxl_loras(model: &std::path::Path, kohya: &std::path::Path, diffusers: &std::path::Path) {
    use super::weights::Weights;
    const RANK: i64 = 4;
    let load = |part: &str, file: &str| {
        let path = model.join(part).join(file);
        Weights::load(&path, |n| Some(n.to_owned()), Device::Cpu, Kind::Float).unwrap()
    };
    let unet = load("unet", "diffusion_pytorch_model.safetensors");
    let text = load("text_encoder", "model.safetensors");
    let text2 = load("text_encoder_2", "model.safetensors");
    let mut layers = Vec::new();
    for name in unet.names() {
        let attention = name.ends_with("attn1.to_q.weight") || name.ends_with("attn2.to_k.weight");
        let conv = name == "down_blocks.0.resnets.0.conv1.weight"
            || name == "up_blocks.0.upsamplers.0.conv.weight";
        if attention || conv {
            let attention = |block: usize| {
                let prefix = format!("up_blocks.{block}.attentions.");
                unet.names_with_prefix(&prefix).next().is_some()
            };
            let ldm = super::ldm::unet_ldm_name(name, 1, attention).unwrap();
            layers.push((
                "unet",
                "lora_unet_",
                name.to_owned(),
                ldm,
                unet.shape(name).unwrap(),
            ));
        }
    }
    for (weights, part, kohya_part, name) in [
        (
            &text,
            "text_encoder",
            "lora_te1_",
            "text_model.encoder.layers.0.self_attn.q_proj.weight",
        ),
        (
            &text2,
            "text_encoder_2",
            "lora_te2_",
            "text_model.encoder.layers.1.mlp.fc1.weight",
        ),
    ] {
        layers.push((
            part,
            kohya_part,
            name.to_owned(),
            name.to_owned(),
            weights.shape(name).unwrap(),
        ));
    }
    let mut shapes = std::collections::BTreeMap::new();
    for (part, _, name, _, shape) in &layers {
        let module = name.strip_suffix(".weight").unwrap();
        let down = [&[RANK, shape[1]][..], &shape[2..]].concat();
        let up = [&[shape[0], RANK][..], &vec![1; shape.len() - 2][..]].concat();
        shapes.insert(format!("{part}.{module}.lora_A.weight"), down);
        shapes.insert(format!("{part}.{module}.lora_B.weight"), up);
    }
    let values = super::tiny::formula_weights(&shapes, 0.3, false);
    let mut kohya_tensors = Vec::new();
    let mut diffusers_tensors = Vec::new();
    for (part, kohya_part, name, kohya_name, _) in &layers {
        let module = name.strip_suffix(".weight").unwrap();
        let key = format!(
            "{kohya_part}{}",
            kohya_name
                .strip_suffix(".weight")
                .unwrap()
                .replace('.', "_")
        );
        for (role, kohya_role) in [("lora_A", "lora_down"), ("lora_B", "lora_up")] {
            let name = format!("{part}.{module}.{role}.weight");
            let value = values.get(&name, &shapes[&name]).unwrap();
            kohya_tensors.push((format!("{key}.{kohya_role}.weight"), value.copy()));
            diffusers_tensors.push((name, value));
        }
        kohya_tensors.push((format!("{key}.alpha"), Tensor::from(RANK as f32)));
    }
    super::tiny::write_tensors(kohya, kohya_tensors).unwrap();
    super::tiny::write_tensors(diffusers, diffusers_tensors).unwrap();
}

#[test]
fn sdxl_loras_in_kohya_and_diffusers_naming_change_the_images_alike_and_are_undone() {
    let (dir, folder, file) = both_layouts();
    let kohya = dir.path().join("kohya.safetensors");
    let diffusers = dir.path().join("diffusers.safetensors");
    write_sdxl_loras(folder.as_ref(), &kohya, &diffusers);
    let probed = crate::models::probe::probe(&kohya).unwrap();
    assert_eq!(probed.kind, crate::models::model::ModelType::Lora);
    assert_eq!(
        probed.base,
        crate::models::model::Base::Sdxl,
        "it adapts a second encoder"
    );
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let generate = |location: &str, lora: Option<&std::path::Path>| {
        let mut job = job(location, "euler", 9);
        job.lora_locations = lora
            .map(|l| (Some(l.to_str().unwrap().to_owned()), 0.8))
            .into_iter()
            .collect();
        finished(engine.generate(&job, None, &mut hook()).unwrap())
    };
    let plain = generate(&folder, None);
    let adapted = generate(&folder, Some(&kohya));
    assert_ne!(adapted, plain, "the LoRA changes the images");
    assert_eq!(
        generate(&folder, Some(&diffusers)),
        adapted,
        "both namings adapt the same layers"
    );
    assert_eq!(
        generate(&file, Some(&kohya)),
        adapted,
        "on the single file too"
    );
    assert_eq!(
        generate(&folder, None),
        plain,
        "and the model is as loaded again"
    );
}

#[test]
fn mismatched_sdxl_parts_fail_to_load_with_a_clear_error() {
    let (dir, folder, _file) = both_layouts();
    let folder = std::path::PathBuf::from(folder);
    let error = |path: &std::path::Path| match Pipeline::load(path, Device::Cpu, Kind::Float) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(error) => format!("{error:#}"),
    };
    // The second encoder without its projection: its pooled width no longer fits the UNet.
    let second = folder.join("text_encoder_2/model.safetensors");
    let weights = super::weights::Weights::load(
        &second,
        |n| (n != "text_projection.weight").then(|| n.to_owned()),
        Device::Cpu,
        Kind::Float,
    )
    .unwrap();
    let tensors = weights
        .names()
        .map(|n| {
            (
                n.to_owned(),
                weights.get(n, &weights.shape(n).unwrap()).unwrap(),
            )
        })
        .collect();
    super::tiny::write_tensors(&second, tensors).unwrap();
    assert!(
        error(&folder).contains("added conditioning"),
        "{}",
        error(&folder)
    );
    // Without a second encoder, the SDXL UNet is of another family than its text encoder.
    std::fs::remove_dir_all(folder.join("text_encoder_2")).unwrap();
    assert!(
        error(&folder).contains("different families"),
        "{}",
        error(&folder)
    );
    drop(dir);
}

#[test]
fn clip_skip_changes_sd_images_and_is_refused_where_it_cannot_apply() {
    use crate::diffusion::tiny::write_tiny_diffusers;
    let (dir, xl, _file) = both_layouts();
    let sd = dir.path().join("sd");
    std::fs::create_dir_all(&sd).unwrap();
    write_tiny_diffusers(&sd).unwrap();
    let sd = sd.to_str().unwrap();
    let engine = TchEngine::new(Device::Cpu, 1 << 30);
    let with_skip = |location: &str, skip: u32| {
        let mut job = job(location, "euler", 9);
        job.params.clip_skip = skip;
        engine.generate(&job, None, &mut hook())
    };
    let plain = finished(with_skip(sd, 1).unwrap());
    assert_ne!(
        finished(with_skip(sd, 2).unwrap()),
        plain,
        "the penultimate layer differs"
    );
    let error = with_skip(sd, 3).unwrap_err();
    assert!(error.message.contains("leaves none"), "{}", error.message);
    let error = with_skip(&xl, 2).unwrap_err();
    assert!(
        error.message.contains("SDXL reads fixed layers"),
        "{}",
        error.message
    );
}
