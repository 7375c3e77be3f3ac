// Admins: the generation workers, each with its device, online state, loaded models (sizes in
// MiB), memory budget and the job it is running, and "Forget" for one that stopped reporting.
// Refreshed on queue events and every few seconds.
import { useCallback, useState } from 'react';
import { forgetWorker, listWorkers } from '../api/workers';
import { errorMessage } from '../api/client';
import type { Model, Worker } from '../api/types';
import type { EventBus } from '../events/bus';
import { ErrorBanner } from '../components/ErrorBanner';
import { useQueueRefresh } from '../queue/useQueueRefresh';
import { formatDate, formatMiB } from '../util/format';

/** Workers report every 5 s (src/worker/registry.rs). */
const REFRESH_MS = 5000;

/** A loaded model's catalogue name, from its location (admins see locations), else the location. */
function modelLabel(location: string, models: Model[]): string {
  return models.find((m) => m.location === location)?.name ?? location;
}

export function WorkersPanel({ bus, models }: { bus: EventBus; models: Model[] }) {
  const [workers, setWorkers] = useState<Worker[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** The last Forget's failure: kept across refreshes until dismissed or the next Forget. */
  const [forgetError, setForgetError] = useState<string | null>(null);
  /** The worker being forgotten. */
  const [forgetting, setForgetting] = useState<string | null>(null);

  const refresh = useCallback(() => {
    listWorkers().then(
      (list) => {
        setWorkers(list);
        setError(null);
      },
      (e) => setError(errorMessage(e)),
    );
  }, []);
  useQueueRefresh(bus, refresh, REFRESH_MS);

  // No confirmation, as model delete: a worker that comes back simply reports again.
  const forget = (name: string) => {
    setForgetError(null);
    setForgetting(name);
    forgetWorker(name)
      .catch((e) => setForgetError(errorMessage(e)))
      .finally(() => {
        setForgetting(null);
        refresh();
      });
  };

  return (
    <section className="card workers-panel" aria-labelledby="workers-title" data-testid="workers-panel">
      <h2 id="workers-title">Workers</h2>
      <ErrorBanner message={forgetError ?? error} onDismiss={forgetError ? () => setForgetError(null) : undefined} testId="workers-error" />
      {workers !== null && workers.length === 0 && (
        <p className="muted" data-testid="workers-empty">
          No worker has reported yet.
        </p>
      )}
      {workers !== null && workers.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="workers-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Device</th>
                <th scope="col">Status</th>
                <th scope="col">Loaded models</th>
                <th scope="col">Budget</th>
                <th scope="col">Running</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {workers.map((worker) => (
                <tr key={worker.name} data-testid="worker-row" data-worker-name={worker.name} data-online={worker.online}>
                  <td className="mono small">{worker.name}</td>
                  <td data-testid="worker-device">{worker.device}</td>
                  <td>
                    <span className={`status status-${worker.online ? 'online' : 'offline'}`} data-testid="worker-status" title={`last seen ${formatDate(worker.last_seen)}`}>
                      {worker.online ? 'online' : 'offline'}
                    </span>
                  </td>
                  <td>
                    {worker.memory.models.length === 0 ? (
                      <span className="muted">none</span>
                    ) : (
                      <ul className="worker-models" data-testid="worker-models">
                        {worker.memory.models.map((loaded) => (
                          <li key={loaded.location} data-testid="worker-model">
                            {modelLabel(loaded.location, models)} <span className="muted">· {formatMiB(loaded.bytes)}</span>
                          </li>
                        ))}
                      </ul>
                    )}
                    {worker.memory.models.length > 1 && <div className="muted small">total {formatMiB(worker.loaded_bytes)}</div>}
                  </td>
                  <td className="nowrap" data-testid="worker-budget">
                    {worker.memory.budget_bytes > 0 ? formatMiB(worker.memory.budget_bytes) : 'no limit'}
                  </td>
                  <td data-testid="worker-running">
                    {worker.running_item_id ? <span className="mono small">job {worker.running_item_id.slice(0, 8)}</span> : <span className="muted">idle</span>}
                  </td>
                  <td>
                    {!worker.online && (
                      <button
                        type="button"
                        className="secondary small-button"
                        onClick={() => forget(worker.name)}
                        disabled={forgetting !== null}
                        aria-label={`Forget worker ${worker.name}`}
                        title="Remove this worker from the list; it stopped reporting"
                        data-testid={`worker-forget-${worker.name}`}
                      >
                        Forget
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
