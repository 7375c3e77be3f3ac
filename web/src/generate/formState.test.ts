// The Generate form's save/restore round trip, recalling an image's parameters, and the enqueue request it builds.
import { describe, expect, it } from 'vitest';
import { DEFAULT_FORM, effectiveSteps, recallParams, restoreForm, snapStrength, storeForm, toParams, vaesFor, withModelDefaults, STATE_KEY } from './formState';
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
