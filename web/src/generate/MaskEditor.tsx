// The inpainting mask editor: the init image with a canvas over it (at the image's natural size)
// on which the user paints, with the mouse, a pen or a finger, what to repaint; a brush size, an
// eraser and Clear. "Use mask" uploads the mask (white: repaint, black: keep) as one of the user's
// assets and hands back its id. An existing mask is loaded for editing. Closing it (Cancel, ×,
// Escape or a click outside) after painting asks first, so a stray key or click loses nothing.
import { useCallback, useEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';
import { getImage, uploadImage } from '../api/images';
import { errorMessage } from '../api/client';
import type { Image } from '../api/types';
import { Modal } from '../components/Modal';
import { ErrorBanner } from '../components/ErrorBanner';
import { hasPaint, maskToPaint, paintToMask, PAINT, toCanvas } from './mask';

interface Props {
  initImageId: string;
  /** The mask in use, loaded for editing; '' for none. */
  maskImageId: string;
  onUse: (maskImageId: string) => void;
  /** Closes the editor, dropping what was painted; stable (the dialog's focus depends on it). */
  onCancel: () => void;
}

/** The brush's diameter in screen pixels (the same on screen whatever the image's size). */
export const BRUSH = { min: 4, max: 160, step: 4, default: 40 } as const;

type Point = { x: number; y: number };

/** Reads an image (same origin) into RGBA pixels at this size. */
async function readPixels(url: string, width: number, height: number): Promise<Uint8ClampedArray> {
  const img = new window.Image();
  img.src = url;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  ctx.drawImage(img, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height).data;
}

/** The painted layer as the mask PNG (opaque black and white, the layer's size). */
async function maskPng(layer: HTMLCanvasElement): Promise<File | null> {
  const { width, height } = layer;
  const painted = layer.getContext('2d')?.getImageData(0, 0, width, height).data;
  if (!painted || !hasPaint(painted)) return null;
  const out = document.createElement('canvas');
  out.width = width;
  out.height = height;
  const ctx = out.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  const mask = ctx.createImageData(width, height);
  mask.data.set(paintToMask(painted));
  ctx.putImageData(mask, 0, 0);
  const blob = await new Promise<Blob | null>((resolve) => out.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the mask could not be encoded');
  return new File([blob], 'mask.png', { type: 'image/png' });
}

export function MaskEditor({ initImageId, maskImageId, onUse, onCancel }: Props) {
  const [init, setInit] = useState<Image | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [brush, setBrush] = useState<number>(BRUSH.default);
  const [eraser, setEraser] = useState(false);
  const [busy, setBusy] = useState(false);
  /** Whether "Discard the painting?" is shown, after a request to close with changes. */
  const [askingToDiscard, setAskingToDiscard] = useState(false);
  const canvas = useRef<HTMLCanvasElement>(null);
  const last = useRef<Point | null>(null);
  /** Whether the user painted, erased or cleared since the editor opened (a ref: closing reads it). */
  const changed = useRef(false);
  const keepButton = useRef<HTMLButtonElement>(null);
  const cancelButton = useRef<HTMLButtonElement>(null);
  // The prompt's "Keep painting" takes the focus (so Enter, like Escape, keeps the painting); when
  // the prompt goes, Cancel takes it in its place rather than the page behind the dialog.
  const wasAsking = useRef(false);
  useEffect(() => {
    if (askingToDiscard) keepButton.current?.focus();
    else if (wasAsking.current) cancelButton.current?.focus();
    wasAsking.current = askingToDiscard;
  }, [askingToDiscard]);
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );

  useEffect(() => {
    getImage(initImageId).then(setInit, (e) => setError(errorMessage(e)));
  }, [initImageId]);

  // Once the canvas is there: the existing mask, as paint.
  useEffect(() => {
    if (!init || !maskImageId) return;
    let current = true;
    (async () => {
      const mask = await getImage(maskImageId);
      const pixels = await readPixels(mask.image_url, init.width, init.height);
      const ctx = canvas.current?.getContext('2d');
      if (!current || !ctx) return;
      // Under whatever was painted while it loaded.
      const loaded = document.createElement('canvas');
      loaded.width = init.width;
      loaded.height = init.height;
      const lctx = loaded.getContext('2d');
      if (!lctx) return;
      const layer = lctx.createImageData(init.width, init.height);
      layer.data.set(maskToPaint(pixels));
      lctx.putImageData(layer, 0, 0);
      ctx.globalCompositeOperation = 'destination-over';
      ctx.drawImage(loaded, 0, 0);
    })().catch((e) => current && setError(`The current mask could not be loaded: ${errorMessage(e)}`));
    return () => {
      current = false;
    };
  }, [init, maskImageId]);

  const at = (event: ReactPointerEvent<HTMLCanvasElement>) => {
    const c = event.currentTarget;
    return toCanvas({ x: event.clientX, y: event.clientY }, c.getBoundingClientRect(), c);
  };

  /** Paints (or erases) a round-capped line from `from` to `to`, in canvas pixels. */
  const stroke = (from: Point, to: Point, scale: number) => {
    const ctx = canvas.current?.getContext('2d');
    if (!ctx) return;
    const width = Math.max(1, brush * scale);
    ctx.globalCompositeOperation = eraser ? 'destination-out' : 'source-over';
    ctx.strokeStyle = ctx.fillStyle = `rgb(${PAINT.join(', ')})`;
    ctx.lineWidth = width;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    if (from.x === to.x && from.y === to.y) {
      ctx.arc(to.x, to.y, width / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
  };

  const down = (event: ReactPointerEvent<HTMLCanvasElement>) => {
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    event.preventDefault();
    changed.current = true;
    event.currentTarget.setPointerCapture(event.pointerId);
    const p = at(event);
    last.current = p;
    stroke(p, p, p.scale);
  };
  const move = (event: ReactPointerEvent<HTMLCanvasElement>) => {
    if (!last.current) return;
    const p = at(event);
    stroke(last.current, p, p.scale);
    last.current = p;
  };
  const up = () => {
    last.current = null;
  };

  const clear = () => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    if (hasPaint(ctx.getImageData(0, 0, c.width, c.height).data)) changed.current = true;
    ctx.clearRect(0, 0, c.width, c.height);
  };

  // Every way of closing (Cancel, ×, Escape, a click outside) comes here. Without changes it
  // closes; with changes it asks, and asking again (a second Escape) means "keep painting".
  const requestClose = useCallback(() => {
    if (!changed.current) return onCancel();
    setAskingToDiscard((asking) => !asking);
  }, [onCancel]);

  const use = async () => {
    if (!canvas.current) return;
    setBusy(true);
    setError(null);
    try {
      const file = await maskPng(canvas.current);
      if (!file) {
        setError('Paint over the part of the image to repaint first.');
        return;
      }
      const uploaded = await uploadImage(file, null, 'mask');
      if (live.current) onUse(uploaded.id);
    } catch (e) {
      if (live.current) setError(`The mask could not be saved: ${errorMessage(e)}`);
    } finally {
      if (live.current) setBusy(false);
    }
  };

  const ratio = init ? init.width / init.height : 1;
  return (
    <Modal title="Paint a mask" onClose={requestClose} testId="mask-editor" className="modal-mask">
      <ErrorBanner message={error} onDismiss={() => setError(null)} testId="mask-error" />
      <p className="muted small">
        Paint over what to repaint; the rest of the image is kept exactly. The mask is {init ? `${init.width}×${init.height}, ` : ''}the init image's own size.
      </p>
      {init ? (
        <div className="mask-stage" style={{ aspectRatio: `${init.width} / ${init.height}`, width: `min(100%, ${(55 * ratio).toFixed(2)}vh)` }}>
          <img src={init.image_url} alt="Init image" draggable={false} />
          <canvas
            ref={canvas}
            width={init.width}
            height={init.height}
            className={eraser ? 'erasing' : undefined}
            onPointerDown={down}
            onPointerMove={move}
            onPointerUp={up}
            onPointerCancel={up}
            onLostPointerCapture={up}
            aria-label="Mask: paint the part to repaint"
            data-testid="mask-canvas"
          />
        </div>
      ) : (
        !error && <p className="muted">Loading the image…</p>
      )}
      <div className="row mask-tools">
        <label className="inline-label">
          <span>
            Brush <output data-testid="mask-brush-value">{brush}</output>
          </span>
          <input
            type="range"
            min={BRUSH.min}
            max={BRUSH.max}
            step={BRUSH.step}
            value={brush}
            onChange={(e) => setBrush(e.target.valueAsNumber)}
            data-testid="mask-brush"
          />
        </label>
        <button type="button" className="secondary" aria-pressed={eraser} onClick={() => setEraser((on) => !on)} data-testid="mask-eraser">
          {eraser ? 'Eraser on' : 'Eraser'}
        </button>
        <button type="button" className="secondary" onClick={clear} disabled={!init} data-testid="mask-clear">
          Clear
        </button>
      </div>
      {askingToDiscard ? (
        <div className="confirm mask-actions" role="group" aria-label="Discard the painting" data-testid="mask-discard-prompt">
          <span>Discard this painting? It is not the mask yet.</span>
          <button type="button" className="secondary" onClick={() => setAskingToDiscard(false)} ref={keepButton} data-testid="mask-keep">
            Keep painting
          </button>
          <button type="button" className="danger" onClick={onCancel} data-testid="mask-discard">
            Discard
          </button>
        </div>
      ) : (
        <div className="row mask-actions">
          <button type="button" className="secondary" onClick={requestClose} ref={cancelButton} data-testid="mask-cancel">
            Cancel
          </button>
          <button type="button" className="primary" onClick={() => void use()} disabled={!init || busy} data-testid="mask-use">
            {busy ? 'Saving…' : 'Use mask'}
          </button>
        </div>
      )}
    </Modal>
  );
}
