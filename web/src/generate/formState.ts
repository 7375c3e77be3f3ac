// The Generate form's values: defaults (the app's and a picked model's), restoring saved UI state
// safely, recalling an image's parameters, and building the request.
import { SAMPLERS, type GenerationParams, type LoraChoice, type Model } from '../api/types';
import type { UiState } from '../api/uiState';
import { nativeSize, takesClipSkip } from '../models/family';

/** The key under which the form is kept in the server-side UI state. */
export const STATE_KEY = 'generate';

/** The request's plain fields, edited as they are sent. */
type PlainParams = Omit<GenerationParams, 'seed' | 'board_id' | 'init_image_id' | 'mask_image_id' | 'mask_blur' | 'strength' | 'vae' | 'clip_skip' | 'seamless_x' | 'seamless_y' | 'loras'>;

export interface GenerateForm extends PlainParams {
  seedMode: 'random' | 'fixed';
  seed: number;
  /** '' is Uncategorized. */
  board_id: string;
  /** '' is none (text to image). */
  init_image_id: string;
  /** '' is none; used only with an init image (white: repainted, black: kept). */
  mask_image_id: string;
  /** Pixels over which the repainted region fades into the kept one; used only with a mask. */
  mask_blur: number;
  /** Used only with an init image. */
  strength: number;
  /** '' is the model's own VAE. */
  vae: string;
  /** 1 is the text encoder's last layer; sent only above 1 and for a model that takes it (not SDXL). */
  clip_skip: number;
  /** Seamless tiling left to right; sent only when true (any model family). */
  seamless_x: boolean;
  /** Seamless tiling top to bottom; sent only when true (any model family). */
  seamless_y: boolean;
  /** In the order they are applied; [] is none. */
  loras: LoraChoice[];
}

/** How many LoRAs one job may use, and their weight input's range and step (as the server takes them). */
export const LORA = { max: 8, minWeight: -4, maxWeight: 4, step: 0.05, defaultWeight: 1 } as const;

/** The strength slider's range and step (the server takes 0 < s <= 1). */
export const STRENGTH = { min: 0.05, max: 1, step: 0.05, default: 0.75 } as const;

/** The mask blur's range in pixels (as the server takes it) and its value for a new mask. */
export const MASK_BLUR = { min: 0, max: 64, default: 8 } as const;

/** The CLIP skip's range (as the server takes it); 1, the default, skips nothing. */
export const CLIP_SKIP = { min: 1, max: 4, default: 1 } as const;

export const DEFAULT_FORM: GenerateForm = {
  model: '',
  prompt: '',
  negative_prompt: '',
  width: 512,
  height: 512,
  steps: 30,
  cfg_scale: 7.5,
  sampler: 'euler',
  seedMode: 'random',
  seed: 0,
  num_images: 1,
  board_id: '',
  init_image_id: '',
  mask_image_id: '',
  mask_blur: MASK_BLUR.default,
  strength: STRENGTH.default,
  vae: '',
  clip_skip: CLIP_SKIP.default,
  seamless_x: false,
  seamless_y: false,
  loras: [],
};

function int(value: unknown, min: number, max: number, fallback: number, step = 1): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  const n = Math.round(value);
  if (n < min || n > max || n % step !== 0) return fallback;
  return n;
}

/** A strength snapped to the slider's grid, or the fallback when it is not a number in range. */
export function snapStrength(value: unknown, fallback: number = STRENGTH.default): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  if (value < STRENGTH.min || value > STRENGTH.max) return fallback;
  return Number((Math.round(value / STRENGTH.step) * STRENGTH.step).toFixed(2));
}

function str(value: unknown, fallback: string, max = 4000): string {
  return typeof value === 'string' && value.length <= max ? value : fallback;
}

/** Whether a LoRA weight is one the server takes. */
export function validWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= LORA.minWeight && value <= LORA.maxWeight;
}

/** The well-formed LoRA choices in a saved or recorded list: named, weighted in range, each once, at most 8. */
export function cleanLoras(value: unknown): LoraChoice[] {
  if (!Array.isArray(value)) return [];
  const loras: LoraChoice[] = [];
  for (const entry of value) {
    if (!entry || typeof entry !== 'object') continue;
    const { name, weight } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || !name.trim() || name.length > 200 || !validWeight(weight)) continue;
    if (loras.some((l) => l.name === name)) continue;
    loras.push({ name, weight });
    if (loras.length === LORA.max) break;
  }
  return loras;
}

/** Rebuilds the form from saved state, keeping only well-formed values (anything else: default). */
export function restoreForm(state: UiState | null | undefined): GenerateForm {
  const saved = state?.[STATE_KEY];
  if (!saved || typeof saved !== 'object') return { ...DEFAULT_FORM };
  const s = saved as Record<string, unknown>;
  const cfg = typeof s.cfg_scale === 'number' && s.cfg_scale >= 0 && s.cfg_scale <= 30 ? s.cfg_scale : DEFAULT_FORM.cfg_scale;
  const init = str(s.init_image_id, '', 64);
  return {
    model: str(s.model, DEFAULT_FORM.model, 200),
    prompt: str(s.prompt, ''),
    negative_prompt: str(s.negative_prompt, ''),
    width: int(s.width, 64, 2048, DEFAULT_FORM.width, 8),
    height: int(s.height, 64, 2048, DEFAULT_FORM.height, 8),
    steps: int(s.steps, 1, 150, DEFAULT_FORM.steps),
    cfg_scale: cfg,
    sampler: (SAMPLERS as readonly string[]).includes(s.sampler as string) ? (s.sampler as string) : DEFAULT_FORM.sampler,
    seedMode: s.seedMode === 'fixed' ? 'fixed' : 'random',
    seed: int(s.seed, 0, 2 ** 32 - 1, 0),
    num_images: int(s.num_images, 1, 8, 1),
    board_id: str(s.board_id, '', 64),
    init_image_id: init,
    // A mask means something only over its init image.
    mask_image_id: init ? str(s.mask_image_id, '', 64) : '',
    mask_blur: int(s.mask_blur, MASK_BLUR.min, MASK_BLUR.max, MASK_BLUR.default),
    strength: snapStrength(s.strength),
    vae: str(s.vae, '', 200),
    clip_skip: int(s.clip_skip, CLIP_SKIP.min, CLIP_SKIP.max, CLIP_SKIP.default),
    seamless_x: s.seamless_x === true,
    seamless_y: s.seamless_y === true,
    loras: cleanLoras(s.loras),
  };
}

/**
 * The form after "Use these parameters", the image's model when it is no longer installed, its
 * VAE when that is not (or no longer fits), and likewise its LoRAs that were left out.
 */
export interface Recalled {
  form: GenerateForm;
  missingModel: string | null;
  missingVae: string | null;
  missingLoras: string[];
}

/**
 * Fills the form from an image's generation parameters (its `atelier` metadata): prompts, size,
 * steps, CFG, sampler, the seed (fixed), the model when it is one of `models`, the VAE when it
 * is one of `vaes` (the installed VAEs that fit) and the LoRAs that are among `loras` (likewise).
 * A missing or malformed field keeps the form's value, except the VAE and LoRAs: the image's when
 * they can be used, else the model's own VAE ('') and no LoRAs. The mask blur of an image made
 * with a mask is recalled too (absent: 0, as the server records it), the CLIP skip (absent:
 * 1, likewise) and the seamless tiling (absent: off, likewise). The init image, its mask, the board and image count stay as they are.
 */
export function recallParams(form: GenerateForm, params: Record<string, unknown>, models: string[], vaes: string[] = [], loras: string[] = []): Recalled {
  const cfg = typeof params.cfg_scale === 'number' && params.cfg_scale >= 0 && params.cfg_scale <= 30 ? params.cfg_scale : form.cfg_scale;
  const seed = int(params.seed, 0, 2 ** 32 - 1, -1);
  const model = typeof params.model === 'string' ? params.model : '';
  const installed = models.includes(model);
  const vae = typeof params.vae === 'string' ? params.vae : '';
  const vaeInstalled = vaes.includes(vae);
  const imageLoras = cleanLoras(params.loras);
  return {
    form: {
      ...form,
      model: installed ? model : form.model,
      prompt: str(params.prompt, form.prompt),
      negative_prompt: str(params.negative_prompt, form.negative_prompt),
      width: int(params.width, 64, 2048, form.width, 8),
      height: int(params.height, 64, 2048, form.height, 8),
      steps: int(params.steps, 1, 150, form.steps),
      cfg_scale: cfg,
      sampler: (SAMPLERS as readonly string[]).includes(params.sampler as string) ? (params.sampler as string) : form.sampler,
      seedMode: seed >= 0 ? 'fixed' : form.seedMode,
      seed: seed >= 0 ? seed : form.seed,
      vae: vaeInstalled ? vae : '',
      loras: keepFitting(imageLoras, loras),
      mask_blur: recalledMaskBlur(form, params),
      clip_skip: params.clip_skip === undefined ? CLIP_SKIP.default : int(params.clip_skip, CLIP_SKIP.min, CLIP_SKIP.max, form.clip_skip),
      seamless_x: recalledFlag(params.seamless_x, form.seamless_x),
      seamless_y: recalledFlag(params.seamless_y, form.seamless_y),
    },
    missingModel: model && !installed ? model : null,
    missingVae: vae && !vaeInstalled ? vae : null,
    missingLoras: imageLoras.filter((l) => !loras.includes(l.name)).map((l) => l.name),
  };
}

/** The mask blur an image was made with, when it had a mask (the server leaves 0 out); else the form's. */
function recalledMaskBlur(form: GenerateForm, params: Record<string, unknown>): number {
  if (typeof params.mask_image_id !== 'string' || !params.mask_image_id) return form.mask_blur;
  if (params.mask_blur === undefined) return 0;
  return int(params.mask_blur, MASK_BLUR.min, MASK_BLUR.max, form.mask_blur);
}

/** A recorded on/off parameter: false when absent (the server leaves false out), the form's when malformed. */
function recalledFlag(value: unknown, fallback: boolean): boolean {
  if (value === undefined) return false;
  return typeof value === 'boolean' ? value : fallback;
}

/** The UI state with the form stored in it (other keys kept). */
export function storeForm(state: UiState, form: GenerateForm): UiState {
  return { ...state, [STATE_KEY]: { ...form } };
}

/** Steps an image-to-image run takes: floor(steps × strength), at least 1, computed as the server does. */
export function effectiveSteps(form: Pick<GenerateForm, 'steps' | 'strength'>): number {
  return Math.max(1, Math.floor(form.steps * form.strength));
}

/** Whether to suggest strength 1: with a mask, the masked region is usually repainted from scratch. */
export function suggestFullStrength(form: Pick<GenerateForm, 'init_image_id' | 'mask_image_id' | 'strength'>): boolean {
  return form.init_image_id !== '' && form.mask_image_id !== '' && form.strength < STRENGTH.max;
}

/**
 * The enqueue request for the form (the init image and strength only when an init image is set,
 * its mask and the mask blur only with it, the VAE and LoRAs only when chosen, the CLIP skip
 * only above 1 for a model whose family takes it: `base` is the chosen model's, see takesClipSkip;
 * and each seamless tiling axis only when on, for any family).
 */
export function toParams(form: GenerateForm, base?: string): GenerationParams {
  const params: GenerationParams = {
    model: form.model,
    prompt: form.prompt,
    negative_prompt: form.negative_prompt,
    width: form.width,
    height: form.height,
    steps: form.steps,
    cfg_scale: form.cfg_scale,
    sampler: form.sampler,
    num_images: form.num_images,
  };
  if (form.seedMode === 'fixed') params.seed = form.seed;
  if (form.board_id) params.board_id = form.board_id;
  if (form.init_image_id) {
    params.init_image_id = form.init_image_id;
    params.strength = form.strength;
    if (form.mask_image_id) {
      params.mask_image_id = form.mask_image_id;
      params.mask_blur = form.mask_blur;
    }
  }
  if (form.vae) params.vae = form.vae;
  if (form.clip_skip > CLIP_SKIP.default && takesClipSkip(base)) params.clip_skip = form.clip_skip;
  if (form.seamless_x) params.seamless_x = true;
  if (form.seamless_y) params.seamless_y = true;
  if (form.loras.length) params.loras = form.loras.map(({ name, weight }) => ({ name, weight }));
  return params;
}

/** The VAEs that fit a main model (base "any" or the model's own base); none without a model. */
export function vaesFor(vaes: Model[], main: Model | undefined): Model[] {
  if (!main) return [];
  return vaes.filter((v) => v.base === 'any' || v.base === main.base);
}

/** The LoRAs that fit a main model (its own base; a LoRA is never for "any"); none without a model. */
export function lorasFor(loras: Model[], main: Model | undefined): Model[] {
  if (!main) return [];
  return loras.filter((l) => l.base !== 'any' && l.base === main.base);
}

/** The chosen LoRAs that are among `fitting` (names), in order. */
export function keepFitting(chosen: LoraChoice[], fitting: string[]): LoraChoice[] {
  return chosen.filter((l) => fitting.includes(l.name));
}

/** Whether the form's size is a model's rather than the user's: its default size, or else its family's square. */
function isModelSize(form: Pick<GenerateForm, 'width' | 'height'>, model: Model): boolean {
  const { width, height } = model.defaults ?? {};
  if (width !== undefined && height !== undefined) return form.width === width && form.height === height;
  const native = nativeSize(model.base);
  return native !== null && form.width === native && form.height === native;
}

/**
 * The size to use with a newly picked model: its default size when it has one; else its family's
 * square (1024 for SDXL, 512 for SD 1.x and 2.x) when the form still has the previous model's
 * size; else the size as it is, since the user chose it.
 */
export function sizeForModel(form: Pick<GenerateForm, 'width' | 'height'>, model: Model, previous: Model | undefined): { width: number; height: number } {
  const d = model.defaults ?? {};
  if (d.width !== undefined || d.height !== undefined) return { width: d.width ?? form.width, height: d.height ?? form.height };
  const native = nativeSize(model.base);
  if (native === null || !previous || !isModelSize(form, previous)) return { width: form.width, height: form.height };
  return { width: native, height: native };
}

/**
 * The CLIP skip to use with a newly picked model: its default when it has one; else 1 when the
 * form still has the previous model's default; else the form's, since the user chose it.
 */
export function clipSkipForModel(form: Pick<GenerateForm, 'clip_skip'>, model: Model, previous: Model | undefined): number {
  const own = model.defaults?.clip_skip;
  if (own !== undefined) return own;
  const before = previous?.defaults?.clip_skip;
  return before !== undefined && form.clip_skip === before ? CLIP_SKIP.default : form.clip_skip;
}

/**
 * Applies a model's default settings when the user picks it instead of `previous` (the form's
 * model before), and a size and CLIP skip that fit it (see sizeForModel and clipSkipForModel).
 */
export function withModelDefaults(form: GenerateForm, model: Model, previous?: Model): GenerateForm {
  const d = model.defaults ?? {};
  return {
    ...form,
    model: model.name,
    steps: d.steps ?? form.steps,
    cfg_scale: d.cfg_scale ?? form.cfg_scale,
    sampler: d.sampler ?? form.sampler,
    clip_skip: clipSkipForModel(form, model, previous),
    ...sizeForModel(form, model, previous),
  };
}
