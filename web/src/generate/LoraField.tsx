// The Generate form's "LoRAs" section: the chosen LoRAs in the order they apply, each with its
// weight and Remove, and a picker for the installed LoRAs that fit the model.
import { useEffect, useRef, useState } from 'react';
import type { LoraChoice, Model } from '../api/types';
import { LORA } from './formState';
import { familyLabel } from '../models/family';

interface Props {
  loras: LoraChoice[];
  /** The installed LoRAs that fit the chosen model. */
  choices: Model[];
  onChange: (loras: LoraChoice[]) => void;
}

const clampWeight = (n: number) => Math.min(LORA.maxWeight, Math.max(LORA.minWeight, n));

export function LoraField({ loras, choices, onChange }: Props) {
  const [pick, setPick] = useState('');
  const [added, setAdded] = useState<string | null>(null);
  const [focusAdd, setFocusAdd] = useState(false);
  const addRef = useRef<HTMLSelectElement>(null);
  const available = choices.filter((c) => !loras.some((l) => l.name === c.name));
  const picked = available.some((c) => c.name === pick) ? pick : (available[0]?.name ?? '');
  const canAdd = loras.length < LORA.max && available.length > 0;

  // After a Remove, keyboard focus goes back to the picker rather than to the page.
  useEffect(() => {
    if (!focusAdd) return;
    addRef.current?.focus();
    setFocusAdd(false);
  }, [focusAdd]);

  const add = () => {
    if (!picked) return;
    setAdded(picked);
    onChange([...loras, { name: picked, weight: LORA.defaultWeight }]);
  };
  const remove = (name: string) => {
    setFocusAdd(true);
    onChange(loras.filter((l) => l.name !== name));
  };
  const setWeight = (name: string, weight: number) => onChange(loras.map((l) => (l.name === name ? { ...l, weight } : l)));

  return (
    <fieldset className="loras" data-testid="gen-loras">
      <legend>LoRAs</legend>
      {loras.length > 0 && (
        <ul className="lora-list">
          {loras.map((l) => (
            <WeightRow
              key={l.name}
              lora={l}
              autoFocus={l.name === added}
              onWeight={(weight) => setWeight(l.name, weight)}
              onRemove={() => remove(l.name)}
            />
          ))}
        </ul>
      )}
      {choices.length === 0 ? (
        <p className="muted small" data-testid="gen-lora-none">
          No LoRAs for this model's family.
        </p>
      ) : loras.length >= LORA.max ? (
        <p className="muted small" data-testid="gen-lora-full">
          At most {LORA.max} LoRAs per job.
        </p>
      ) : (
        canAdd && (
          <div className="row lora-add">
            <label className="inline-label">
              <span className="sr-only">LoRA to add</span>
              <select ref={addRef} value={picked} onChange={(e) => setPick(e.target.value)} data-testid="gen-lora-add">
                {available.map((c) => (
                  <option key={c.id} value={c.name}>
                    {c.name} ({familyLabel(c.base)})
                  </option>
                ))}
              </select>
            </label>
            <button type="button" className="secondary small-button" onClick={add} data-testid="gen-lora-add-button">
              Add
            </button>
          </div>
        )
      )}
    </fieldset>
  );
}

interface RowProps {
  lora: LoraChoice;
  autoFocus: boolean;
  onWeight: (weight: number) => void;
  onRemove: () => void;
}

/** One chosen LoRA. The weight is typed freely (a lone "-" on the way to a negative) and kept in range. */
function WeightRow({ lora, autoFocus, onWeight, onRemove }: RowProps) {
  const [draft, setDraft] = useState(String(lora.weight));
  // Follows the weight when it changes otherwise (clamped, restored), keeping what is being typed.
  useEffect(() => {
    setDraft((d) => (d.trim() !== '' && Number(d) === lora.weight ? d : String(lora.weight)));
  }, [lora.weight]);

  return (
    <li className="lora-row" data-testid="gen-lora" data-lora-name={lora.name}>
      <span className="lora-name">{lora.name}</span>
      <label className="inline-label">
        <span className="muted small">
          Weight<span className="sr-only"> of {lora.name}</span>
        </span>
        <input
          type="number"
          min={LORA.minWeight}
          max={LORA.maxWeight}
          step={LORA.step}
          value={draft}
          autoFocus={autoFocus}
          onChange={(e) => {
            setDraft(e.target.value);
            if (Number.isFinite(e.target.valueAsNumber)) onWeight(clampWeight(e.target.valueAsNumber));
          }}
          onBlur={() => setDraft(String(lora.weight))}
          data-testid={`gen-lora-weight-${lora.name}`}
        />
      </label>
      <button type="button" className="secondary small-button" onClick={onRemove} aria-label={`Remove ${lora.name}`} data-testid={`gen-lora-remove-${lora.name}`}>
        Remove
      </button>
    </li>
  );
}
