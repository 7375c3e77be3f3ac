// Model families (the catalogue's `base`: sd-1, sd-2, sdxl, any): the name people know each by,
// the square image size a family's models are made for, and whether they take a CLIP skip. The
// one place that maps them.

const FAMILY_LABELS: Record<string, string> = { 'sd-1': 'SD 1.x', 'sd-2': 'SD 2.x', sdxl: 'SDXL', any: 'Any' };

/**
 * The square size, in pixels, each family is trained at. SD 2.x also has 768 models, but the
 * base 512 ones share its family name; a 768 model says so in its default settings.
 */
const NATIVE_SIZES: Record<string, number> = { 'sd-1': 512, 'sd-2': 512, sdxl: 1024 };

/** A family as people write it ("SDXL", "SD 1.x"); an unknown base as it is. */
export function familyLabel(base: string): string {
  return FAMILY_LABELS[base] ?? base;
}

/** The width and height a family's models are made for, or null for "any" or an unknown base. */
export function nativeSize(base: string | undefined): number | null {
  return (base && NATIVE_SIZES[base]) || null;
}

/**
 * Whether a main model of this family takes a CLIP skip: every family but SDXL, whose two text
 * encoders are read at fixed layers (the server fails an SDXL job with a CLIP skip above 1).
 * False without a model.
 */
export function takesClipSkip(base: string | undefined): boolean {
  return base !== undefined && base !== 'sdxl';
}
