// Model families: the labels people know them by, the square size each is made for, and which take a CLIP skip.
import { describe, expect, it } from 'vitest';
import { familyLabel, nativeSize, takesClipSkip } from './family';

describe('model families', () => {
  it('names each family as people write it, and an unknown base as it is', () => {
    expect(['sd-1', 'sd-2', 'sdxl', 'any'].map(familyLabel)).toEqual(['SD 1.x', 'SD 2.x', 'SDXL', 'Any']);
    expect(familyLabel('flux')).toBe('flux');
  });

  it('knows the square size of SD 1.x, SD 2.x (its 512 models) and SDXL, and none for "any"', () => {
    expect(['sd-1', 'sd-2', 'sdxl'].map(nativeSize)).toEqual([512, 512, 1024]);
    expect(nativeSize('any')).toBeNull();
    expect(nativeSize('flux')).toBeNull();
    expect(nativeSize(undefined)).toBeNull();
  });

  it('takes a CLIP skip for every family but SDXL, and not without a model', () => {
    expect(['sd-1', 'sd-2', 'sdxl'].map(takesClipSkip)).toEqual([true, true, false]);
    expect(takesClipSkip(undefined)).toBe(false);
  });
});
