// The admins' workers table: model names from locations, sizes in MiB, online state and the
// running job; forgetting a worker that stopped reporting.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
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

  it('offers Forget only for offline workers, deletes the worker and refreshes the list', async () => {
    const offline: Worker = { ...worker, name: 'dead host', online: false, running_item_id: null };
    let listed = [worker, offline];
    const calls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        const method = init?.method ?? 'GET';
        calls.push(`${method} ${url}`);
        if (method === 'DELETE') {
          listed = listed.filter((w) => w.name !== 'dead host');
          return new Response(null, { status: 204 });
        }
        return new Response(JSON.stringify(listed), { status: 200 });
      }),
    );
    render(<WorkersPanel bus={new EventBus()} models={[]} />);
    await screen.findByTestId('worker-forget-dead host');
    expect(screen.queryByTestId('worker-forget-host-1')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Forget worker dead host' }));
    await waitFor(() => expect(screen.getAllByTestId('worker-row')).toHaveLength(1));
    expect(calls).toContain('DELETE /api/v1/workers/dead%20host');
    expect(calls.at(-1)).toBe('GET /api/v1/workers');
    expect(screen.queryByTestId('workers-error')).toBeNull();
  });

  it('shows the server refusal of Forget in the banner, across refreshes, until dismissed', async () => {
    const offline: Worker = { ...worker, name: 'host-2', online: false, running_item_id: null };
    const refusal = { error: { code: 'worker_online', message: 'worker "host-2" is still reporting; stop it first' } };
    const fetch = vi.fn(async (_url: string, init?: RequestInit) =>
      init?.method === 'DELETE'
        ? new Response(JSON.stringify(refusal), { status: 409 })
        : new Response(JSON.stringify([worker, offline]), { status: 200 }),
    );
    vi.stubGlobal('fetch', fetch);
    const bus = new EventBus();
    render(<WorkersPanel bus={bus} models={[]} />);
    fireEvent.click(await screen.findByTestId('worker-forget-host-2'));
    const banner = await screen.findByTestId('workers-error');
    expect(banner.textContent).toContain('worker "host-2" is still reporting; stop it first');
    // The list was read again after the refusal, and the message stays.
    await waitFor(() => expect(fetch.mock.calls.filter(([, init]) => !init?.method || init.method === 'GET').length).toBeGreaterThanOrEqual(2));
    expect(screen.getByTestId('workers-error').textContent).toContain('still reporting');
    expect(screen.getAllByTestId('worker-row')).toHaveLength(2);
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss message' }));
    expect(screen.queryByTestId('workers-error')).toBeNull();
  });
});
