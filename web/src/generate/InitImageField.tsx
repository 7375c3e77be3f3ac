// The Generate form's "Init image" section: the chosen image's thumbnail, the strength slider,
// Clear and an optional inpainting mask with its blur; without one it says how to pick one (the image viewer's
// "Use as init image").
import { thumbnailUrl } from '../api/images';
import { effectiveSteps, STRENGTH, suggestFullStrength, type GenerateForm } from './formState';
import { MaskField } from './MaskField';

interface Props {
  form: GenerateForm;
  onStrength: (strength: number) => void;
  /** Clears the init image and its mask. */
  onClear: () => void;
  /** Sets the mask ('' removes it). */
  onMask: (maskImageId: string) => void;
  onMaskBlur: (maskBlur: number) => void;
}

export function InitImageField({ form, onStrength, onClear, onMask, onMaskBlur }: Props) {
  return (
    <fieldset className="init-image" data-testid="gen-init">
      <legend>Init image</legend>
      {form.init_image_id ? (
        <div className="init-image-body">
          <img src={thumbnailUrl(form.init_image_id)} alt="Init image" className="init-thumb" data-testid="gen-init-thumb" />
          <div className="stack">
            <label>
              <span>
                Strength <output data-testid="gen-strength-value">{form.strength.toFixed(2)}</output>
              </span>
              <input
                type="range"
                min={STRENGTH.min}
                max={STRENGTH.max}
                step={STRENGTH.step}
                value={form.strength}
                onChange={(e) => onStrength(Number(e.target.valueAsNumber.toFixed(2)))}
                data-testid="gen-strength"
              />
            </label>
            <p className="muted small">
              Runs {effectiveSteps(form)} of {form.steps} steps. Lower keeps more of the image.
            </p>
            <button type="button" className="secondary small-button" onClick={onClear} data-testid="gen-init-clear">
              Clear
            </button>
          </div>
          <MaskField
            initImageId={form.init_image_id}
            maskImageId={form.mask_image_id}
            maskBlur={form.mask_blur}
            suggestFullStrength={suggestFullStrength(form)}
            onChange={onMask}
            onMaskBlur={onMaskBlur}
            onFullStrength={() => onStrength(STRENGTH.max)}
          />
        </div>
      ) : (
        <p className="muted small" data-testid="gen-init-none">
          None. To start from one of your images, open it in the Gallery and choose “Use as init image”.
        </p>
      )}
    </fieldset>
  );
}
