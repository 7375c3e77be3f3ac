// The Generate form's save/restore round trip, recalling an image's parameters, the enqueue request
// it builds, the size that follows a newly picked model's family, the CLIP skip and seamless tiling.
import { describe, expect, it } from 'vitest';
import {
  CLIP_SKIP, DEFAULT_FORM, clipSkipForModel, cleanLoras, effectiveSteps, keepFitting, lorasFor, recallParams, restoreForm, sizeForModel, snapStrength, storeForm, suggestFullStrength, toParams,
  vaesFor, withModelDefaults, MASK_BLUR, STATE_KEY,
} from './formState';
import type { Model } from '../api/types';
import { generationParams } from '../gallery/metadata';

describe('form state', () => {
  it('round-trips through the UI state and keeps other keys', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', prompt: 'a cat', steps: 6, seedMode: 'fixed' as const, seed: 42, board_id: 'b1', init_image_id: 'i1', strength: 0.4 };
    const state = storeForm({ other: { keep: true } }, form);
    expect(state.other).toEqual({ keep: true });
    expect(restoreForm(JSON.parse(JSON.stringify(state)))).toEqual(form);
  });

  it('falls back to defaults for a missing or malformed state', () => {
    expect(restoreForm({})).toEqual(DEFAULT_FORM);
    expect(restoreForm(null)).toEqual(DEFAULT_FORM);
    const restored = restoreForm({ [STATE_KEY]: { width: 500, steps: 'many', sampler: 'magic', cfg_scale: 99, prompt: 3, num_images: 9 } });
    expect(restored.width).toBe(512);
    expect(restored.steps).toBe(30);
    expect(restored.sampler).toBe('euler');
    expect(restored.cfg_scale).toBe(7.5);
    expect(restored.prompt).toBe('');
    expect(restored.num_images).toBe(1);
  });

  it('sends a seed only when fixed, and a board only when chosen', () => {
    const random = toParams({ ...DEFAULT_FORM, model: 'tiny', seed: 5 });
    expect(random.seed).toBeUndefined();
    expect(random.board_id).toBeUndefined();
    const fixed = toParams({ ...DEFAULT_FORM, model: 'tiny', seedMode: 'fixed', seed: 5, board_id: 'b1' });
    expect(fixed.seed).toBe(5);
    expect(fixed.board_id).toBe('b1');
  });

  it("applies a model's defaults when picked", () => {
    const model = { name: 'tiny', defaults: { steps: 4, sampler: 'ddim' } } as Model;
    const form = withModelDefaults({ ...DEFAULT_FORM, prompt: 'kept' }, model);
    expect(form).toMatchObject({ model: 'tiny', steps: 4, sampler: 'ddim', prompt: 'kept', width: 512 });
  });

  it('sends the init image and strength only when an init image is set', () => {
    const plain = toParams({ ...DEFAULT_FORM, model: 'tiny', strength: 0.5 });
    expect('init_image_id' in plain).toBe(false);
    expect('strength' in plain).toBe(false);
    const img2img = toParams({ ...DEFAULT_FORM, model: 'tiny', init_image_id: 'i1', strength: 0.5 });
    expect(img2img).toMatchObject({ init_image_id: 'i1', strength: 0.5 });
  });

  it('restores a strength on the slider grid, or the default', () => {
    expect(restoreForm({ [STATE_KEY]: { strength: 0.35 } }).strength).toBe(0.35);
    expect(restoreForm({ [STATE_KEY]: { strength: 0.3500000001 } }).strength).toBe(0.35);
    expect(restoreForm({ [STATE_KEY]: { strength: 0 } }).strength).toBe(0.75);
    expect(restoreForm({ [STATE_KEY]: { strength: 1.5 } }).strength).toBe(0.75);
    expect(restoreForm({ [STATE_KEY]: { strength: 'much' } }).strength).toBe(0.75);
    expect(restoreForm({ [STATE_KEY]: { init_image_id: 42 } }).init_image_id).toBe('');
    expect(snapStrength(1)).toBe(1);
  });

  it('counts the steps an image-to-image run takes as the server does', () => {
    expect(effectiveSteps({ steps: 4, strength: 0.75 })).toBe(3);
    expect(effectiveSteps({ steps: 30, strength: 0.5 })).toBe(15);
    expect(effectiveSteps({ steps: 4, strength: 0.05 })).toBe(1);
    expect(effectiveSteps({ steps: 4, strength: 1 })).toBe(4);
  });

  it("fills the form from an image's metadata, keeping the init image, board and count", () => {
    const metadata = {
      atelier: {
        model: 'tiny', prompt: 'a lighthouse', negative_prompt: 'fog', width: 64, height: 96, steps: 3, cfg_scale: 6.5,
        sampler: 'ddim', seed: 1234, num_images: 4, board_id: 'b-old', init_image_id: 'i-old', strength: 0.3,
      },
      Software: 'atelier',
    };
    const form = { ...DEFAULT_FORM, model: 'other', prompt: 'changed', board_id: 'b1', init_image_id: 'i1', strength: 0.5, num_images: 2 };
    const { form: recalled, missingModel } = recallParams(form, generationParams(metadata)!, ['other', 'tiny']);
    expect(missingModel).toBeNull();
    expect(recalled).toEqual({
      ...form,
      model: 'tiny', prompt: 'a lighthouse', negative_prompt: 'fog', width: 64, height: 96, steps: 3, cfg_scale: 6.5,
      sampler: 'ddim', seedMode: 'fixed', seed: 1234,
    });
  });

  it('keeps the current model when the image’s is gone, and the form’s values for malformed fields', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', prompt: 'kept', steps: 6 };
    const { form: recalled, missingModel } = recallParams(form, { model: 'deleted', prompt: 7, steps: 999, sampler: 'magic', width: 100, seed: -1 }, ['tiny']);
    expect(missingModel).toBe('deleted');
    expect(recalled).toEqual(form);
    expect(generationParams({ Software: 'atelier' })).toBeNull();
    expect(generationParams(null)).toBeNull();
  });
});

describe('inpainting mask', () => {
  it('round-trips the mask with its init image, and drops a mask without one', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', init_image_id: 'i1', mask_image_id: 'm1', strength: 1 };
    expect(restoreForm(JSON.parse(JSON.stringify(storeForm({}, form))))).toEqual(form);
    expect(DEFAULT_FORM.mask_image_id).toBe('');
    expect(restoreForm({ [STATE_KEY]: { mask_image_id: 'm1' } }).mask_image_id).toBe('');
    expect(restoreForm({ [STATE_KEY]: { init_image_id: 42, mask_image_id: 'm1' } }).mask_image_id).toBe('');
    expect(restoreForm({ [STATE_KEY]: { init_image_id: 'i1', mask_image_id: 7 } }).mask_image_id).toBe('');
    expect(restoreForm({ [STATE_KEY]: { init_image_id: 'i1', mask_image_id: 'x'.repeat(65) } }).mask_image_id).toBe('');
    expect(restoreForm({ [STATE_KEY]: { init_image_id: 'i1' } }).mask_image_id).toBe('');
  });

  it('sends the mask only together with its init image', () => {
    expect(toParams({ ...DEFAULT_FORM, model: 'tiny', init_image_id: 'i1', mask_image_id: 'm1', strength: 1 })).toMatchObject({
      init_image_id: 'i1', mask_image_id: 'm1', strength: 1,
    });
    const img2img = toParams({ ...DEFAULT_FORM, model: 'tiny', init_image_id: 'i1' });
    expect('mask_image_id' in img2img).toBe(false);
    const orphan = toParams({ ...DEFAULT_FORM, model: 'tiny', mask_image_id: 'm1' });
    expect('mask_image_id' in orphan).toBe(false);
    expect('init_image_id' in orphan).toBe(false);
  });

  it('keeps the init image and mask when recalling an image’s parameters', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', init_image_id: 'i1', mask_image_id: 'm1' };
    const { form: recalled } = recallParams(form, { model: 'tiny', init_image_id: 'i-old', mask_image_id: 'm-old' }, ['tiny']);
    expect([recalled.init_image_id, recalled.mask_image_id]).toEqual(['i1', 'm1']);
  });

  it('keeps a mask blur of 0 to 64 px, 8 when there is none or it is malformed', () => {
    expect(DEFAULT_FORM.mask_blur).toBe(8);
    expect(MASK_BLUR).toEqual({ min: 0, max: 64, default: 8 });
    const form = { ...DEFAULT_FORM, model: 'tiny', init_image_id: 'i1', mask_image_id: 'm1', mask_blur: 0 };
    expect(restoreForm(JSON.parse(JSON.stringify(storeForm({}, form))))).toEqual(form);
    expect(restoreForm({ [STATE_KEY]: { mask_blur: 64 } }).mask_blur).toBe(64);
    expect(restoreForm({ [STATE_KEY]: { init_image_id: 'i1' } }).mask_blur).toBe(8);
    for (const bad of [65, -1, '12', null, Number.NaN]) expect(restoreForm({ [STATE_KEY]: { mask_blur: bad } }).mask_blur).toBe(8);
  });

  it('sends the mask blur with a mask only, 0 included', () => {
    const masked = { ...DEFAULT_FORM, model: 'tiny', init_image_id: 'i1', mask_image_id: 'm1', strength: 1 };
    expect(toParams(masked).mask_blur).toBe(8);
    expect(toParams({ ...masked, mask_blur: 0 }).mask_blur).toBe(0);
    expect(toParams({ ...masked, mask_blur: 33 })).toMatchObject({ mask_image_id: 'm1', mask_blur: 33 });
    expect('mask_blur' in toParams({ ...masked, mask_image_id: '' })).toBe(false);
    expect('mask_blur' in toParams({ ...masked, init_image_id: '' })).toBe(false);
  });

  it('recalls the mask blur of an image made with a mask (absent: 0), and keeps the form’s otherwise', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', mask_blur: 20 };
    const recall = (params: Record<string, unknown>) => recallParams(form, { model: 'tiny', ...params }, ['tiny']).form.mask_blur;
    expect(recall({ init_image_id: 'i', mask_image_id: 'm', mask_blur: 12 })).toBe(12);
    expect(recall({ init_image_id: 'i', mask_image_id: 'm' })).toBe(0);
    expect(recall({ init_image_id: 'i', mask_image_id: 'm', mask_blur: 99 })).toBe(20);
    expect(recall({ init_image_id: 'i', mask_image_id: 'm', mask_blur: 'wide' })).toBe(20);
    expect(recall({ init_image_id: 'i' })).toBe(20);
    expect(recall({ mask_blur: 12 })).toBe(20);
  });

  it('suggests strength 1 only with a mask and a lower strength', () => {
    const masked = { init_image_id: 'i1', mask_image_id: 'm1', strength: 0.75 };
    expect(suggestFullStrength(masked)).toBe(true);
    expect(suggestFullStrength({ ...masked, strength: 1 })).toBe(false);
    expect(suggestFullStrength({ ...masked, mask_image_id: '' })).toBe(false);
    expect(suggestFullStrength({ ...masked, init_image_id: '' })).toBe(false);
  });
});

describe('VAE choice', () => {
  const vae = (name: string, base: string) => ({ name, base, type: 'vae' }) as Model;
  const main = (name: string, base: string) => ({ name, base, type: 'main' }) as Model;

  it('restores a VAE name, and the model’s own for a malformed one', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', vae: 'mse' };
    expect(restoreForm(JSON.parse(JSON.stringify(storeForm({}, form))))).toEqual(form);
    expect(restoreForm({ [STATE_KEY]: { model: 'tiny' } }).vae).toBe('');
    expect(restoreForm({ [STATE_KEY]: { vae: 7 } }).vae).toBe('');
    expect(restoreForm({ [STATE_KEY]: { vae: 'x'.repeat(201) } }).vae).toBe('');
    expect(DEFAULT_FORM.vae).toBe('');
  });

  it('sends a VAE only when one is chosen', () => {
    const own = toParams({ ...DEFAULT_FORM, model: 'tiny' });
    expect('vae' in own).toBe(false);
    expect(toParams({ ...DEFAULT_FORM, model: 'tiny', vae: 'mse' }).vae).toBe('mse');
  });

  it('offers the VAEs of the model’s base or of any base, and none without a model', () => {
    const vaes = [vae('mse', 'any'), vae('sd1-vae', 'sd-1'), vae('sd2-vae', 'sd-2'), vae('xl-vae', 'sdxl')];
    expect(vaesFor(vaes, main('tiny', 'sd-1')).map((v) => v.name)).toEqual(['mse', 'sd1-vae']);
    expect(vaesFor(vaes, main('big', 'sdxl')).map((v) => v.name)).toEqual(['mse', 'xl-vae']);
    expect(vaesFor(vaes, undefined)).toEqual([]);
    expect(vaesFor([], main('tiny', 'sd-1'))).toEqual([]);
  });

  it('recalls the image’s VAE when it is installed and fits', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny' };
    const recalled = recallParams(form, { model: 'tiny', prompt: 'a fox', vae: 'mse' }, ['tiny'], ['mse']);
    expect(recalled.form).toEqual({ ...form, prompt: 'a fox', vae: 'mse' });
    expect(recalled.missingVae).toBeNull();
  });

  it('recalls the model’s own VAE when the image had none, or one that is not installed here', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', vae: 'mse' };
    const none = recallParams(form, { model: 'tiny' }, ['tiny'], ['mse']);
    expect(none.form.vae).toBe('');
    expect(none.missingVae).toBeNull();
    const gone = recallParams(form, { model: 'tiny', vae: 'deleted' }, ['tiny'], ['mse']);
    expect(gone.form.vae).toBe('');
    expect(gone.missingVae).toBe('deleted');
    // Without the list (older callers), no VAE is taken from the image.
    const unlisted = recallParams({ ...DEFAULT_FORM, model: 'tiny' }, { model: 'tiny', vae: 'mse' }, ['tiny']);
    expect(unlisted.form.vae).toBe('');
    expect(unlisted.missingVae).toBe('mse');
    expect(recallParams(form, { model: 'tiny', vae: 3 }, ['tiny'], ['mse']).form.vae).toBe('');
  });
});

describe('LoRA choice', () => {
  const lora = (name: string, base: string) => ({ name, base, type: 'lora' }) as Model;
  const main = (name: string, base: string) => ({ name, base, type: 'main' }) as Model;
  const nine = Array.from({ length: 9 }, (_, i) => ({ name: `l${i}`, weight: i / 4 }));

  it('restores the chosen LoRAs in order, with their weights', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', loras: [{ name: 'b', weight: -0.5 }, { name: 'a', weight: 4 }] };
    expect(restoreForm(JSON.parse(JSON.stringify(storeForm({}, form))))).toEqual(form);
    expect(restoreForm({ [STATE_KEY]: { model: 'tiny' } }).loras).toEqual([]);
    expect(DEFAULT_FORM.loras).toEqual([]);
  });

  it('keeps only well-formed LoRAs: named, weighted in range, each once, at most 8', () => {
    expect(restoreForm({ [STATE_KEY]: { loras: 'a' } }).loras).toEqual([]);
    expect(restoreForm({ [STATE_KEY]: { loras: { name: 'a', weight: 1 } } }).loras).toEqual([]);
    const saved = [
      null, 'a', { name: 3, weight: 1 }, { name: '', weight: 1 }, { name: '  ', weight: 1 }, { name: 'x'.repeat(201), weight: 1 },
      { name: 'no-weight' }, { name: 'text', weight: '1' }, { name: 'high', weight: 4.05 }, { name: 'low', weight: -4.5 }, { name: 'inf', weight: Infinity },
      { name: 'ok', weight: -4 }, { name: 'ok', weight: 2 }, { name: 'zero', weight: 0 },
    ];
    expect(restoreForm({ [STATE_KEY]: { loras: saved } }).loras).toEqual([{ name: 'ok', weight: -4 }, { name: 'zero', weight: 0 }]);
    expect(cleanLoras(nine)).toEqual(nine.slice(0, 8));
    expect(cleanLoras([{ name: 'a', weight: 1, extra: true }])).toEqual([{ name: 'a', weight: 1 }]);
  });

  it('sends LoRAs only when some are chosen, as name and weight', () => {
    expect('loras' in toParams({ ...DEFAULT_FORM, model: 'tiny' })).toBe(false);
    const params = toParams({ ...DEFAULT_FORM, model: 'tiny', loras: [{ name: 'a', weight: 0.8 }, { name: 'b', weight: 0 }] });
    expect(params.loras).toEqual([{ name: 'a', weight: 0.8 }, { name: 'b', weight: 0 }]);
  });

  it('offers the LoRAs of the model’s own base only, never of "any", and none without a model', () => {
    const loras = [lora('odd', 'any'), lora('sd1-a', 'sd-1'), lora('sd2-a', 'sd-2'), lora('xl-a', 'sdxl'), lora('sd1-b', 'sd-1')];
    expect(lorasFor(loras, main('tiny', 'sd-1')).map((l) => l.name)).toEqual(['sd1-a', 'sd1-b']);
    expect(lorasFor(loras, main('big', 'sdxl')).map((l) => l.name)).toEqual(['xl-a']);
    expect(lorasFor(loras, main('odd-main', 'any'))).toEqual([]);
    expect(lorasFor(loras, undefined)).toEqual([]);
  });

  it('keeps the chosen LoRAs that fit, in order', () => {
    const chosen = [{ name: 'a', weight: 1 }, { name: 'b', weight: 0.5 }, { name: 'c', weight: -1 }];
    expect(keepFitting(chosen, ['c', 'a'])).toEqual([chosen[0], chosen[2]]);
    expect(keepFitting(chosen, [])).toEqual([]);
  });

  it('recalls the image’s LoRAs that are installed and fit, and names the ones left out', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', loras: [{ name: 'current', weight: 1 }] };
    const params = { model: 'tiny', loras: [{ name: 'gone', weight: 1 }, { name: 'a', weight: 0.8 }, { name: 'bad', weight: 9 }, { name: 'b', weight: -1 }, 'junk'] };
    const recalled = recallParams(form, params, ['tiny'], [], ['a', 'b', 'current']);
    expect(recalled.form.loras).toEqual([{ name: 'a', weight: 0.8 }, { name: 'b', weight: -1 }]);
    expect(recalled.missingLoras).toEqual(['gone']);
  });

  it('recalls no LoRAs for an image without any, and none at all without the list', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', loras: [{ name: 'a', weight: 1 }] };
    const none = recallParams(form, { model: 'tiny' }, ['tiny'], [], ['a']);
    expect(none.form.loras).toEqual([]);
    expect(none.missingLoras).toEqual([]);
    expect(recallParams(form, { model: 'tiny', loras: 'a' }, ['tiny'], [], ['a']).form.loras).toEqual([]);
    const unlisted = recallParams(form, { model: 'tiny', loras: [{ name: 'a', weight: 1 }] }, ['tiny']);
    expect(unlisted.form.loras).toEqual([]);
    expect(unlisted.missingLoras).toEqual(['a']);
  });
});

describe('size for a newly picked model', () => {
  const main = (name: string, base: string, defaults: Model['defaults'] = {}) => ({ name, base, type: 'main', defaults }) as Model;
  const sd1 = main('sd1', 'sd-1');
  const sd2 = main('sd2', 'sd-2');
  const xl = main('xl', 'sdxl');
  const square = (n: number) => ({ width: n, height: n });

  it('switches the previous family’s square to the new family’s: 512 for SD 1.x and 2.x, 1024 for SDXL', () => {
    expect(sizeForModel(square(512), xl, sd1)).toEqual(square(1024));
    expect(sizeForModel(square(512), xl, sd2)).toEqual(square(1024));
    expect(sizeForModel(square(1024), sd1, xl)).toEqual(square(512));
    expect(sizeForModel(square(1024), sd2, xl)).toEqual(square(512));
    expect(sizeForModel(square(512), sd2, sd1)).toEqual(square(512));
    expect(sizeForModel(square(1024), main('xl2', 'sdxl'), xl)).toEqual(square(1024));
  });

  it('never overrides a size the user chose', () => {
    expect(sizeForModel(square(768), xl, sd1)).toEqual(square(768));
    expect(sizeForModel({ width: 512, height: 768 }, xl, sd1)).toEqual({ width: 512, height: 768 });
    expect(sizeForModel(square(64), sd1, xl)).toEqual(square(64));
    // 1024 is not SD 1.x's square: someone typed it.
    expect(sizeForModel(square(1024), xl, sd1)).toEqual(square(1024));
    expect(sizeForModel(square(512), sd1, xl)).toEqual(square(512));
  });

  it('lets the new model’s default size win, as before', () => {
    expect(sizeForModel(square(512), main('xl-wide', 'sdxl', { width: 1152, height: 896 }), sd1)).toEqual({ width: 1152, height: 896 });
    expect(sizeForModel(square(64), main('sd1-small', 'sd-1', { width: 256, height: 256 }), sd1)).toEqual(square(256));
    expect(sizeForModel(square(512), main('xl-w', 'sdxl', { width: 1216 }), sd1)).toEqual({ width: 1216, height: 512 });
  });

  it('takes the previous model’s own default size as not the user’s', () => {
    const sd2At768 = main('sd2-768', 'sd-2', { width: 768, height: 768 });
    expect(sizeForModel(square(768), xl, sd2At768)).toEqual(square(1024));
    expect(sizeForModel(square(768), sd1, sd2At768)).toEqual(square(512));
    // With its own size, the family's square is the user's choice.
    expect(sizeForModel(square(512), xl, sd2At768)).toEqual(square(512));
  });

  it('keeps the size without a previous model, or for a model of no family ("any")', () => {
    expect(sizeForModel(square(512), xl, undefined)).toEqual(square(512));
    expect(sizeForModel(square(512), main('odd', 'any'), sd1)).toEqual(square(512));
    expect(sizeForModel(square(512), xl, main('odd', 'any'))).toEqual(square(512));
  });

  it('applies the size with the rest of the model’s defaults', () => {
    const form = { ...DEFAULT_FORM, model: 'sd1', prompt: 'kept', steps: 30 };
    expect(withModelDefaults(form, main('xl', 'sdxl', { steps: 8 }), sd1)).toMatchObject({ model: 'xl', steps: 8, prompt: 'kept', width: 1024, height: 1024 });
    expect(withModelDefaults({ ...form, width: 640 }, xl, sd1)).toMatchObject({ model: 'xl', width: 640, height: 512 });
  });
});

describe('CLIP skip', () => {
  const main = (name: string, base: string, defaults: Model['defaults'] = {}) => ({ name, base, type: 'main', defaults }) as Model;
  const sd1 = main('sd1', 'sd-1');
  const anime = main('anime', 'sd-1', { clip_skip: 2 });
  const xl = main('xl', 'sdxl');

  it('starts at 1, round-trips 1 to 4, and restores anything else as 1', () => {
    expect(CLIP_SKIP).toEqual({ min: 1, max: 4, default: 1 });
    expect(DEFAULT_FORM.clip_skip).toBe(1);
    const form = { ...DEFAULT_FORM, model: 'tiny', clip_skip: 4 };
    expect(restoreForm(JSON.parse(JSON.stringify(storeForm({}, form))))).toEqual(form);
    expect(restoreForm({ [STATE_KEY]: { model: 'tiny' } }).clip_skip).toBe(1);
    for (const bad of [0, 5, '2', null, Number.NaN]) expect(restoreForm({ [STATE_KEY]: { clip_skip: bad } }).clip_skip).toBe(1);
  });

  it('is sent only above 1, and only for a model whose family takes it (not SDXL)', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', clip_skip: 2 };
    expect(toParams(form, 'sd-1').clip_skip).toBe(2);
    expect(toParams({ ...form, clip_skip: 4 }, 'sd-2').clip_skip).toBe(4);
    expect('clip_skip' in toParams({ ...form, clip_skip: 1 }, 'sd-1')).toBe(false);
    // An emptied input holds 0: nothing is sent, so the server's 1 applies.
    expect('clip_skip' in toParams({ ...form, clip_skip: 0 }, 'sd-1')).toBe(false);
    expect('clip_skip' in toParams(form, 'sdxl')).toBe(false);
    expect('clip_skip' in toParams(form, undefined)).toBe(false);
    // Out of range is the server's to refuse (422), as for the other numbers.
    expect(toParams({ ...form, clip_skip: 5 }, 'sd-1').clip_skip).toBe(5);
  });

  it('takes a picked model’s default, with the rest of its defaults', () => {
    expect(withModelDefaults({ ...DEFAULT_FORM, model: 'sd1' }, anime, sd1)).toMatchObject({ model: 'anime', clip_skip: 2 });
    expect(withModelDefaults({ ...DEFAULT_FORM, model: 'sd1', clip_skip: 3 }, anime, sd1).clip_skip).toBe(2);
    expect(clipSkipForModel({ clip_skip: 1 }, anime, undefined)).toBe(2);
  });

  it('goes back to 1 for a model without a default only when it holds the previous model’s default', () => {
    expect(clipSkipForModel({ clip_skip: 2 }, sd1, anime)).toBe(1);
    expect(clipSkipForModel({ clip_skip: 2 }, xl, anime)).toBe(1);
    // Anything else is the user's choice, kept like the other settings.
    expect(clipSkipForModel({ clip_skip: 3 }, sd1, anime)).toBe(3);
    expect(clipSkipForModel({ clip_skip: 2 }, sd1, main('sd1b', 'sd-1'))).toBe(2);
    expect(clipSkipForModel({ clip_skip: 2 }, sd1, undefined)).toBe(2);
    expect(withModelDefaults({ ...DEFAULT_FORM, model: 'anime', clip_skip: 2, steps: 9 }, sd1, anime)).toMatchObject({ model: 'sd1', clip_skip: 1, steps: 9 });
  });

  it('recalls an image’s CLIP skip, 1 when it has none (the server leaves 1 out), and keeps the form’s for a malformed one', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', clip_skip: 3 };
    const recall = (params: Record<string, unknown>) => recallParams(form, { model: 'tiny', ...params }, ['tiny']).form.clip_skip;
    const metadata = { atelier: { model: 'tiny', prompt: 'a fox', clip_skip: 2 } };
    expect(recallParams(form, generationParams(metadata)!, ['tiny']).form.clip_skip).toBe(2);
    expect(recall({})).toBe(1);
    expect(recall({ clip_skip: 9 })).toBe(3);
    expect(recall({ clip_skip: 'two' })).toBe(3);
  });
});

describe('seamless tiling', () => {
  const main = (name: string, base: string, defaults: Model['defaults'] = {}) => ({ name, base, type: 'main', defaults }) as Model;

  it('starts off, round-trips both axes, and restores anything but true as off', () => {
    expect([DEFAULT_FORM.seamless_x, DEFAULT_FORM.seamless_y]).toEqual([false, false]);
    const form = { ...DEFAULT_FORM, model: 'tiny', seamless_x: true, seamless_y: false };
    expect(restoreForm(JSON.parse(JSON.stringify(storeForm({}, form))))).toEqual(form);
    expect(restoreForm(storeForm({}, { ...form, seamless_y: true })).seamless_y).toBe(true);
    expect(restoreForm({ [STATE_KEY]: { model: 'tiny' } })).toMatchObject({ seamless_x: false, seamless_y: false });
    for (const bad of ['true', 1, null, {}]) expect(restoreForm({ [STATE_KEY]: { seamless_x: bad, seamless_y: bad } })).toMatchObject({ seamless_x: false, seamless_y: false });
  });

  it('sends each axis only when on, as true, for every model family', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny' };
    const off = toParams(form, 'sd-1');
    expect('seamless_x' in off || 'seamless_y' in off).toBe(false);
    for (const base of ['sd-1', 'sd-2', 'sdxl', undefined]) {
      const x = toParams({ ...form, seamless_x: true }, base);
      expect(x.seamless_x).toBe(true);
      expect('seamless_y' in x).toBe(false);
      expect(toParams({ ...form, seamless_x: true, seamless_y: true }, base)).toMatchObject({ seamless_x: true, seamless_y: true });
    }
    const y = toParams({ ...form, seamless_y: true }, 'sdxl');
    expect([('seamless_x' in y), y.seamless_y]).toEqual([false, true]);
  });

  it('is kept when another model is picked (it is no model default)', () => {
    const form = { ...DEFAULT_FORM, model: 'sd1', seamless_x: true, seamless_y: true };
    expect(withModelDefaults(form, main('xl', 'sdxl', { steps: 20 }), main('sd1', 'sd-1'))).toMatchObject({ model: 'xl', seamless_x: true, seamless_y: true });
  });

  it('recalls an image’s axes, off when absent (the server leaves false out), and keeps the form’s for a malformed one', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', seamless_x: false, seamless_y: true };
    const recall = (params: Record<string, unknown>) => {
      const { seamless_x, seamless_y } = recallParams(form, { model: 'tiny', ...params }, ['tiny']).form;
      return [seamless_x, seamless_y];
    };
    const metadata = { atelier: { model: 'tiny', prompt: 'a tile', seamless_x: true } };
    const recalled = recallParams(form, generationParams(metadata)!, ['tiny']).form;
    expect([recalled.seamless_x, recalled.seamless_y]).toEqual([true, false]);
    expect(recall({})).toEqual([false, false]);
    expect(recall({ seamless_x: true, seamless_y: true })).toEqual([true, true]);
    expect(recall({ seamless_x: 'yes', seamless_y: 1 })).toEqual([false, true]);
  });
});
