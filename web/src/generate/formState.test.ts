// The Generate form's save/restore round trip and the enqueue request it builds.
import { describe, expect, it } from 'vitest';
import { DEFAULT_FORM, restoreForm, storeForm, toParams, withModelDefaults, STATE_KEY } from './formState';
import type { Model } from '../api/types';

describe('form state', () => {
  it('round-trips through the UI state and keeps other keys', () => {
    const form = { ...DEFAULT_FORM, model: 'tiny', prompt: 'a cat', steps: 6, seedMode: 'fixed' as const, seed: 42, board_id: 'b1' };
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
});
