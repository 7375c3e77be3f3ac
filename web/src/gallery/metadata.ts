// Pulls the generation parameters out of an image's metadata for the viewer (its rows, and the
// raw parameters behind "Use these parameters").
import { formatLoras } from '../util/format';

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
  ['width', 'Width'],
  ['height', 'Height'],
  ['strength', 'Strength'],
  ['mask_image_id', 'Mask'],
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

/** The generation parameters (the `atelier` PNG chunk) first, then any other text chunks. */
export function metadataRows(metadata: Record<string, unknown> | null | undefined): MetadataRow[] {
  if (!metadata) return [];
  const rows: MetadataRow[] = [];
  const record = generationParams(metadata);
  if (record) {
    for (const [key, label] of FIELDS) {
      // The server records a strength for every job; it means something only from an init image.
      if (key === 'strength' && !record.init_image_id) continue;
      // LoRAs read "name × weight, …"; an empty list or value gets no row. An inpainting mask
      // reads "yes" (its id, like the init image's, means nothing to the reader).
      const value = key === 'loras' ? formatLoras(record[key]) : key === 'mask_image_id' ? (record[key] ? 'yes' : '') : text(record[key]);
      if (value !== '') rows.push({ label, value });
    }
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (key !== 'atelier') rows.push({ label: key, value: text(value) });
  }
  return rows;
}
