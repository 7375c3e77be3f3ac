// The admins' workers table: model names from locations, sizes in MiB, online state and the running job.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import { WorkersPanel } from './WorkersPanel';
import { EventBus } from '../events/bus';
import type { Model, Worker } from '../api/types';

const MIB = 1024 * 1024;

const worker: Worker = {
  name: 'host-1',
  device: 'cpu',
  started_at: '2026-01-01T00:00:00Z',
  last_seen: '2026-01-01T00:00:05Z',
  online: true,
  loaded_bytes: 3 * MIB,
  memory: { device: 'cpu', budget_bytes: 0, models: [{ location: '/models/tiny', bytes: 3 * MIB }] },
  running_item_id: '0190abcd-0000-7000-8000-000000000000',
};

afterEach(() => vi.unstubAllGlobals());

describe('WorkersPanel', () => {
  it('lists each worker with its loaded models, budget and job', async () => {
    const offline: Worker = { ...worker, name: 'host-2', online: false, memory: { device: 'cuda:0', budget_bytes: 1024 * MIB, models: [] }, running_item_id: null };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify([worker, offline]), { status: 200 })));
    const models = [{ name: 'tiny', location: '/models/tiny' } as Model];
    render(<WorkersPanel bus={new EventBus()} models={models} />);
    const rows = await screen.findAllByTestId('worker-row');
    expect(within(rows[0]).getByTestId('worker-status').textContent).toBe('online');
    expect(within(rows[0]).getByTestId('worker-model').textContent).toBe('tiny · 3.0 MiB');
    expect(within(rows[0]).getByTestId('worker-budget').textContent).toBe('no limit');
    expect(within(rows[0]).getByTestId('worker-running').textContent).toBe('job 0190abcd');
    expect(within(rows[1]).getByTestId('worker-status').textContent).toBe('offline');
    expect(within(rows[1]).getByTestId('worker-budget').textContent).toBe('1024.0 MiB');
    expect(within(rows[1]).getByTestId('worker-running').textContent).toBe('idle');
  });

  it('shows the server refusal instead of a table', async () => {
    const body = { error: { code: 'forbidden', message: 'admin rights required' } };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status: 403 })));
    render(<WorkersPanel bus={new EventBus()} models={[]} />);
    expect((await screen.findByTestId('workers-error')).textContent).toContain('admin rights required');
    expect(screen.queryByTestId('workers-table')).toBeNull();
  });
});
