// A model's details: default generation settings for main models only (a LoRA or VAE is never
// picked on its own), so saving a LoRA sends no defaults; a CLIP skip default for SD 1.x and 2.x
// models only, sent as a number ('' for none), with the server's refusal shown.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { ModelDetails } from './ModelDetails';
import type { Model } from '../api/types';

const model = (type: Model['type'], name: string): Model => ({
  id: `id-${name}`,
  name,
  base: 'sd-1',
  type,
  format: 'safetensors',
  size_bytes: 1024,
  hash: 'blake3:00',
  defaults: type === 'main' ? { steps: 4 } : {},
  description: '',
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
});

afterEach(() => vi.unstubAllGlobals());

describe('ModelDetails', () => {
  it('edits the default settings of a main model', () => {
    render(<ModelDetails model={model('main', 'tiny')} canEdit onSaved={vi.fn()} onDeleted={vi.fn()} />);
    expect(screen.getByTestId('model-type').textContent).toBe('Main');
    expect(screen.getByTestId('model-base').textContent).toBe('SD 1.x');
    expect(screen.getByTestId('model-defaults')).toBeTruthy();
    expect((screen.getByTestId('model-default-steps') as HTMLInputElement).value).toBe('4');
  });

  it('edits a CLIP skip default: sent as a number, left out when empty', async () => {
    const fetch = vi.fn(async (_url: string, init: RequestInit) => new Response(init.body as string, { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    const onSaved = vi.fn();
    render(<ModelDetails model={{ ...model('main', 'anime'), defaults: { steps: 4, clip_skip: 2 } }} canEdit onSaved={onSaved} onDeleted={vi.fn()} />);
    const clipSkip = screen.getByTestId('model-default-clip_skip') as HTMLInputElement;
    expect(screen.getByLabelText('CLIP skip')).toBe(clipSkip);
    expect(clipSkip.value).toBe('2');
    fireEvent.change(clipSkip, { target: { value: '3' } });
    fireEvent.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(onSaved).toHaveBeenCalledTimes(1));
    expect(JSON.parse(fetch.mock.calls[0][1].body as string).defaults).toEqual({ steps: 4, clip_skip: 3 });

    fireEvent.change(clipSkip, { target: { value: '' } });
    fireEvent.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(onSaved).toHaveBeenCalledTimes(2));
    expect(JSON.parse(fetch.mock.calls[1][1].body as string).defaults).toEqual({ steps: 4 });
  });

  it('shows the server’s refusal of a CLIP skip outside 1 to 4, as for the other settings', async () => {
    const refusal = { error: { code: 'validation_failed', message: 'defaults: clip_skip must be between 1 and 4' } };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(refusal), { status: 422 })));
    const onSaved = vi.fn();
    render(<ModelDetails model={model('main', 'tiny')} canEdit onSaved={onSaved} onDeleted={vi.fn()} />);
    fireEvent.change(screen.getByTestId('model-default-clip_skip'), { target: { value: '5' } });
    fireEvent.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(screen.getByTestId('model-error').textContent).toContain('clip_skip must be between 1 and 4'));
    expect(onSaved).not.toHaveBeenCalled();
  });

  it('offers no CLIP skip for an SDXL model', () => {
    render(<ModelDetails model={{ ...model('main', 'xl'), base: 'sdxl' }} canEdit onSaved={vi.fn()} onDeleted={vi.fn()} />);
    expect(screen.getByTestId('model-default-steps')).toBeTruthy();
    expect(screen.queryByTestId('model-default-clip_skip')).toBeNull();
  });

  it('shows a LoRA as such, without default settings, and saves only its name and description', async () => {
    const fetch = vi.fn(async (_url: string, init: RequestInit) => new Response(init.body as string, { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    const onSaved = vi.fn();
    render(<ModelDetails model={model('lora', 'tiny-lora')} canEdit onSaved={onSaved} onDeleted={vi.fn()} />);
    expect(screen.getByTestId('model-type').textContent).toBe('LoRA');
    expect(screen.queryByTestId('model-defaults')).toBeNull();
    fireEvent.change(screen.getByTestId('model-description'), { target: { value: 'a style' } });
    fireEvent.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(JSON.parse(fetch.mock.calls[0][1].body as string)).toEqual({ name: 'tiny-lora', description: 'a style' });
  });
});
