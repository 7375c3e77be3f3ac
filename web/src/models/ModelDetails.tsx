// One model's details; admins can edit its name, description and (main models only: a VAE or a
// LoRA is never picked on its own) its default generation settings (a CLIP skip only for a family
// that takes one, not SDXL), or delete it. The server checks the values (422, shown as the error).
import { useEffect, useState, type FormEvent } from 'react';
import { deleteModel, updateModel } from '../api/models';
import { ApiError, errorMessage } from '../api/client';
import type { Model, ModelDefaults } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { SamplerSelect } from '../components/SamplerSelect';
import { formatBytes, formatDate, formatModelType } from '../util/format';
import { familyLabel, takesClipSkip } from './family';

interface Props {
  model: Model;
  canEdit: boolean;
  onSaved: (model: Model) => void;
  onDeleted: (id: string) => void;
}

function numberOrUndefined(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

export function ModelDetails({ model, canEdit, onSaved, onDeleted }: Props) {
  const [name, setName] = useState(model.name);
  const [description, setDescription] = useState(model.description);
  const [defaults, setDefaults] = useState<Record<keyof ModelDefaults, string>>({ steps: '', cfg_scale: '', sampler: '', width: '', height: '', clip_skip: '' });
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [inUse, setInUse] = useState(false);

  useEffect(() => {
    setName(model.name);
    setDescription(model.description);
    const d = model.defaults ?? {};
    setDefaults({
      steps: d.steps?.toString() ?? '',
      cfg_scale: d.cfg_scale?.toString() ?? '',
      sampler: d.sampler ?? '',
      width: d.width?.toString() ?? '',
      height: d.height?.toString() ?? '',
      clip_skip: d.clip_skip?.toString() ?? '',
    });
  }, [model]);

  useEffect(() => {
    setError(null);
    setSaved(false);
    setInUse(false);
  }, [model.id]);

  const isMain = model.type === 'main';
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    const next: ModelDefaults = {
      steps: numberOrUndefined(defaults.steps),
      cfg_scale: numberOrUndefined(defaults.cfg_scale),
      sampler: defaults.sampler || undefined,
      width: numberOrUndefined(defaults.width),
      height: numberOrUndefined(defaults.height),
      // Kept as it is (hidden) for SDXL, where only the API could have set one; Generate never sends it there.
      clip_skip: numberOrUndefined(defaults.clip_skip),
    };
    try {
      onSaved(await updateModel(model.id, isMain ? { name, description, defaults: next } : { name, description }));
      setSaved(true);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const remove = async (force: boolean) => {
    setError(null);
    try {
      await deleteModel(model.id, force);
      onDeleted(model.id);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'model_in_use') setInUse(true);
      setError(errorMessage(e));
    }
  };

  const field = (key: keyof ModelDefaults, label: string, type = 'number') => (
    <label>
      {label}
      <input
        type={type}
        value={defaults[key]}
        readOnly={!canEdit}
        onChange={(e) => setDefaults({ ...defaults, [key]: e.target.value })}
        data-testid={`model-default-${key}`}
      />
    </label>
  );

  return (
    <form className="card model-details" onSubmit={save} data-testid="model-details">
      <h2>{model.name}</h2>
      <ErrorBanner message={error} onDismiss={() => setError(null)} testId="model-error" />
      {saved && <p className="banner banner-info" role="status">Saved.</p>}
      <dl className="metadata">
        <dt>Base</dt>
        <dd data-testid="model-base">{familyLabel(model.base)}</dd>
        <dt>Type</dt>
        <dd data-testid="model-type">{formatModelType(model.type)}</dd>
        <dt>Format</dt>
        <dd>{model.format}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(model.size_bytes)}</dd>
        <dt>Hash</dt>
        <dd className="mono small">{model.hash}</dd>
        {model.source !== undefined && (
          <>
            <dt>Source</dt>
            <dd className="mono small">{model.source}</dd>
          </>
        )}
        {model.location !== undefined && (
          <>
            <dt>Location</dt>
            <dd className="mono small">{model.location}</dd>
          </>
        )}
        <dt>Installed</dt>
        <dd>{formatDate(model.created_at)}</dd>
      </dl>
      <label>
        Name
        <input value={name} readOnly={!canEdit} onChange={(e) => setName(e.target.value)} data-testid="model-name" />
      </label>
      <label>
        Description
        <textarea rows={2} value={description} readOnly={!canEdit} onChange={(e) => setDescription(e.target.value)} data-testid="model-description" />
      </label>
      {isMain && (
        <fieldset data-testid="model-defaults">
          <legend>Default settings</legend>
          <div className="field-grid">
            {field('steps', 'Steps')}
            {field('cfg_scale', 'CFG scale')}
            {field('width', 'Width')}
            {field('height', 'Height')}
            {takesClipSkip(model.base) && field('clip_skip', 'CLIP skip')}
            <label>
              Sampler
              <SamplerSelect
                value={defaults.sampler}
                disabled={!canEdit}
                emptyLabel="(server default)"
                onChange={(sampler) => setDefaults({ ...defaults, sampler })}
                testId="model-default-sampler"
              />
            </label>
          </div>
        </fieldset>
      )}
      {canEdit ? (
        <div className="row">
          <button type="submit" className="primary" data-testid="model-save">
            Save changes
          </button>
          <button type="button" className="danger" onClick={() => remove(false)} data-testid="model-delete">
            Delete model
          </button>
          {inUse && (
            <button type="button" className="danger" onClick={() => remove(true)} data-testid="model-delete-force">
              Delete and cancel its jobs
            </button>
          )}
        </div>
      ) : (
        <p className="muted small" data-testid="model-readonly">
          Read-only: only administrators can change models.
        </p>
      )}
    </form>
  );
}
