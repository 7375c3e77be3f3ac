//! Text to image and image to image: a loaded model (text encoder, UNet, VAE decoder and
//! encoder) and a run that advances one denoising step at a time with classifier-free guidance,
//! so that a worker can report progress, stop, or suspend it between steps. A run's state
//! (latents, sampler state, step) is all that a suspended job keeps. Image to image encodes the
//! init image, noises it to the level of step `steps - floor(steps * strength)` and runs from
//! there, as diffusers' img2img pipeline does. SDXL is detected by its second text encoder;
//! what the UNet is conditioned on, for every family, is `conditioning`'s.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::Path;

use anyhow::Context;
use tch::{Device, Kind, Tensor};

use super::autoencoder::Autoencoder;
use super::clip::ClipTextEncoder;
use super::conditioning::{Conditioning, TextEncoders};
use super::inpaint::Inpaint;
use super::ldm;
use super::lora::{self, Lora, Part};
use super::open_clip;
use super::sampler::{SamplerState, step_noise, with_seed};
use super::schedule::{Plan, Sampler, Schedule};
use super::seamless;
use super::tiled_decode;
use super::unet::{Added, Heads, UNet};
use super::weights::Weights;
use crate::queue::model::GenerationParams;
use crate::worker::engine::{GrayImage, RgbImage};

/// SD 1.x and 2.x's latent scaling factor.
const LATENT_SCALE: f64 = 0.18215;
/// SDXL's.
const LATENT_SCALE_XL: f64 = 0.13025;

/// What the UNet predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prediction {
    /// The noise (SD 1.x, SD 2.x base).
    Epsilon,
    /// The velocity (SD 2.x's 768 models).
    V,
}

impl Prediction {
    /// A diffusers folder says it in `scheduler/scheduler_config.json`; epsilon if it does not.
    fn of_diffusers_folder(dir: &Path) -> Self {
        let config = std::fs::read_to_string(dir.join("scheduler/scheduler_config.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        match config.as_ref().and_then(|c| c["prediction_type"].as_str()) {
            Some("v_prediction") => Self::V,
            _ => Self::Epsilon,
        }
    }
}

/// A model ready to generate.
pub struct Pipeline {
    text: TextEncoders,
    unet: UNet,
    /// The text encoders' and the UNet's weights, sharing storage with the modules (LoRA
    /// adapters change them in place, through [`Pipeline::apply`]).
    text_weights: Weights,
    text2_weights: Option<Weights>,
    unet_weights: Weights,
    vae: Autoencoder,
    prediction: Prediction,
    device: Device,
    kind: Kind,
    bytes: i64,
}

/// LoRA adapters applied to a pipeline: dropping it copies the saved original weights back, so
/// the model is exactly as loaded again.
pub struct Patched {
    /// (the weight, sharing the model's storage; its original values).
    saved: Vec<(Tensor, Tensor)>,
}

impl Drop for Patched {
    fn drop(&mut self) {
        let _guard = tch::no_grad_guard();
        for (mut weight, original) in self.saved.drain(..) {
            weight.copy_(&original);
        }
    }
}

/// One generation in progress.
pub struct Run {
    /// The latents, `[images, 4, h/8, w/8]`.
    pub latents: Tensor,
    /// The sampler's state (its `step` is the number of steps done).
    pub state: SamplerState,
    plan: Plan,
    context: Tensor,
    /// SDXL's pooled embeddings and size numbers, `[2 * images, …]` like `context`.
    added: Option<(Tensor, Tensor)>,
    params: GenerationParams,
    /// Whether the prompt was cut to `prompt::MAX_CHUNKS` chunks of 75 tokens.
    pub truncated: bool,
    /// The step the run started at (0 for text to image).
    first: usize,
    /// Inpainting's mask and init image, when a mask was given.
    inpaint: Option<Inpaint>,
}

impl Pipeline {
    /// The device the pipeline runs on.
    pub fn device(&self) -> Device {
        self.device
    }
}

impl Run {
    /// The step the run started at and the plan's length.
    pub fn span(&self) -> (usize, usize) {
        (self.first, self.plan.len())
    }
}

/// The dtype of a model's own VAE: SDXL's overflows in f16, so it is kept in f32 (diffusers'
/// `force_upcast`).
fn vae_kind(xl: bool, kind: Kind) -> Kind {
    if xl { Kind::Float } else { kind }
}

fn component(dir: &Path, part: &str) -> anyhow::Result<std::path::PathBuf> {
    weights_in(&dir.join(part))
}

/// The weights file of a diffusers component folder (fp16 variants accepted).
pub(super) fn weights_in(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    [
        "diffusion_pytorch_model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "model.safetensors",
        "model.fp16.safetensors",
    ]
    .iter()
    .map(|name| dir.join(name))
    .find(|p| p.is_file())
    .with_context(|| format!("{} has no .safetensors weights", dir.display()))
}

impl Pipeline {
    /// Loads a diffusers folder (`text_encoder/`, `unet/`, `vae/`) in `kind` onto `device`.
    pub fn load_diffusers(dir: &Path, device: Device, kind: Kind) -> anyhow::Result<Self> {
        let keep = |name: &str| Some(name.to_owned());
        let text = Weights::load(&component(dir, "text_encoder")?, keep, device, kind)?;
        let text2 = if dir.join("text_encoder_2").is_dir() {
            Some(Weights::load(
                &component(dir, "text_encoder_2")?,
                keep,
                device,
                kind,
            )?)
        } else {
            None
        };
        let unet = Weights::load(&component(dir, "unet")?, keep, device, kind)?;
        let vae_kind = vae_kind(text2.is_some(), kind);
        let vae = Weights::load(&component(dir, "vae")?, keep, device, vae_kind)?;
        let prediction = Prediction::of_diffusers_folder(dir);
        Self::assemble([Some(text), text2], unet, &vae, prediction, (device, kind))
    }

    /// Loads a single-file checkpoint in the original LDM layout (`model.diffusion_model.*`,
    /// `first_stage_model.*`, `cond_stage_model.transformer.*`), adapting its names.
    pub fn load_single_file(path: &Path, device: Device, kind: Kind) -> anyhow::Result<Self> {
        let header = crate::models::safetensors::read_header(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let layers = ldm::layers_per_block(header.keys().map(String::as_str))
            .context("the checkpoint's UNet has no downsampler, so its layout is unknown")?;
        let levels = ldm::vae_levels(header.keys());
        let names = || header.keys().map(String::as_str);
        let (text, prediction) = if open_clip::is_open_clip(open_clip::SDXL, names()) {
            // SDXL: CLIP ViT-L in transformers' naming, then OpenCLIP ViT-bigG.
            let clip = |n: &str| {
                n.strip_prefix(open_clip::SDXL_CLIP)
                    .filter(|rest| rest.starts_with("text_model."))
                    .map(str::to_owned)
            };
            let first = Weights::load(path, clip, device, kind)?;
            let mut second = Weights::load(path, open_clip::sdxl_name, device, kind)?;
            open_clip::finish(&mut second);
            ([Some(first), Some(second)], Prediction::Epsilon)
        } else if open_clip::is_open_clip(open_clip::SD2, names()) {
            // SD 2.x checkpoints carry OpenCLIP's text encoder, used at its penultimate layer;
            // they are taken as v-predicting, like the 768 models most SD 2.x single files are.
            let keep = open_clip::blocks(open_clip::SD2, names()).saturating_sub(1);
            let rename = |n: &str| open_clip::name(open_clip::SD2, n, keep);
            let mut text = Weights::load(path, rename, device, kind)?;
            open_clip::finish(&mut text);
            ([Some(text), None], Prediction::V)
        } else {
            let text = Weights::load(path, super::weights::clip_name, device, kind)?;
            ([Some(text), None], Prediction::Epsilon)
        };
        let unet = Weights::load(path, |n| ldm::unet_name(n, layers), device, kind)?;
        let vae_kind = vae_kind(text[1].is_some(), kind);
        let mut vae = Weights::load(path, |n| ldm::vae_name(n, levels), device, vae_kind)?;
        vae.squeeze_convolutions(ldm::is_vae_attention_projection);
        Self::assemble(text, unet, &vae, prediction, (device, kind))
    }

    /// Builds the pipeline from its weights: `text` is the text encoder and, for SDXL, the
    /// second one.
    fn assemble(
        [text, text2]: [Option<Weights>; 2],
        unet: Weights,
        vae: &Weights,
        prediction: Prediction,
        (device, kind): (Device, Kind),
    ) -> anyhow::Result<Self> {
        let text = text.context("the model has no text encoder")?;
        let bytes = text.bytes() + text2.as_ref().map_or(0, Weights::bytes) + unet.bytes();
        let bytes = bytes + vae.bytes();
        let first = ClipTextEncoder::new(&text).context("text encoder")?;
        let (encoders, context) = match &text2 {
            None => {
                let width = first.config().width;
                (TextEncoders::One(first), width)
            }
            Some(weights) => {
                let second = ClipTextEncoder::new(weights).context("second text encoder")?;
                let width = first.config().width + second.config().width;
                (TextEncoders::Two(first, Box::new(second)), width)
            }
        };
        let unet_module = UNet::new(&unet, Heads::for_context(context)).context("UNet")?;
        if let TextEncoders::Two(_, second) = &encoders {
            unet_module.check_pooled_width(second.pooled_width())?;
        }
        anyhow::ensure!(
            unet_module.wants_added() == text2.is_some(),
            "the UNet and the text encoders are of different families (one or two encoders, \
             with or without SDXL's added conditioning)"
        );
        Ok(Self {
            text: encoders,
            unet: unet_module,
            text_weights: text,
            text2_weights: text2,
            unet_weights: unet,
            vae: Autoencoder::from_weights(vae)?,
            prediction,
            device,
            kind,
            bytes,
        })
    }

    /// A run's conditioning (context, SDXL's added conditioning, whether the prompt was cut),
    /// for the tests.
    #[cfg(test)]
    pub(super) fn conditioning_for_tests(
        &self,
        params: &GenerationParams,
    ) -> (Tensor, Option<(Tensor, Tensor)>, bool) {
        let c = self.text.conditioning(params, self.device);
        (c.context, c.added, c.truncated)
    }

    /// The factor between the VAE's latents and the UNet's.
    fn latent_scale(&self) -> f64 {
        if self.text.is_xl() {
            LATENT_SCALE_XL
        } else {
            LATENT_SCALE
        }
    }

    /// Loads a diffusers folder or a single-file checkpoint, whichever `path` is.
    pub fn load(path: &Path, device: Device, kind: Kind) -> anyhow::Result<Self> {
        if path.is_dir() {
            Self::load_diffusers(path, device, kind)
        } else {
            Self::load_single_file(path, device, kind)
        }
    }

    /// What the UNet predicts.
    pub fn prediction(&self) -> Prediction {
        self.prediction
    }

    /// Bytes of weights held.
    pub fn bytes(&self) -> i64 {
        self.bytes
    }

    /// Applies LoRA adapters (each with its strength) to the weights in place, until the
    /// returned guard is dropped. Fails, changing nothing, when an adapter fits none of the
    /// model's layers or a layer's shape differs from the model's.
    pub fn apply(&self, loras: &[(&Lora, f64)]) -> anyhow::Result<Patched> {
        let mut patched = Patched { saved: Vec::new() };
        if loras.is_empty() {
            return Ok(patched);
        }
        let _guard = tch::no_grad_guard();
        let mut index: HashMap<(Part, String), (&Weights, &str)> = HashMap::new();
        let parts = [
            (Part::Text, Some(&self.text_weights)),
            (Part::Text2, self.text2_weights.as_ref()),
            (Part::Unet, Some(&self.unet_weights)),
        ];
        // kohya's SDXL files name UNet layers by their LDM module paths.
        let layers = ldm::count_numbered(self.unet_weights.names(), "down_blocks.0.resnets.");
        let up_has_attention = |block: usize| {
            let prefix = format!("up_blocks.{block}.attentions.");
            self.unet_weights
                .names_with_prefix(&prefix)
                .next()
                .is_some()
        };
        for (part, weights) in parts.into_iter().filter_map(|(p, w)| Some((p, w?))) {
            for name in weights.names() {
                let ldm = match part {
                    Part::Unet => ldm::unet_ldm_name(name, layers, up_has_attention),
                    _ => None,
                };
                let keys = [Some(name), ldm.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter_map(lora::keys_of)
                    .flatten();
                for key in keys {
                    index.insert((part, key), (weights, name));
                }
            }
        }
        let mut saved = HashSet::new();
        for (adapter, strength) in loras {
            let mut missed = 0;
            for layer in adapter.layers() {
                let Some((weights, name)) = index.get(&(layer.part, layer.key.clone())) else {
                    missed += 1;
                    continue;
                };
                let shape = weights.shape(name).unwrap_or_default();
                let mut target = weights.get(name, &shape)?;
                let delta = layer.delta(*strength, &target)?;
                if saved.insert(*name) {
                    patched.saved.push((target.shallow_clone(), target.copy()));
                }
                let _ = target.f_add_(&delta.to_kind(target.kind()))?;
            }
            if missed == adapter.layers().len() {
                anyhow::bail!("the LoRA fits none of this model's layers (another family?)");
            }
            if missed > 0 {
                tracing::warn!(missed, "some LoRA layers match no layer of the model");
            }
        }
        Ok(patched)
    }

    /// Starts a run: encodes both prompts and draws the initial noise from the seed; with an
    /// init image, noises its latents (encoded by `vae`, else the model's own VAE) to the
    /// starting step that `params.strength` gives; with a mask too, inpaints (`inpaint`).
    pub fn start(
        &self,
        params: &GenerationParams,
        init: Option<&RgbImage>,
        mask: Option<&GrayImage>,
        vae: Option<&Autoencoder>,
    ) -> anyhow::Result<Run> {
        let _guard = tch::no_grad_guard();
        let sampler = Sampler::parse(&params.sampler).context("unknown sampler")?;
        self.text.check_clip_skip(params.clip_skip)?;
        let plan = Plan::new(
            &Schedule::stable_diffusion(),
            sampler,
            params.steps as usize,
        );
        let images = i64::from(params.num_images);
        let Conditioning {
            context,
            added,
            truncated,
        } = self.text.conditioning(params, self.device);
        let seed = params.seed.unwrap_or(0);
        let shape = [
            images,
            4,
            i64::from(params.height / 8),
            i64::from(params.width / 8),
        ];
        let noise = with_seed(i64::from_le_bytes(seed.to_le_bytes()) & i64::MAX, || {
            Tensor::randn(shape, (Kind::Float, self.device))
        });
        let mut inpaint = None;
        let (latents, first) = match init {
            None => (noise * plan.init_noise_sigma, 0),
            Some(image) => {
                let first = first_step(plan.len(), params.strength());
                let clean = self
                    .encode_image(image, vae.unwrap_or(&self.vae), axes(params))?
                    .repeat([images, 1, 1, 1]);
                anyhow::ensure!(
                    clean.size() == shape,
                    "the init image is {}x{}, not the requested {}x{}",
                    image.width,
                    image.height,
                    params.width,
                    params.height
                );
                if let Some(mask) = mask {
                    inpaint = Some(Inpaint::new(&clean, &noise, image, mask, params.mask_blur)?);
                }
                (plan.noised(&clean, &noise, first), first)
            }
        };
        Ok(Run {
            latents: latents.to_kind(self.kind),
            state: SamplerState::starting_at(first),
            plan,
            context,
            added,
            params: params.clone(),
            truncated,
            first,
            inpaint,
        })
    }

    /// Scaled latents `[1, 4, h/8, w/8]` (f32) of an RGB8 image.
    fn encode_image(
        &self,
        image: &RgbImage,
        vae: &Autoencoder,
        axes: seamless::Axes,
    ) -> anyhow::Result<Tensor> {
        let encoder = vae
            .encoder()
            .context("this VAE has no encoder, so it cannot start from an image")?;
        let (h, w) = (i64::from(image.height), i64::from(image.width));
        anyhow::ensure!(
            image.rgb.len() as i64 == h * w * 3,
            "the init image's pixels are incomplete"
        );
        let pixels = Tensor::from_slice(&image.rgb)
            .view([h, w, 3])
            .permute([2, 0, 1])
            .unsqueeze(0)
            .to_device(self.device)
            .to_kind(Kind::Float)
            / 127.5
            - 1.0;
        let latents = seamless::with(axes, || encoder.encode(&pixels.to_kind(vae.kind())));
        let latents = latents * self.latent_scale();
        Ok(latents.to_kind(Kind::Float))
    }

    /// Steps done and steps in all, counted from where the run started.
    pub fn progress(&self, run: &Run) -> (usize, usize) {
        (run.state.step - run.first, run.plan.len() - run.first)
    }

    /// Runs the next denoising step of `run`.
    pub fn step(&self, run: &mut Run) {
        let _guard = tch::no_grad_guard();
        let i = run.state.step;
        let input = run.plan.scale_input(&run.latents, i);
        let added = run
            .added
            .as_ref()
            .map(|(pooled, time_ids)| Added { pooled, time_ids });
        let eps = seamless::with(axes(&run.params), || {
            self.unet.forward(
                &Tensor::cat(&[&input, &input], 0),
                run.plan.timesteps[i],
                &run.context,
                added.as_ref(),
            )
        });
        let parts = eps.chunk(2, 0);
        let guided = &parts[0] + (&parts[1] - &parts[0]) * run.params.cfg_scale;
        let guided = match self.prediction {
            Prediction::Epsilon => guided,
            Prediction::V => run.plan.eps_from_v(&input, &guided, i),
        };
        let seed = run.params.seed.unwrap_or(0);
        let (device, shape) = (self.device, run.latents.size());
        run.latents = run
            .plan
            .step(&mut run.state, &run.latents, &guided, || {
                step_noise(seed, i, &shape, device)
            })
            .to_kind(self.kind);
        if let Some(inpaint) = &run.inpaint {
            run.latents = inpaint.blend(&run.plan, &run.latents, i + 1);
        }
    }

    /// Whether every step is done.
    pub fn done(&self, run: &Run) -> bool {
        run.state.step >= run.plan.len()
    }

    /// Decodes the latents into RGB8 images, `(width, height, pixels)`, with `vae` or else the
    /// model's own VAE: one image at a time, and images above a megapixel in tiles (unless they
    /// tile seamlessly, which needs the whole image), so the decoder's memory does not grow with
    /// the batch or the size.
    pub fn decode(&self, run: &Run, vae: Option<&Autoencoder>) -> Vec<(u32, u32, Vec<u8>)> {
        let _guard = tch::no_grad_guard();
        let vae = vae.unwrap_or(&self.vae);
        let latents = &run.latents / self.latent_scale();
        let (n, _, h, w) = latents.size4().expect("latents are [n, c, h, w]");
        let seamless = run.params.seamless_x || run.params.seamless_y;
        let mut images = Vec::with_capacity(n as usize);
        for i in 0..n {
            let one = latents.narrow(0, i, 1);
            let pixels = if tiled_decode::needed(h, w) && !seamless {
                tiled_decode::decode(&one, |tile| vae.decode(tile))
            } else {
                seamless::with(axes(&run.params), || vae.decode(&one))
            };
            let pixels = ((pixels.to_kind(Kind::Float) + 1.0) * 127.5)
                .clamp(0.0, 255.0)
                .round()
                .to_kind(Kind::Uint8)
                .permute([0, 2, 3, 1])
                .to_device(Device::Cpu);
            let pixels = match &run.inpaint {
                Some(inpaint) => inpaint.composite(&pixels),
                None => pixels,
            };
            let (_, ph, pw, _) = pixels.size4().expect("images are [1, h, w, 3]");
            let data = Vec::<u8>::try_from(pixels.get(0).flatten(0, -1)).unwrap_or_default();
            images.push((pw as u32, ph as u32, data));
        }
        images
    }
}

/// The seamless axes a job asks for.
fn axes(params: &GenerationParams) -> seamless::Axes {
    seamless::Axes {
        x: params.seamless_x,
        y: params.seamless_y,
    }
}

/// The step image to image starts at: diffusers' `steps - floor(steps * strength)`, but always
/// leaving at least one step to run.
pub fn first_step(steps: usize, strength: f64) -> usize {
    let run = ((steps as f64 * strength).floor() as usize).clamp(1, steps.max(1));
    steps.saturating_sub(run)
}

/// A cheap preview of the first image's latents: a fixed linear map from the four latent channels
/// to RGB (the usual SD 1.x approximation), at latent resolution.
pub fn preview(latents: &Tensor) -> Option<(u32, u32, Vec<u8>)> {
    let _guard = tch::no_grad_guard();
    let factors = Tensor::from_slice(&[
        0.298f32, 0.207, 0.208, 0.187, 0.286, 0.173, -0.158, 0.189, 0.264, -0.184, -0.271, -0.473,
    ])
    .reshape([4, 3])
    .to_device(latents.device());
    let first = latents.get(0).to_kind(Kind::Float).permute([1, 2, 0]);
    let rgb = ((first.matmul(&factors) + 1.0) * 127.5)
        .clamp(0.0, 255.0)
        .to_kind(Kind::Uint8);
    let (h, w, _) = rgb.size3().ok()?;
    let data = Vec::<u8>::try_from(rgb.to_device(Device::Cpu).flatten(0, -1)).ok()?;
    Some((w as u32, h as u32, data))
}

/// A PNG of RGB8 `pixels` carrying the generation parameters in an `atelier` text chunk.
pub fn png(
    width: u32,
    height: u32,
    pixels: &[u8],
    params: &GenerationParams,
) -> anyhow::Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.add_text_chunk("atelier".into(), serde_json::to_string(params)?)?;
        let mut writer = encoder.write_header()?;
        writer.write_image_data(pixels)?;
    }
    Ok(out.into_inner())
}
