// Pulls the generation parameters out of an image's metadata for the viewer (its rows, and the
// raw parameters behind "Use these parameters").
import { formatClipSkip, formatLoras, formatMaskBlur, formatSeamless } from '../util/format';

export interface MetadataRow {
  label: string;
  value: string;
}

const FIELDS: [string, string][] = [
  ['prompt', 'Prompt'],
  ['negative_prompt', 'Negative prompt'],
  ['model', 'Model'],
  ['vae', 'VAE'],
  ['loras', 'LoRAs'],
  ['seed', 'Seed'],
  ['steps', 'Steps'],
  ['cfg_scale', 'CFG scale'],
  ['sampler', 'Sampler'],
  ['clip_skip', 'CLIP skip'],
  // Not a key of its own: seamless_x and seamless_y in one row.
  ['seamless', 'Seamless tiling'],
  ['width', 'Width'],
  ['height', 'Height'],
  ['strength', 'Strength'],
  ['mask_image_id', 'Mask'],
  ['mask_blur', 'Mask blur'],
];

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The parameters an image was generated with (its `atelier` PNG chunk), or null when it has none. */
export function generationParams(metadata: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  const params = metadata?.atelier;
  if (!params || typeof params !== 'object' || Array.isArray(params)) return null;
  return params as Record<string, unknown>;
}

/**
 * One parameter as the viewer shows it ('' for no row). LoRAs read "name × weight, …". An
 * inpainting mask reads "yes" (its id, like the init image's, means nothing to the reader), and
 * its blur "8 px", shown with a mask only (the server leaves a blur of 0 out). A CLIP skip shows
 * above 1 only (the server leaves 1 out), and seamless tiling as its axes ("X+Y", "X", "Y") when
 * on (the server leaves false out).
 */
function rowValue(key: string, record: Record<string, unknown>): string {
  if (key === 'loras') return formatLoras(record.loras);
  if (key === 'mask_image_id') return record.mask_image_id ? 'yes' : '';
  if (key === 'clip_skip') return formatClipSkip(record.clip_skip);
  if (key === 'seamless') return formatSeamless(record.seamless_x, record.seamless_y);
  if (key === 'mask_blur') return record.mask_image_id ? formatMaskBlur(record.mask_blur) : '';
  return text(record[key]);
}

/** The generation parameters (the `atelier` PNG chunk) first, then any other text chunks. */
export function metadataRows(metadata: Record<string, unknown> | null | undefined): MetadataRow[] {
  if (!metadata) return [];
  const rows: MetadataRow[] = [];
  const record = generationParams(metadata);
  if (record) {
    for (const [key, label] of FIELDS) {
      // The server records a strength for every job; it means something only from an init image.
      if (key === 'strength' && !record.init_image_id) continue;
      const value = rowValue(key, record);
      if (value !== '') rows.push({ label, value });
    }
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (key !== 'atelier') rows.push({ label: key, value: text(value) });
  }
  return rows;
}
