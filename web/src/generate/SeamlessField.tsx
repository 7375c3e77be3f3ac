// The Generate form's "Seamless tiling" checkboxes (left–right and top–bottom), for every model
// family: a tiled image wraps around, so copies of it sit side by side without a seam.
import type { GenerateForm } from './formState';

type Seamless = Pick<GenerateForm, 'seamless_x' | 'seamless_y'>;

interface Props {
  value: Seamless;
  /** Reports the one axis that changed. */
  onChange: (change: Partial<Seamless>) => void;
}

export function SeamlessField({ value, onChange }: Props) {
  return (
    <fieldset className="seamless" title="The image wraps around, so copies of it tile without a seam (for textures and patterns)">
      <legend>Seamless tiling</legend>
      <label className="inline-label">
        <input type="checkbox" checked={value.seamless_x} onChange={(e) => onChange({ seamless_x: e.target.checked })} data-testid="gen-seamless-x" />
        Tile left–right
      </label>
      <label className="inline-label">
        <input type="checkbox" checked={value.seamless_y} onChange={(e) => onChange({ seamless_y: e.target.checked })} data-testid="gen-seamless-y" />
        Tile top–bottom
      </label>
    </fieldset>
  );
}
