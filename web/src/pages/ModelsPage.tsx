// Models: the catalogue for everyone (read-only for users); admins add, edit and delete, and see
// the workers that run the models.
import { useCallback, useEffect, useState } from 'react';
import { listModels } from '../api/models';
import { errorMessage } from '../api/client';
import type { Model } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { ModelDetails } from '../models/ModelDetails';
import { InstallPanel } from '../models/InstallPanel';
import { WorkersPanel } from '../models/WorkersPanel';
import { familyLabel } from '../models/family';
import { formatBytes, formatModelType } from '../util/format';
import { useSession } from '../session';

export function ModelsPage() {
  const session = useSession();
  const [models, setModels] = useState<Model[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    listModels().then(setModels, (e) => setError(errorMessage(e)));
  }, []);
  useEffect(refresh, [refresh]);

  const model = models.find((m) => m.id === selected) ?? null;
  return (
    <div className="page models-page">
      <header className="page-header">
        <h1>Models</h1>
      </header>
      <ErrorBanner message={error} onDismiss={() => setError(null)} />
      <div className="models-layout">
        <div>
          {models.length === 0 ? (
            <p className="muted" data-testid="models-empty">No models installed.</p>
          ) : (
            <ul className="model-list" data-testid="model-list">
              {models.map((m) => (
                <li key={m.id}>
                  <button
                    type="button"
                    className="model-item"
                    aria-pressed={m.id === selected}
                    onClick={() => setSelected(m.id)}
                    data-testid="model-item"
                    data-model-name={m.name}
                    data-model-type={m.type}
                  >
                    <span className="model-name">{m.name}</span>
                    <span className="muted small">
                      {familyLabel(m.base)} · {formatModelType(m.type)} · {formatBytes(m.size_bytes)}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="stack">
          {model && (
            <ModelDetails
              model={model}
              canEdit={session.isAdmin}
              onSaved={(updated) => setModels((old) => old.map((m) => (m.id === updated.id ? updated : m)))}
              onDeleted={(id) => {
                setSelected(null);
                setModels((old) => old.filter((m) => m.id !== id));
              }}
            />
          )}
          {session.isAdmin && <InstallPanel bus={session.bus} onInstalled={refresh} />}
        </div>
      </div>
      {session.isAdmin && <WorkersPanel bus={session.bus} models={models} />}
    </div>
  );
}
