// The viewer's parameter rows: known fields in order, strength only for image to image, the mask
// blur only with a mask, the CLIP skip only above 1, seamless tiling only when on, LoRAs as name × weight.
import { describe, expect, it } from 'vitest';
import { metadataRows } from './metadata';

describe('metadataRows', () => {
  it('lists the generation parameters first, then other text chunks', () => {
    const rows = metadataRows({ atelier: { prompt: 'a barn', seed: 7, strength: 0.75 }, Software: 'atelier' });
    expect(rows).toEqual([
      { label: 'Prompt', value: 'a barn' },
      { label: 'Seed', value: '7' },
      { label: 'Software', value: 'atelier' },
    ]);
  });

  it('shows the strength of an image-to-image result, but not the init image id', () => {
    const rows = metadataRows({ atelier: { prompt: 'a barn', init_image_id: 'id-1', strength: 0.5 } });
    expect(rows).toEqual([
      { label: 'Prompt', value: 'a barn' },
      { label: 'Strength', value: '0.5' },
    ]);
  });

  it('shows an inpainting mask as "yes" after the strength, then its blur, and no rows without one', () => {
    const rows = metadataRows({ atelier: { prompt: 'a barn', init_image_id: 'id-1', strength: 1, mask_image_id: 'id-2', mask_blur: 8 } });
    expect(rows).toEqual([
      { label: 'Prompt', value: 'a barn' },
      { label: 'Strength', value: '1' },
      { label: 'Mask', value: 'yes' },
      { label: 'Mask blur', value: '8 px' },
    ]);
    expect(metadataRows({ atelier: { init_image_id: 'id-1', strength: 1, mask_image_id: null, mask_blur: 8 } }).map((r) => r.label)).toEqual(['Strength']);
  });

  it('reads a mask without a recorded blur as 0 px, since the server leaves 0 out', () => {
    const rows = metadataRows({ atelier: { init_image_id: 'id-1', strength: 1, mask_image_id: 'id-2' } });
    expect(rows.at(-1)).toEqual({ label: 'Mask blur', value: '0 px' });
  });

  it('shows the VAE and the LoRAs as name × weight after the model', () => {
    const loras = [{ name: 'tiny-lora', weight: 0.8 }, { name: 'style', weight: -1 }];
    const rows = metadataRows({ atelier: { prompt: 'a barn', model: 'tiny', vae: 'tiny-vae', loras, seed: 7 } });
    expect(rows).toEqual([
      { label: 'Prompt', value: 'a barn' },
      { label: 'Model', value: 'tiny' },
      { label: 'VAE', value: 'tiny-vae' },
      { label: 'LoRAs', value: 'tiny-lora × 0.8, style × -1' },
      { label: 'Seed', value: '7' },
    ]);
  });

  it('shows a CLIP skip above 1 after the sampler, and no row for 1, none or a malformed one', () => {
    const rows = metadataRows({ atelier: { steps: 4, sampler: 'euler', clip_skip: 2, width: 64 } });
    expect(rows).toEqual([
      { label: 'Steps', value: '4' },
      { label: 'Sampler', value: 'euler' },
      { label: 'CLIP skip', value: '2' },
      { label: 'Width', value: '64' },
    ]);
    const labels = (atelier: Record<string, unknown>) => metadataRows({ atelier }).map((r) => r.label);
    expect(labels({ sampler: 'euler', clip_skip: 1 })).toEqual(['Sampler']);
    expect(labels({ sampler: 'euler' })).toEqual(['Sampler']);
    expect(labels({ sampler: 'euler', clip_skip: 'two' })).toEqual(['Sampler']);
  });

  it('shows seamless tiling as its axes after the CLIP skip, and no row when off, absent or malformed', () => {
    const rows = metadataRows({ atelier: { sampler: 'euler', clip_skip: 2, seamless_x: true, seamless_y: true, width: 64 } });
    expect(rows).toEqual([
      { label: 'Sampler', value: 'euler' },
      { label: 'CLIP skip', value: '2' },
      { label: 'Seamless tiling', value: 'X+Y' },
      { label: 'Width', value: '64' },
    ]);
    const seamless = (atelier: Record<string, unknown>) => metadataRows({ atelier }).find((r) => r.label === 'Seamless tiling')?.value;
    expect(seamless({ seamless_x: true })).toBe('X');
    expect(seamless({ seamless_y: true })).toBe('Y');
    expect(seamless({ seamless_x: false, seamless_y: false })).toBeUndefined();
    expect(seamless({})).toBeUndefined();
    expect(seamless({ seamless_x: 'true', seamless_y: 1 })).toBeUndefined();
  });

  it('has no VAE or LoRA row without them', () => {
    const labels = (atelier: Record<string, unknown>) => metadataRows({ atelier }).map((r) => r.label);
    expect(labels({ model: 'tiny', vae: '', loras: [] })).toEqual(['Model']);
    expect(labels({ model: 'tiny', loras: 'junk' })).toEqual(['Model']);
    expect(labels({ model: 'tiny', loras: [null, 3] })).toEqual(['Model']);
  });
});
