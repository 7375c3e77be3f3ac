// Admins: install a model from a server path or URL, or upload a .safetensors file, with progress.
import { useEffect, useState, type FormEvent } from 'react';
import { getInstall, installModel, scanModels, uploadModel } from '../api/models';
import { errorMessage } from '../api/client';
import type { Install } from '../api/types';
import type { EventBus } from '../events/bus';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { formatBytes } from '../util/format';

const POLL_MS = 1000;

export function InstallPanel({ bus, onInstalled }: { bus: EventBus; onInstalled: () => void }) {
  const [source, setSource] = useState('');
  const [name, setName] = useState('');
  const [install, setInstall] = useState<Install | null>(null);
  const [upload, setUpload] = useState<{ name: string; fraction: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);

  // Follow the running install: events when they come, polling as a backstop.
  useEffect(() => {
    if (!install || install.status === 'completed' || install.status === 'failed') return;
    const id = install.id;
    const poll = () =>
      getInstall(id).then((next) => {
        setInstall(next);
        if (next.status === 'completed') onInstalled();
      }, () => undefined);
    const timer = setInterval(poll, POLL_MS);
    const stop = bus.subscribe('install', (event) => {
      if ('id' in event && event.id === id) void poll();
    });
    return () => {
      clearInterval(timer);
      stop();
    };
  }, [install, bus, onInstalled]);

  const start = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setInfo(null);
    try {
      setInstall(await installModel(source.trim(), name.trim() || undefined));
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const sendFile = async (file: File) => {
    setError(null);
    setInfo(null);
    setUpload({ name: file.name, fraction: 0 });
    try {
      const model = await uploadModel(file, (fraction) => setUpload({ name: file.name, fraction }));
      setInfo(`Installed ${model.name}.`);
      onInstalled();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setUpload(null);
    }
  };
  const scan = async () => {
    setError(null);
    try {
      const report = await scanModels();
      setInfo(`Scan added ${report.added.length} model(s), skipped ${report.skipped.length}.`);
      onInstalled();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const fraction = install?.bytes_total ? install.bytes_done / install.bytes_total : undefined;
  return (
    <section className="card install-panel" aria-label="Add models" data-testid="install-panel">
      <h2>Add a model</h2>
      <ErrorBanner message={error} onDismiss={() => setError(null)} testId="install-error" />
      <InfoBanner message={info} testId="install-info" />
      <form onSubmit={start} className="stack">
        <label>
          Path on the server (inside the models directory) or http(s) URL
          <input value={source} onChange={(e) => setSource(e.target.value)} required placeholder="/data/models/my-model or https://…" data-testid="install-source" />
        </label>
        <label>
          Name (optional)
          <input value={name} onChange={(e) => setName(e.target.value)} data-testid="install-name" />
        </label>
        <div className="row">
          <button type="submit" className="primary" data-testid="install-submit">
            Install
          </button>
          <button type="button" className="secondary" onClick={scan} data-testid="install-scan">
            Scan models directory
          </button>
        </div>
      </form>
      {install && (
        <div className="install-status" data-testid="install-status" data-status={install.status}>
          <span className={`status status-${install.status}`}>{install.status}</span> {install.source}
          {install.status === 'running' && <progress max={1} value={fraction} aria-label="Install progress" />}
          <span className="muted small">
            {' '}
            {formatBytes(install.bytes_done)}
            {install.bytes_total ? ` of ${formatBytes(install.bytes_total)}` : ''}
          </span>
          {install.error && <p className="error-text">{install.error}</p>}
        </div>
      )}
      <label>
        Upload a .safetensors file
        <input type="file" accept=".safetensors" onChange={(e) => e.target.files?.[0] && sendFile(e.target.files[0])} data-testid="install-upload" />
      </label>
      {upload && (
        <div className="install-status">
          Uploading {upload.name}… <progress max={1} value={upload.fraction} aria-label="Upload progress" />
        </div>
      )}
    </section>
  );
}
