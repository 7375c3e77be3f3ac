// A model's details: default generation settings for main models only (a LoRA or VAE is never
// picked on its own), so saving a LoRA sends no defaults.
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
