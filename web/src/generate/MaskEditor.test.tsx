// Closing the mask editor: untouched, it closes at once whichever way; after painting, Cancel, ×,
// Escape and a click outside all ask before the painting is thrown away, and "Keep painting"
// (or a second Escape) goes back to it.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { MaskField } from './MaskField';

const INIT = { id: 'init-1', owner_id: 'me', width: 64, height: 48, image_url: '/api/v1/images/init-1/full', thumbnail_url: '/api/v1/images/init-1/thumbnail' };

/** A 2D context double that takes strokes; `painted` is what getImageData returns. */
function fakeCanvas(painted: Uint8ClampedArray) {
  const ctx = {
    getImageData: () => ({ data: painted }),
    clearRect: vi.fn(() => painted.fill(0)),
    beginPath: vi.fn(),
    arc: vi.fn(),
    fill: vi.fn(() => painted.set([255, 64, 96, 255], 0)),
    moveTo: vi.fn(),
    lineTo: vi.fn(),
    stroke: vi.fn(),
  };
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(ctx as never);
  // jsdom has no pointer capture.
  HTMLCanvasElement.prototype.setPointerCapture = () => undefined;
  return ctx;
}

beforeEach(() => {
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(INIT), { status: 200 })));
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** Opens the editor from the Generate form's mask field; returns the field's onChange. */
async function openEditor() {
  const onChange = vi.fn();
  render(<MaskField initImageId="init-1" maskImageId="" maskBlur={8} suggestFullStrength={false} onChange={onChange} onMaskBlur={vi.fn()} onFullStrength={vi.fn()} />);
  fireEvent.click(screen.getByTestId('gen-mask-paint'));
  const canvas = await screen.findByTestId('mask-canvas');
  return { onChange, canvas };
}

const paint = (canvas: HTMLElement) => fireEvent.pointerDown(canvas, { pointerType: 'mouse', button: 0, pointerId: 1, clientX: 5, clientY: 5 });
const pressEscape = () => fireEvent.keyDown(document, { key: 'Escape' });
const clickOutside = () => fireEvent.mouseDown(document.querySelector('.modal-backdrop')!);
const editorOpen = () => screen.queryByTestId('mask-editor') !== null;
const asking = () => screen.queryByTestId('mask-discard-prompt') !== null;

describe('closing the mask editor', () => {
  it('closes at once with Escape or a click outside when nothing was painted', async () => {
    fakeCanvas(new Uint8ClampedArray(64 * 48 * 4));
    await openEditor();
    pressEscape();
    expect(editorOpen()).toBe(false);

    fireEvent.click(screen.getByTestId('gen-mask-paint'));
    await screen.findByTestId('mask-canvas');
    clickOutside();
    expect(editorOpen()).toBe(false);
  });

  it('asks before Escape throws a painting away; a second Escape or "Keep painting" goes back to it', async () => {
    const ctx = fakeCanvas(new Uint8ClampedArray(64 * 48 * 4));
    const { canvas } = await openEditor();
    paint(canvas);
    expect(ctx.fill).toHaveBeenCalled();

    pressEscape();
    expect(editorOpen()).toBe(true);
    expect(asking()).toBe(true);
    expect(document.activeElement).toBe(screen.getByTestId('mask-keep'));
    expect(ctx.clearRect).not.toHaveBeenCalled();

    pressEscape();
    expect(asking()).toBe(false);
    expect(editorOpen()).toBe(true);
    expect(document.activeElement).toBe(screen.getByTestId('mask-cancel'));

    pressEscape();
    fireEvent.click(screen.getByTestId('mask-keep'));
    expect(asking()).toBe(false);
    expect(editorOpen()).toBe(true);
  });

  it('asks too on a click outside, on × and on Cancel; "Discard" closes without a mask', async () => {
    fakeCanvas(new Uint8ClampedArray(64 * 48 * 4));
    const { canvas, onChange } = await openEditor();
    paint(canvas);

    clickOutside();
    expect(asking()).toBe(true);
    fireEvent.click(screen.getByTestId('mask-keep'));
    fireEvent.click(screen.getByTestId('modal-close'));
    expect(asking()).toBe(true);
    fireEvent.click(screen.getByTestId('mask-keep'));
    fireEvent.click(screen.getByTestId('mask-cancel'));
    expect(asking()).toBe(true);
    expect(editorOpen()).toBe(true);

    fireEvent.click(screen.getByTestId('mask-discard'));
    expect(editorOpen()).toBe(false);
    expect(onChange).not.toHaveBeenCalled();
  });

  it('counts Clear on a painted canvas as a change, but not on an empty one', async () => {
    const painted = new Uint8ClampedArray(64 * 48 * 4);
    fakeCanvas(painted);
    await openEditor();
    fireEvent.click(screen.getByTestId('mask-clear'));
    pressEscape();
    expect(editorOpen()).toBe(false);

    painted.set([255, 64, 96, 255], 0); // as a loaded mask would be
    fireEvent.click(screen.getByTestId('gen-mask-paint'));
    await screen.findByTestId('mask-canvas');
    fireEvent.click(screen.getByTestId('mask-clear'));
    pressEscape();
    expect(asking()).toBe(true);
  });
});
