// Generate: the parameters form (restored from the server-side UI state, or filled from an image's
// parameters) with the VAE, LoRAs, CLIP skip and seamless tiling, an optional init image (image to image) and mask
// (inpainting), Invoke, and the caller's recent jobs with live progress.
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { listModels } from '../api/models';
import { listBoards } from '../api/boards';
import { enqueue, listQueue } from '../api/queue';
import { getImage } from '../api/images';
import { loadUiState, saveUiState, type UiState } from '../api/uiState';
import { ApiError, errorMessage } from '../api/client';
import type { Board, Model } from '../api/types';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { SamplerSelect } from '../components/SamplerSelect';
import { DEFAULT_FORM, keepFitting, lorasFor, recallParams, restoreForm, storeForm, toParams, vaesFor, withModelDefaults, type GenerateForm } from '../generate/formState';
import { useJobProgress } from '../generate/useJobProgress';
import { JobsPanel } from '../generate/JobsPanel';
import { InitImageField } from '../generate/InitImageField';
import { ClipSkipField } from '../generate/ClipSkipField';
import { SeamlessField } from '../generate/SeamlessField';
import { LoraField } from '../generate/LoraField';
import { PromptFields } from '../generate/PromptFields';
import { familyLabel } from '../models/family';
import { clearSearch, searchParam } from '../router';
import { useAction } from '../util/useAction';
import { generationParams } from '../gallery/metadata';
import { useSession } from '../session';

const SAVE_DELAY_MS = 500;

/**
 * Whether an init image or mask can still be used: false when it is gone (404) or not the
 * caller's (the server only takes the caller's own images). Other failures keep it; Invoke will say.
 */
async function ownImageUsable(id: string, myId: string): Promise<boolean> {
  try {
    return (await getImage(id)).owner_id === myId;
  } catch (e) {
    return !(e instanceof ApiError && e.status === 404);
  }
}

/** The parameters of one of the caller's own generated images, or null when it has none (or is gone). */
async function recalledParams(id: string, myId: string): Promise<Record<string, unknown> | null> {
  const image = await getImage(id).catch(() => null);
  if (!image || image.owner_id !== myId) return null;
  return generationParams(image.metadata);
}

/** The names of the VAEs that fit the main model of this name (none when it is not installed). */
function fittingVaes(vaes: Model[], mains: Model[], model: unknown): string[] {
  return vaesFor(vaes, mains.find((m) => m.name === model)).map((v) => v.name);
}

/** The names of the LoRAs that fit the main model of this name (none when it is not installed). */
function fittingLoras(loras: Model[], mains: Model[], model: unknown): string[] {
  return lorasFor(loras, mains.find((m) => m.name === model)).map((l) => l.name);
}

/** "“a”, “b”" for the notices. */
const quoted = (names: string[]) => names.map((n) => `“${n}”`).join(', ');

export function GeneratePage() {
  const session = useSession();
  const [form, setForm] = useState<GenerateForm>(DEFAULT_FORM);
  const [models, setModels] = useState<Model[]>([]);
  /** Every installed VAE; the form offers those that fit the chosen model. */
  const [vaes, setVaes] = useState<Model[]>([]);
  /** Every installed LoRA; likewise. */
  const [loras, setLoras] = useState<Model[]>([]);
  const [boards, setBoards] = useState<Board[]>([]);
  const [loaded, setLoaded] = useState(false);
  const { error, info, busy, setError, setInfo, run } = useAction();
  const savedState = useRef<UiState>({});
  const saveTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const { jobs, track, showListed } = useJobProgress(session.bus, session.user.id);

  useEffect(() => {
    let live = true;
    // "Use as init image" in the viewer opens /generate?init=ID, "Use these parameters" ?recall=ID.
    const chosenInit = searchParam('init');
    const recallId = searchParam('recall');
    const load = async () => {
      const [state, models, boards, queue] = await Promise.all([loadUiState(), listModels(), listBoards(), listQueue()]);
      const mains = models.filter((m) => m.type === 'main');
      const allVaes = models.filter((m) => m.type === 'vae');
      const allLoras = models.filter((m) => m.type === 'lora');
      const own = boards.boards.filter((b) => b.owner_id === session.user.id);
      let restored = restoreForm(state);
      if (!mains.some((m) => m.name === restored.model)) restored.model = mains[0]?.name ?? '';
      const notices: string[] = [];
      const recalled = recallId ? await recalledParams(recallId, session.user.id) : null;
      if (recalled) {
        // The VAEs and LoRAs that fit the model the form ends up with: the image's if installed, else the current one.
        const target = mains.some((m) => m.name === recalled.model) ? recalled.model : restored.model;
        const { form, missingModel, missingVae, missingLoras } = recallParams(
          restored,
          recalled,
          mains.map((m) => m.name),
          fittingVaes(allVaes, mains, target),
          fittingLoras(allLoras, mains, target),
        );
        restored = form;
        notices.push(
          missingModel
            ? `Parameters filled in from the image, but its model “${missingModel}” is no longer installed, so the current model was kept.`
            : 'Parameters filled in from the image.',
        );
        if (missingVae) notices.push(`Its VAE “${missingVae}” is not installed for this model, so the model's own is used.`);
        if (missingLoras.length) {
          const one = missingLoras.length === 1;
          notices.push(`Its LoRA${one ? '' : 's'} ${quoted(missingLoras)} ${one ? 'is' : 'are'} not installed for this model, so ${one ? 'it was' : 'they were'} left out.`);
        }
      } else if (recallId) notices.push("The image's parameters are not available.");
      const savedVae = restored.vae;
      if (!fittingVaes(allVaes, mains, restored.model).includes(restored.vae)) restored.vae = '';
      const savedLoras = restored.loras;
      restored.loras = keepFitting(restored.loras, fittingLoras(allLoras, mains, restored.model));
      if (restored.board_id && !own.some((b) => b.id === restored.board_id)) restored.board_id = '';
      const savedInit = restored.init_image_id;
      const initId = chosenInit ?? savedInit;
      const initKept = initId !== '' && (await ownImageUsable(initId, session.user.id));
      restored.init_image_id = initKept ? initId : '';
      // The saved mask goes with the saved init image only (not with one newly chosen in the viewer).
      const savedMask = restored.mask_image_id;
      const maskId = initKept && initId === savedInit ? savedMask : '';
      const maskKept = maskId !== '' && (await ownImageUsable(maskId, session.user.id));
      restored.mask_image_id = maskKept ? maskId : '';
      if (!live) return;
      clearSearch();
      savedState.current = state;
      setModels(mains);
      setVaes(allVaes);
      setLoras(allLoras);
      setBoards(own);
      setForm(restored);
      // The caller's recent jobs, as they stand now (also after coming back from another page).
      showListed(queue);
      setLoaded(true);
      if (initId && !initKept) notices.push('The init image is no longer available, so it was cleared.');
      else if (maskId && !maskKept) notices.push('The mask is no longer available, so it was cleared.');
      if (notices.length) setInfo(notices.join(' '));
      // Keep the saved state in step with what the form now shows.
      const changed = restored.init_image_id !== savedInit || restored.mask_image_id !== savedMask || restored.vae !== savedVae || restored.loras.length !== savedLoras.length;
      if (recalled || changed) void persist(restored).catch(() => undefined);
    };
    load().catch((e) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session.user.id]);

  const persist = (next: GenerateForm) => {
    savedState.current = storeForm(savedState.current, next);
    return saveUiState(savedState.current);
  };

  // Every change is saved shortly after it is made, once the saved state has been read.
  const update = (patch: Partial<GenerateForm>) => {
    setForm((old) => {
      const next = { ...old, ...patch };
      if (loaded) {
        if (saveTimer.current) clearTimeout(saveTimer.current);
        saveTimer.current = setTimeout(() => void persist(next).catch(() => undefined), SAVE_DELAY_MS);
      }
      return next;
    });
  };
  useEffect(() => () => {
    if (saveTimer.current) clearTimeout(saveTimer.current);
  }, []);

  const chosenModel = useMemo(() => models.find((m) => m.name === form.model), [models, form.model]);

  // A VAE or LoRAs chosen for the previous model are kept only when they fit the new one; its
  // size and CLIP skip follow the new model unless the user chose them (see withModelDefaults).
  const pickModel = (name: string) => {
    const model = models.find((m) => m.name === name);
    if (!model) return;
    const keepVae = vaesFor(vaes, model).some((v) => v.name === form.vae);
    const keptLoras = keepFitting(form.loras, lorasFor(loras, model).map((l) => l.name));
    update({ ...withModelDefaults(form, model, chosenModel), vae: keepVae ? form.vae : '', loras: keptLoras });
  };

  const invoke = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      if (saveTimer.current) clearTimeout(saveTimer.current);
      await persist(form).catch(() => undefined);
      const { item_ids } = await enqueue(toParams(form, chosenModel?.base));
      track(item_ids);
      setInfo(`Queued ${item_ids.length} job${item_ids.length === 1 ? '' : 's'}.`);
    });
  };

  const jobList = useMemo(() => Object.values(jobs).reverse(), [jobs]);
  const vaeChoices = useMemo(() => vaesFor(vaes, chosenModel), [vaes, chosenModel]);
  const loraChoices = useMemo(() => lorasFor(loras, chosenModel), [loras, chosenModel]);
  const noModels = loaded && models.length === 0;

  return (
    <div className="generate">
      <form className="card generate-form" onSubmit={invoke} data-testid="generate-form" aria-busy={!loaded}>
        <h1>Generate</h1>
        <ErrorBanner message={error} onDismiss={() => setError(null)} testId="generate-error" />
        <InfoBanner message={info} testId="generate-info" />
        {noModels && (
          <p className="banner banner-info" data-testid="no-models">
            No models are installed yet. {session.isAdmin ? 'Install one on the Models page.' : 'Ask an administrator to install one.'}
          </p>
        )}
        <label>
          Model
          <select value={form.model} onChange={(e) => pickModel(e.target.value)} required data-testid="gen-model">
            {models.map((m) => (
              <option key={m.id} value={m.name}>
                {m.name} ({familyLabel(m.base)})
              </option>
            ))}
          </select>
        </label>
        <label>
          VAE
          <select value={form.vae} onChange={(e) => update({ vae: e.target.value })} data-testid="gen-vae">
            <option value="">The model's own</option>
            {vaeChoices.map((v) => (
              <option key={v.id} value={v.name}>
                {v.name} ({familyLabel(v.base)})
              </option>
            ))}
          </select>
        </label>
        <LoraField loras={form.loras} choices={loraChoices} onChange={(next) => update({ loras: next })} />
        <PromptFields
          prompt={form.prompt}
          negativePrompt={form.negative_prompt}
          onPrompt={(prompt) => update({ prompt })}
          onNegativePrompt={(negative_prompt) => update({ negative_prompt })}
        />
        <div className="field-grid">
          <label>
            Width
            <input type="number" min={64} max={2048} step={8} value={form.width} onChange={(e) => update({ width: e.target.valueAsNumber || 0 })} data-testid="gen-width" />
          </label>
          <label>
            Height
            <input type="number" min={64} max={2048} step={8} value={form.height} onChange={(e) => update({ height: e.target.valueAsNumber || 0 })} data-testid="gen-height" />
          </label>
          <label>
            Steps
            <input type="number" min={1} max={150} value={form.steps} onChange={(e) => update({ steps: e.target.valueAsNumber || 0 })} data-testid="gen-steps" />
          </label>
          <label>
            CFG scale
            <input type="number" min={0} max={30} step={0.5} value={form.cfg_scale} onChange={(e) => update({ cfg_scale: e.target.valueAsNumber || 0 })} data-testid="gen-cfg" />
          </label>
          <label>
            Sampler
            <SamplerSelect value={form.sampler} onChange={(sampler) => update({ sampler })} testId="gen-sampler" />
          </label>
          <ClipSkipField value={form.clip_skip} base={chosenModel?.base} onChange={(clip_skip) => update({ clip_skip })} />
          <label>
            Images
            <input type="number" min={1} max={8} value={form.num_images} onChange={(e) => update({ num_images: e.target.valueAsNumber || 0 })} data-testid="gen-count" />
          </label>
        </div>
        <SeamlessField value={form} onChange={update} />
        <fieldset className="seed">
          <legend>Seed</legend>
          <label className="inline-label">
            <input type="radio" name="seed-mode" checked={form.seedMode === 'random'} onChange={() => update({ seedMode: 'random' })} data-testid="gen-seed-random" />
            Random
          </label>
          <label className="inline-label">
            <input type="radio" name="seed-mode" checked={form.seedMode === 'fixed'} onChange={() => update({ seedMode: 'fixed' })} data-testid="gen-seed-fixed" />
            Fixed
          </label>
          <label className="inline-label">
            <span className="sr-only">Seed value</span>
            <input
              type="number"
              min={0}
              max={4294967295}
              value={form.seed}
              disabled={form.seedMode !== 'fixed'}
              onChange={(e) => update({ seed: e.target.valueAsNumber || 0 })}
              data-testid="gen-seed"
            />
          </label>
        </fieldset>
        <InitImageField
          form={form}
          onStrength={(strength) => update({ strength })}
          onClear={() => update({ init_image_id: '', mask_image_id: '' })}
          onMask={(mask_image_id) => update({ mask_image_id })}
          onMaskBlur={(mask_blur) => update({ mask_blur })}
        />
        <label>
          Destination board
          <select value={form.board_id} onChange={(e) => update({ board_id: e.target.value })} data-testid="gen-board">
            <option value="">Uncategorized</option>
            {boards.map((b) => (
              <option key={b.id} value={b.id}>
                {b.name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary invoke" disabled={busy || !loaded || noModels} data-testid="invoke">
          Invoke
        </button>
      </form>
      <section className="card progress-panel" aria-label="Your jobs" aria-live="polite">
        <h2>Your jobs</h2>
        <JobsPanel jobs={jobList} />
      </section>
    </div>
  );
}
