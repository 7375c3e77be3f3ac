// The inpainting mask's pixels, without a canvas: the editor paints in one colour on a transparent
// layer, and the mask the server reads is opaque black (keep) and white (repaint).

/** The colour the editor paints with (shown semi-transparent over the init image). */
export const PAINT: readonly [number, number, number] = [255, 64, 96];

/** Painted pixels are those at least half covered (the brush's anti-aliased edge is cut here). */
const HALF = 128;

/** Whether any pixel of a painted RGBA layer counts as painted. */
export function hasPaint(rgba: ArrayLike<number>): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] >= HALF) return true;
  return false;
}

/**
 * The mask for a painted RGBA layer, as opaque RGBA: white where painted (alpha at least half),
 * black elsewhere.
 */
export function paintToMask(rgba: ArrayLike<number>): Uint8ClampedArray {
  const out = new Uint8ClampedArray(rgba.length);
  for (let i = 0; i + 3 < rgba.length; i += 4) {
    const v = rgba[i + 3] >= HALF ? 255 : 0;
    out[i] = v;
    out[i + 1] = v;
    out[i + 2] = v;
    out[i + 3] = 255;
  }
  return out;
}

/**
 * The painted layer for a mask image's RGBA pixels (to edit a mask again): the paint colour where
 * the mask is at least half white (luma, as the server reads it), transparent elsewhere.
 */
export function maskToPaint(rgba: ArrayLike<number>, paint: readonly [number, number, number] = PAINT): Uint8ClampedArray {
  const out = new Uint8ClampedArray(rgba.length);
  for (let i = 0; i + 3 < rgba.length; i += 4) {
    // Rec. 601 luma, as image's to-grayscale conversion weighs it.
    const luma = 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
    if (luma < HALF) continue;
    out[i] = paint[0];
    out[i + 1] = paint[1];
    out[i + 2] = paint[2];
    out[i + 3] = 255;
  }
  return out;
}

/** A point in the canvas's own pixels for a point on screen, with how many canvas pixels one screen pixel is. */
export function toCanvas(
  client: { x: number; y: number },
  rect: { left: number; top: number; width: number; height: number },
  size: { width: number; height: number },
): { x: number; y: number; scale: number } {
  const sx = rect.width > 0 ? size.width / rect.width : 1;
  const sy = rect.height > 0 ? size.height / rect.height : 1;
  return { x: (client.x - rect.left) * sx, y: (client.y - rect.top) * sy, scale: sx };
}
