// Shows a queue item's parameters (an init image only as "from image", and its mask as "with a
// mask" and its blur, without their ids; the CLIP skip above 1, the seamless tiling axes, the VAE
// and LoRAs when chosen), or "<hidden>" when they belong to another user.
import type { GenerationParams } from '../api/types';
import { formatClipSkip, formatLoras, formatMaskBlur, formatSeamless } from '../util/format';

export const HIDDEN = '<hidden>';

/** True when the server redacted the parameters (another user's item). */
export function isHidden(params: QueueItemParams): params is string {
  return typeof params === 'string';
}

type QueueItemParams = Partial<GenerationParams> | string;

export function ParamsSummary({ params }: { params: QueueItemParams }) {
  if (isHidden(params)) {
    return (
      <span className="hidden-params" data-testid="params-hidden">
        {HIDDEN}
      </span>
    );
  }
  const loras = formatLoras(params.loras);
  const clipSkip = formatClipSkip(params.clip_skip);
  const seamless = formatSeamless(params.seamless_x, params.seamless_y);
  // "(blur 8 px, strength 1)": what there is of the two, in one pair of brackets.
  const initDetails = [
    params.mask_image_id ? `blur ${formatMaskBlur(params.mask_blur)}` : '',
    params.strength !== undefined ? `strength ${params.strength}` : '',
  ].filter(Boolean);
  return (
    <span className="params" data-testid="params-visible">
      <span className="params-prompt" data-testid="params-prompt">
        {params.prompt || <em>(empty prompt)</em>}
      </span>
      <span className="muted">
        {' '}
        · {params.model} · {params.width}×{params.height} · {params.steps} steps · {params.sampler}
        {params.seed !== undefined ? ` · seed ${params.seed}` : ''}
        {params.num_images && params.num_images > 1 ? ` · ×${params.num_images}` : ''}
      </span>
      {clipSkip && (
        <span className="muted" data-testid="params-clip-skip">
          {' '}
          · CLIP skip {clipSkip}
        </span>
      )}
      {seamless && (
        <span className="muted" data-testid="params-seamless">
          {' '}
          · seamless {seamless}
        </span>
      )}
      {params.vae && (
        <span className="muted" data-testid="params-vae">
          {' '}
          · VAE {params.vae}
        </span>
      )}
      {loras && (
        <span className="muted" data-testid="params-loras">
          {' '}
          · LoRAs {loras}
        </span>
      )}
      {params.init_image_id && (
        <span className="muted" data-testid="params-init">
          {' '}
          · from image{params.mask_image_id ? ' with a mask' : ''}
          {initDetails.length ? ` (${initDetails.join(', ')})` : ''}
        </span>
      )}
    </span>
  );
}
