// Inpainting, under the init image: "Paint a mask" (the editor), then the mask's thumbnail with
// "Edit mask" and "Remove mask", what white and black mean, the mask blur, and strength 1
// suggested with a mask.
import { useCallback, useId, useRef, useState } from 'react';
import { createPortal } from 'react-dom';
import { thumbnailUrl } from '../api/images';
import { MaskEditor } from './MaskEditor';
import { MASK_BLUR } from './formState';

interface Props {
  initImageId: string;
  /** '' for none. */
  maskImageId: string;
  /** Pixels over which the repainted region fades into the kept one (shown with a mask only). */
  maskBlur: number;
  /** Whether to suggest strength 1 (a mask and a lower strength). */
  suggestFullStrength: boolean;
  onChange: (maskImageId: string) => void;
  onMaskBlur: (maskBlur: number) => void;
  onFullStrength: () => void;
}

export function MaskField({ initImageId, maskImageId, maskBlur, suggestFullStrength, onChange, onMaskBlur, onFullStrength }: Props) {
  const [editing, setEditing] = useState(false);
  const blurHint = useId();
  const paintButton = useRef<HTMLButtonElement>(null);
  // Stable, so the dialog keeps its focus while the page re-renders.
  const close = useCallback(() => setEditing(false), []);
  const use = (id: string) => {
    setEditing(false);
    onChange(id);
  };
  const remove = () => {
    onChange('');
    paintButton.current?.focus();
  };

  return (
    <div className="mask-field" data-testid="gen-mask">
      {maskImageId && <img src={thumbnailUrl(maskImageId)} alt="Mask" className="mask-thumb" data-testid="gen-mask-thumb" />}
      <div className="stack">
        <p className="muted small" data-testid="gen-mask-hint">
          {maskImageId ? 'Inpainting: the white part of the mask is repainted, the black part is kept as it is.' : 'To repaint only part of the image, paint a mask over it.'}
        </p>
        <div className="row">
          <button type="button" className="secondary small-button" ref={paintButton} onClick={() => setEditing(true)} data-testid="gen-mask-paint">
            {maskImageId ? 'Edit mask' : 'Paint a mask'}
          </button>
          {maskImageId && (
            <button type="button" className="secondary small-button" onClick={remove} data-testid="gen-mask-clear">
              Remove mask
            </button>
          )}
        </div>
        {maskImageId && (
          <div className="mask-blur">
            <label className="inline-label">
              Mask blur
              <input
                type="number"
                min={MASK_BLUR.min}
                max={MASK_BLUR.max}
                step={1}
                value={maskBlur}
                onChange={(e) => onMaskBlur(e.target.valueAsNumber || 0)}
                aria-describedby={blurHint}
                data-testid="gen-mask-blur"
              />
              px
            </label>
            <p id={blurHint} className="muted small">
              Fades the repainted part into the rest; 0 keeps the painted edge.
            </p>
          </div>
        )}
        {suggestFullStrength && (
          <p className="hint small" data-testid="gen-mask-strength-hint">
            With a mask, strength 1.00 usually works best: the masked part is painted afresh.{' '}
            <button type="button" className="inline-link" onClick={onFullStrength} data-testid="gen-mask-full-strength">
              Use 1.00
            </button>
          </p>
        )}
      </div>
      {editing && createPortal(<MaskEditor initImageId={initImageId} maskImageId={maskImageId} onUse={use} onCancel={close} />, document.body)}
    </div>
  );
}
