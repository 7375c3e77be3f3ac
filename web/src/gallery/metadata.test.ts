// The viewer's parameter rows: known fields in order, strength only for image to image.
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
});
