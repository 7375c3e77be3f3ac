// The mask's pixels: painted RGBA (alpha = coverage) to opaque black and white, and back for editing.
import { describe, expect, it } from 'vitest';
import { hasPaint, maskToPaint, paintToMask, toCanvas } from './mask';

/** RGBA pixels from [r, g, b, a] quadruples. */
const rgba = (...pixels: number[][]) => Uint8ClampedArray.from(pixels.flat());
const quads = (data: ArrayLike<number>) => Array.from({ length: data.length / 4 }, (_, i) => [data[i * 4], data[i * 4 + 1], data[i * 4 + 2], data[i * 4 + 3]]);

describe('mask pixels', () => {
  it('turns painted pixels white and the rest black, all opaque, whatever the paint colour', () => {
    const painted = rgba([255, 64, 96, 255], [0, 0, 0, 0], [10, 200, 30, 255], [255, 255, 255, 0]);
    expect(quads(paintToMask(painted))).toEqual([
      [255, 255, 255, 255],
      [0, 0, 0, 255],
      [255, 255, 255, 255],
      [0, 0, 0, 255],
    ]);
  });

  it('cuts the brush’s soft edge at half coverage', () => {
    const edge = rgba([255, 64, 96, 127], [255, 64, 96, 128], [255, 64, 96, 1]);
    expect(quads(paintToMask(edge)).map((p) => p[0])).toEqual([0, 255, 0]);
    expect(hasPaint(edge)).toBe(true);
    expect(hasPaint(rgba([255, 64, 96, 127], [0, 0, 0, 0]))).toBe(false);
    expect(hasPaint(new Uint8ClampedArray(0))).toBe(false);
  });

  it('keeps the size: one output pixel per input pixel', () => {
    const layer = new Uint8ClampedArray(64 * 48 * 4);
    const mask = paintToMask(layer);
    expect(mask.length).toBe(layer.length);
    expect(quads(mask).every((p) => p.join() === '0,0,0,255')).toBe(true);
  });

  it('reads a mask image back as paint where it is white (by luma), for editing', () => {
    const mask = rgba([255, 255, 255, 255], [0, 0, 0, 255], [200, 200, 200, 255], [40, 40, 40, 255], [0, 0, 255, 255]);
    expect(quads(maskToPaint(mask, [1, 2, 3]))).toEqual([
      [1, 2, 3, 255],
      [0, 0, 0, 0],
      [1, 2, 3, 255],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    // A round trip keeps what was painted.
    const painted = rgba([255, 64, 96, 255], [0, 0, 0, 0]);
    expect(quads(paintToMask(maskToPaint(paintToMask(painted))))).toEqual(quads(paintToMask(painted)));
  });

  it('maps a point on screen to the canvas’s own pixels', () => {
    const rect = { left: 100, top: 50, width: 512, height: 256 };
    expect(toCanvas({ x: 100, y: 50 }, rect, { width: 64, height: 32 })).toEqual({ x: 0, y: 0, scale: 0.125 });
    expect(toCanvas({ x: 612, y: 306 }, rect, { width: 64, height: 32 })).toEqual({ x: 64, y: 32, scale: 0.125 });
    expect(toCanvas({ x: 356, y: 178 }, rect, { width: 1024, height: 512 })).toEqual({ x: 512, y: 256, scale: 2 });
  });
});
