// Small formatters for sizes, dates and counts shown in tables.

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** GPU time as "0 s", "0.4 s", "42 s", "3.5 min" or "1.2 h" (a negative or non-finite value is "—"). */
export function formatGpuSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds === 0) return '0 s';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Bytes as MiB with one decimal (worker memory is compared in MiB). */
export function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** LoRA choices as "name × weight, …" ('' for none or anything that is not a list of them). */
export function formatLoras(loras: unknown): string {
  if (!Array.isArray(loras)) return '';
  return loras
    .filter((l): l is { name: string; weight?: unknown } => !!l && typeof l === 'object' && typeof l.name === 'string')
    .map((l) => (typeof l.weight === 'number' ? `${l.name} × ${l.weight}` : l.name))
    .join(', ');
}

/** An inpainting mask's blur as "8 px"; absent (the server leaves 0 out) or malformed is "0 px". */
export function formatMaskBlur(blur: unknown): string {
  return `${typeof blur === 'number' && Number.isFinite(blur) ? blur : 0} px`;
}

/** A recorded CLIP skip as its number when it skips layers (above 1); '' for 1, absent (the server leaves 1 out) or malformed. */
export function formatClipSkip(clipSkip: unknown): string {
  return typeof clipSkip === 'number' && Number.isInteger(clipSkip) && clipSkip > 1 ? String(clipSkip) : '';
}

/**
 * The axes a job tiles seamlessly along, "X+Y", "X" or "Y" (x: left–right, y: top–bottom); '' for
 * neither (the server leaves false out) or anything but true.
 */
export function formatSeamless(x: unknown, y: unknown): string {
  return [x === true ? 'X' : '', y === true ? 'Y' : ''].filter(Boolean).join('+');
}

const MODEL_TYPES: Record<string, string> = { main: 'Main', vae: 'VAE', lora: 'LoRA' };

/** A catalogue model's type as people write it ("Main", "LoRA", not "main", "lora"). */
export function formatModelType(type: string): string {
  return MODEL_TYPES[type] ?? type;
}
