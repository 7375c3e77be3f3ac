// The Generate form's "CLIP skip" input (1 to 4), shown only for a model whose family takes one:
// SDXL reads fixed text-encoder layers, so an SDXL model gets no field (and no CLIP skip is sent).
import { CLIP_SKIP } from './formState';
import { takesClipSkip } from '../models/family';

interface Props {
  value: number;
  /** The chosen model's family (undefined without one). */
  base: string | undefined;
  onChange: (clipSkip: number) => void;
}

export function ClipSkipField({ value, base, onChange }: Props) {
  if (!takesClipSkip(base)) return null;
  return (
    <label title="1 reads the text encoder's last layer; 2 the one before, what many SD 1.x anime models expect">
      CLIP skip
      <input
        type="number"
        min={CLIP_SKIP.min}
        max={CLIP_SKIP.max}
        value={value}
        onChange={(e) => onChange(e.target.valueAsNumber || 0)}
        data-testid="gen-clip-skip"
      />
    </label>
  );
}
