// Inpainting under the init image: painting a mask opens the editor at the image's natural size,
// "Use mask" uploads black and white as an asset and sets its id, "Remove mask", the hints, the
// mask blur (with a mask only), and clearing the init image takes the mask with it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { useState } from 'react';
import { MaskField } from './MaskField';
import { InitImageField } from './InitImageField';
import { DEFAULT_FORM, type GenerateForm } from './formState';

const INIT = { id: 'init-1', owner_id: 'me', width: 64, height: 48, image_url: '/api/v1/images/init-1/full', thumbnail_url: '/api/v1/images/init-1/thumbnail' };

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** The init-image section with its own form state, as the Generate page wires it. */
function Harness({ initial }: { initial: Partial<GenerateForm> }) {
  const [form, setForm] = useState<GenerateForm>({ ...DEFAULT_FORM, ...initial });
  const update = (patch: Partial<GenerateForm>) => setForm((old) => ({ ...old, ...patch }));
  return (
    <>
      <InitImageField
        form={form}
        onStrength={(strength) => update({ strength })}
        onClear={() => update({ init_image_id: '', mask_image_id: '' })}
        onMask={(mask_image_id) => update({ mask_image_id })}
        onMaskBlur={(mask_blur) => update({ mask_blur })}
      />
      <output data-testid="state">{JSON.stringify({ init: form.init_image_id, mask: form.mask_image_id, strength: form.strength, blur: form.mask_blur })}</output>
    </>
  );
}

const state = () => JSON.parse(screen.getByTestId('state').textContent!);

/** A 2D context double: `painted` is what getImageData returns; what is put is recorded. */
function fakeCanvas(painted: Uint8ClampedArray) {
  const put: ImageData[] = [];
  const ctx = {
    getImageData: () => ({ data: painted }),
    createImageData: (width: number, height: number) => ({ data: new Uint8ClampedArray(width * height * 4), width, height }),
    putImageData: (data: ImageData) => put.push(data),
    clearRect: vi.fn(),
  };
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(ctx as never);
  vi.spyOn(HTMLCanvasElement.prototype, 'toBlob').mockImplementation((done: BlobCallback) => done(new Blob(['png'], { type: 'image/png' })));
  return put;
}

describe('MaskField', () => {
  it('offers to paint a mask; with one, shows it, says what white means and removes it', () => {
    const onChange = vi.fn();
    const { rerender } = render(<MaskField initImageId="i1" maskImageId="" maskBlur={8} suggestFullStrength={false} onChange={onChange} onMaskBlur={vi.fn()} onFullStrength={vi.fn()} />);
    expect(screen.getByTestId('gen-mask-paint').textContent).toBe('Paint a mask');
    expect(screen.queryByTestId('gen-mask-thumb')).toBeNull();
    expect(screen.queryByTestId('gen-mask-clear')).toBeNull();

    rerender(<MaskField initImageId="i1" maskImageId="m1" maskBlur={8} suggestFullStrength={false} onChange={onChange} onMaskBlur={vi.fn()} onFullStrength={vi.fn()} />);
    expect(screen.getByTestId('gen-mask-thumb').getAttribute('src')).toBe('/api/v1/images/m1/thumbnail');
    expect(screen.getByTestId('gen-mask-hint').textContent).toMatch(/white part of the mask is repainted/);
    expect(screen.getByTestId('gen-mask-paint').textContent).toBe('Edit mask');
    fireEvent.click(screen.getByTestId('gen-mask-clear'));
    expect(onChange).toHaveBeenCalledWith('');
    expect(document.activeElement).toBe(screen.getByTestId('gen-mask-paint'));
  });

  it('offers the mask blur in pixels only with a mask, described by its hint, starting at 8', () => {
    const { unmount } = render(<Harness initial={{ init_image_id: 'i1' }} />);
    expect(screen.queryByTestId('gen-mask-blur')).toBeNull();
    unmount();

    render(<Harness initial={{ init_image_id: 'i1', mask_image_id: 'm1' }} />);
    const blur = screen.getByLabelText(/Mask blur/) as HTMLInputElement;
    expect(blur).toBe(screen.getByTestId('gen-mask-blur'));
    expect([blur.value, blur.min, blur.max, blur.step]).toEqual(['8', '0', '64', '1']);
    expect(document.getElementById(blur.getAttribute('aria-describedby')!)?.textContent).toMatch(/0 keeps the painted edge/);
    fireEvent.change(blur, { target: { value: '0' } });
    expect(state().blur).toBe(0);
    fireEvent.change(blur, { target: { value: '24' } });
    expect(state().blur).toBe(24);
    fireEvent.click(screen.getByTestId('gen-mask-clear'));
    expect(screen.queryByTestId('gen-mask-blur')).toBeNull();
  });

  it('suggests strength 1 with a mask below it, without forcing it', () => {
    render(<Harness initial={{ init_image_id: 'i1', mask_image_id: 'm1', strength: 0.5 }} />);
    expect(screen.getByTestId('gen-mask-strength-hint').textContent).toMatch(/strength 1.00 usually works best/);
    expect(state().strength).toBe(0.5);
    fireEvent.click(screen.getByTestId('gen-mask-full-strength'));
    expect(state().strength).toBe(1);
    expect(screen.queryByTestId('gen-mask-strength-hint')).toBeNull();
  });

  it('has no hint without a mask, and clearing the init image clears the mask', () => {
    render(<Harness initial={{ init_image_id: 'i1', mask_image_id: 'm1', strength: 0.5 }} />);
    fireEvent.click(screen.getByTestId('gen-init-clear'));
    expect(state()).toEqual({ init: '', mask: '', strength: 0.5, blur: 8 });
    expect(screen.queryByTestId('gen-mask')).toBeNull();
    expect(screen.getByTestId('gen-init-none')).toBeTruthy();
  });

  it('opens the editor over the init image at its natural size, and Cancel closes it', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(INIT), { status: 200 })));
    render(<Harness initial={{ init_image_id: 'init-1' }} />);
    fireEvent.click(screen.getByTestId('gen-mask-paint'));
    const canvas = (await screen.findByTestId('mask-canvas')) as HTMLCanvasElement;
    expect([canvas.width, canvas.height]).toEqual([64, 48]);
    expect(document.querySelector('.mask-stage img')?.getAttribute('src')).toBe(INIT.image_url);
    expect((canvas.parentElement as HTMLElement).style.aspectRatio).toBe('64 / 48');
    fireEvent.click(screen.getByTestId('mask-eraser'));
    expect(screen.getByTestId('mask-eraser').getAttribute('aria-pressed')).toBe('true');
    fireEvent.click(screen.getByTestId('mask-cancel'));
    expect(screen.queryByTestId('mask-editor')).toBeNull();
    expect(state().mask).toBe('');
  });

  it('refuses an empty mask', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(INIT), { status: 200 })));
    fakeCanvas(new Uint8ClampedArray(64 * 48 * 4));
    render(<Harness initial={{ init_image_id: 'init-1' }} />);
    fireEvent.click(screen.getByTestId('gen-mask-paint'));
    await screen.findByTestId('mask-canvas');
    fireEvent.click(screen.getByTestId('mask-use'));
    expect((await screen.findByTestId('mask-error')).textContent).toMatch(/Paint over the part/);
    expect(state().mask).toBe('');
  });

  it('"Use mask" uploads the painting as a black and white mask image and sets it as the mask', async () => {
    const posted: FormData[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        if (init?.method === 'POST' && url === '/api/v1/images?category=mask') {
          posted.push(init.body as FormData);
          return new Response(JSON.stringify({ ...INIT, id: 'mask-9', category: 'mask' }), { status: 201 });
        }
        return new Response(JSON.stringify(INIT), { status: 200 });
      }),
    );
    const painted = new Uint8ClampedArray(64 * 48 * 4);
    painted.set([255, 64, 96, 255], 4); // the second pixel only
    const put = fakeCanvas(painted);
    render(<Harness initial={{ init_image_id: 'init-1' }} />);
    fireEvent.click(screen.getByTestId('gen-mask-paint'));
    await screen.findByTestId('mask-canvas');
    fireEvent.click(screen.getByTestId('mask-use'));
    await waitFor(() => expect(state().mask).toBe('mask-9'));
    expect(screen.queryByTestId('mask-editor')).toBeNull();
    expect(Array.from(put[0].data.slice(0, 12))).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
    expect(posted).toHaveLength(1);
    const file = posted[0].get('file') as File;
    expect([file.name, file.type]).toEqual(['mask.png', 'image/png']);
    expect(screen.getByTestId('gen-mask-thumb').getAttribute('src')).toBe('/api/v1/images/mask-9/thumbnail');
  });
});
