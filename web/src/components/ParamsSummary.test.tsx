// Queue parameters (with the CLIP skip, seamless tiling, VAE, LoRAs and mask blur when there are any): shown for your own items, "<hidden>" for everyone else's; who gets Cancel and Retry.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import { ParamsSummary } from './ParamsSummary';
import { QueueTable } from '../pages/QueuePage';
import type { QueueItem } from '../api/types';

const base: Omit<QueueItem, 'id' | 'params' | 'is_mine' | 'owner_name'> = {
  owner_id: null,
  status: 'pending',
  position: 1,
  error: null,
  result_image_ids: [],
  created_at: '2026-01-01T00:00:00Z',
  started_at: null,
  finished_at: null,
  seq: 0,
};

describe('ParamsSummary', () => {
  it('renders the redacted string as <hidden>', () => {
    render(<ParamsSummary params="<hidden>" />);
    expect(screen.getByTestId('params-hidden').textContent).toBe('<hidden>');
    expect(screen.queryByTestId('params-visible')).toBeNull();
  });

  it('renders own parameters', () => {
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a cat', width: 64, height: 64, steps: 4, sampler: 'euler', seed: 7 }} />);
    expect(screen.getByTestId('params-prompt').textContent).toBe('a cat');
    expect(screen.getByTestId('params-visible').textContent).toContain('seed 7');
    expect(screen.queryByTestId('params-init')).toBeNull();
  });

  it('labels an init image without its id', () => {
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a dog', steps: 4, init_image_id: '0190-secret-id', strength: 0.5 }} />);
    const init = screen.getByTestId('params-init');
    expect(init.textContent).toContain('from image (strength 0.5)');
    expect(screen.getByTestId('params-visible').textContent).not.toContain('0190-secret-id');
  });

  it('says an init image has a mask, and its blur, without its id', () => {
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a dog', steps: 4, init_image_id: 'i1', mask_image_id: '0190-mask-id', mask_blur: 8, strength: 1 }} />);
    expect(screen.getByTestId('params-init').textContent).toBe(' · from image with a mask (blur 8 px, strength 1)');
    expect(screen.getByTestId('params-visible').textContent).not.toContain('0190-mask-id');
  });

  it('reads a mask without a recorded blur as 0 px (the server leaves 0 out), and no blur without a mask', () => {
    const { unmount } = render(<ParamsSummary params={{ model: 'tiny', prompt: 'a dog', init_image_id: 'i1', mask_image_id: 'm1', strength: 1 }} />);
    expect(screen.getByTestId('params-init').textContent).toBe(' · from image with a mask (blur 0 px, strength 1)');
    unmount();
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a dog', init_image_id: 'i1', mask_blur: 8, strength: 0.5 }} />);
    expect(screen.getByTestId('params-init').textContent).toBe(' · from image (strength 0.5)');
  });

  it('shows the VAE and the LoRAs as name × weight when chosen', () => {
    const loras = [{ name: 'tiny-lora', weight: 0.8 }, { name: 'style', weight: 1 }];
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a fox', steps: 4, vae: 'tiny-vae', loras }} />);
    expect(screen.getByTestId('params-vae').textContent).toBe(' · VAE tiny-vae');
    expect(screen.getByTestId('params-loras').textContent).toBe(' · LoRAs tiny-lora × 0.8, style × 1');
  });

  it('shows a CLIP skip above 1, and none for 1 or without one (the server leaves 1 out)', () => {
    const { unmount } = render(<ParamsSummary params={{ model: 'tiny', prompt: 'a fox', steps: 4, sampler: 'euler', clip_skip: 2 }} />);
    expect(screen.getByTestId('params-clip-skip').textContent).toBe(' · CLIP skip 2');
    expect(screen.getByTestId('params-visible').textContent).toContain('euler · CLIP skip 2');
    unmount();
    const { unmount: again } = render(<ParamsSummary params={{ model: 'tiny', prompt: 'a fox', clip_skip: 1 }} />);
    expect(screen.queryByTestId('params-clip-skip')).toBeNull();
    again();
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a fox' }} />);
    expect(screen.queryByTestId('params-clip-skip')).toBeNull();
  });

  it('shows the seamless tiling axes when on, and nothing when off or absent (the server leaves false out)', () => {
    const summary = (params: Record<string, unknown>) => {
      const { unmount } = render(<ParamsSummary params={{ model: 'tiny', prompt: 'a tile', steps: 4, sampler: 'euler', ...params }} />);
      const text = screen.queryByTestId('params-seamless')?.textContent ?? null;
      unmount();
      return text;
    };
    expect(summary({ seamless_x: true, seamless_y: true })).toBe(' · seamless X+Y');
    expect(summary({ seamless_x: true })).toBe(' · seamless X');
    expect(summary({ seamless_x: false, seamless_y: true })).toBe(' · seamless Y');
    expect(summary({ seamless_x: false, seamless_y: false })).toBeNull();
    expect(summary({})).toBeNull();
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a tile', sampler: 'euler', clip_skip: 2, seamless_x: true }} />);
    expect(screen.getByTestId('params-visible').textContent).toContain('euler · CLIP skip 2 · seamless X');
  });

  it('shows no VAE or LoRAs without them', () => {
    render(<ParamsSummary params={{ model: 'tiny', prompt: 'a fox', steps: 4, loras: [] }} />);
    expect(screen.queryByTestId('params-vae')).toBeNull();
    expect(screen.queryByTestId('params-loras')).toBeNull();
  });
});

describe('QueueTable', () => {
  it('shows owners, hides others’ params, and offers cancel on every unfinished item', () => {
    const items: QueueItem[] = [
      { ...base, id: 'a', is_mine: true, owner_name: 'Joe', params: { model: 'tiny', prompt: 'mine' } },
      { ...base, id: 'b', is_mine: false, owner_name: 'Jane', params: '<hidden>' },
      { ...base, id: 'c', is_mine: true, owner_name: 'Joe', status: 'canceled', params: { prompt: 'old' } },
    ];
    const onCancel = vi.fn();
    render(<QueueTable items={items} showOwner onCancel={onCancel} onRetry={vi.fn()} />);
    const rows = screen.getAllByTestId('queue-row');
    expect(within(rows[1]).getByTestId('params-hidden').textContent).toBe('<hidden>');
    expect(within(rows[1]).getByTestId('queue-owner').textContent).toBe('Jane');
    within(rows[1]).getByTestId('queue-cancel').click();
    expect(onCancel).toHaveBeenCalledWith(items[1]);
    expect(within(rows[2]).queryByTestId('queue-cancel')).toBeNull();
    expect(within(rows[2]).getByTestId('queue-retry')).toBeTruthy();
  });

  it('offers Retry on your own failed or canceled items, and on everyone’s to admins', () => {
    const items: QueueItem[] = [
      { ...base, id: 'a', is_mine: true, owner_name: 'Joe', status: 'failed', params: { prompt: 'mine' } },
      { ...base, id: 'b', is_mine: false, owner_name: 'Jane', status: 'canceled', params: '<hidden>' },
      { ...base, id: 'c', is_mine: true, owner_name: 'Joe', status: 'completed', params: { prompt: 'done' } },
    ];
    const onRetry = vi.fn();
    const { unmount } = render(<QueueTable items={items} showOwner onCancel={vi.fn()} onRetry={onRetry} />);
    let rows = screen.getAllByTestId('queue-row');
    within(rows[0]).getByTestId('queue-retry').click();
    expect(onRetry).toHaveBeenCalledWith(items[0]);
    expect(within(rows[1]).queryByTestId('queue-retry')).toBeNull();
    expect(within(rows[2]).queryByTestId('queue-retry')).toBeNull();
    unmount();

    render(<QueueTable items={items} showOwner retryAny onCancel={vi.fn()} onRetry={onRetry} />);
    rows = screen.getAllByTestId('queue-row');
    within(rows[1]).getByTestId('queue-retry').click();
    expect(onRetry).toHaveBeenCalledWith(items[1]);
    expect(within(rows[2]).queryByTestId('queue-retry')).toBeNull();
  });
});
