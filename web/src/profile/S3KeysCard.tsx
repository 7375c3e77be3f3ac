// The Profile page's S3 access: the endpoint to point aws/boto3/rclone at, the user's keys
// (create, relabel, revoke), and a new key's secret, shown once with ready-to-paste settings.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { getAuthStatus } from '../api/auth';
import { errorMessage } from '../api/client';
import { createS3Key, listS3Keys, relabelS3Key, revokeS3Key } from '../api/s3keys';
import type { NewS3Key, S3Key } from '../api/types';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { formatDate } from '../util/format';
import { useAction } from '../util/useAction';

/** Where S3 clients reach this server, or null when the S3 door is off. */
export function s3Endpoint(port: number | null | undefined, publicUrl: string | null | undefined, location: Location): string | null {
  if (publicUrl) return publicUrl;
  if (!port) return null;
  return `${location.protocol}//${location.hostname}:${port}`;
}

export function S3KeysCard() {
  const [endpoint, setEndpoint] = useState<string | null | undefined>(undefined);
  const [keys, setKeys] = useState<S3Key[]>([]);
  const [label, setLabel] = useState('');
  const [readOnly, setReadOnly] = useState(false);
  const [created, setCreated] = useState<NewS3Key | null>(null);
  const createdBox = useRef<HTMLDivElement>(null);
  // The secret appears above the form that was just used: bring all of it into view.
  useEffect(() => {
    if (created) createdBox.current?.scrollIntoView?.({ block: 'nearest' });
  }, [created]);
  /** The key whose label is being edited, and the draft. */
  const [editing, setEditing] = useState<{ id: string; label: string } | null>(null);
  const { error, info, setError, run, busy } = useAction();

  const reload = () => listS3Keys().then(setKeys, (e) => setError(errorMessage(e)));
  useEffect(() => {
    getAuthStatus().then(
      (status) => setEndpoint(s3Endpoint(status.s3_port, status.s3_public_url, window.location)),
      () => setEndpoint(null),
    );
    void reload();
  }, []);

  const create = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const key = await createS3Key(label, readOnly);
      setCreated(key);
      setLabel('');
      setReadOnly(false);
      await reload();
    });
  };
  const revoke = (key: S3Key) =>
    void run(async () => {
      await revokeS3Key(key.access_key_id);
      if (created?.access_key_id === key.access_key_id) setCreated(null);
      await reload();
    }, `Revoked ${key.access_key_id}.`);

  const saveLabel = (event: FormEvent) => {
    event.preventDefault();
    if (!editing) return;
    void run(async () => {
      await relabelS3Key(editing.id, editing.label);
      setEditing(null);
      await reload();
    }, 'Label saved.');
  };

  if (endpoint === undefined) return null;
  return (
    <section className="card stack" data-testid="s3-keys">
      <h2>S3 access</h2>
      {endpoint ? (
        <p className="muted small">
          Reach your images with <code>aws</code>, boto3 or rclone: endpoint <code data-testid="s3-endpoint">{endpoint}</code>, bucket{' '}
          <code>images</code>, region <code>us-east-1</code>, path-style. Keys are <code>board/file name</code> (
          <code>uncategorized/…</code> for images in no board).
        </p>
      ) : (
        <p className="muted small" data-testid="s3-off">
          The S3 endpoint is off on this server (<code>s3.listen</code>); keys made here work once it is on.
        </p>
      )}
      <ErrorBanner message={error} onDismiss={() => setError(null)} testId="s3-error" />
      <InfoBanner message={info} testId="s3-info" />
      {created && (
        <div className="secret-box" data-testid="s3-new-key" role="status" ref={createdBox}>
          <p>
            <strong>Copy the secret now: it is not shown again.</strong>
          </p>
          <p className="mono small">
            Access key id: <span data-testid="s3-new-id">{created.access_key_id}</span>
            <br />
            Secret access key: <span data-testid="s3-new-secret">{created.secret_access_key}</span>
          </p>
          {endpoint && (
            <pre className="mono small snippet">{`export AWS_ACCESS_KEY_ID=${created.access_key_id}
export AWS_SECRET_ACCESS_KEY=${created.secret_access_key}
aws --endpoint-url ${endpoint} s3 ls s3://images/`}</pre>
          )}
          <button type="button" className="secondary" onClick={() => setCreated(null)} data-testid="s3-new-done">
            Done
          </button>
        </div>
      )}
      <form className="row-form" onSubmit={create}>
        <label>
          Label
          <input value={label} maxLength={100} placeholder="laptop, backup script…" onChange={(e) => setLabel(e.target.value)} data-testid="s3-label" />
        </label>
        <label className="inline-label">
          <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} data-testid="s3-read-only" />
          Read-only
        </label>
        <button type="submit" className="primary" disabled={busy} data-testid="s3-create">
          Create key
        </button>
      </form>
      {keys.length === 0 ? (
        <p className="muted small" data-testid="s3-no-keys">
          No access keys yet.
        </p>
      ) : (
        <ul className="key-list" data-testid="s3-key-list">
          {keys.map((key) => (
            <li key={key.access_key_id} data-testid="s3-key-row" data-id={key.access_key_id}>
              {editing?.id === key.access_key_id ? (
                <form className="row-form" onSubmit={saveLabel}>
                  <input
                    value={editing.label}
                    maxLength={100}
                    aria-label={`Label of ${key.access_key_id}`}
                    onChange={(e) => setEditing({ id: key.access_key_id, label: e.target.value })}
                    data-testid="s3-label-edit"
                    autoFocus
                  />
                  <button type="submit" className="small-button" data-testid="s3-label-save">
                    Save
                  </button>
                  <button type="button" className="small-button" onClick={() => setEditing(null)}>
                    Cancel
                  </button>
                </form>
              ) : (
                <div>
                  <span className="mono">{key.access_key_id}</span>
                  <span className="muted small">
                    {' '}
                    {key.read_only ? 'read-only' : 'read-write'} · {formatDate(key.created_at)}
                    {key.label ? ` · ${key.label}` : ''}
                  </span>
                </div>
              )}
              <span className="key-actions">
                <button
                  type="button"
                  className="small-button"
                  onClick={() => setEditing({ id: key.access_key_id, label: key.label })}
                  data-testid="s3-relabel"
                >
                  Label
                </button>
                <button type="button" className="danger small-button" onClick={() => revoke(key)} data-testid="s3-revoke">
                  Revoke
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
