// The sampler picker over the samplers the server knows (Generate, model defaults).
import { SAMPLERS } from '../api/types';

interface Props {
  value: string;
  onChange: (sampler: string) => void;
  disabled?: boolean;
  /** When given, an extra first choice with value '' (e.g. "(server default)"). */
  emptyLabel?: string;
  testId: string;
}

export function SamplerSelect({ value, onChange, disabled, emptyLabel, testId }: Props) {
  return (
    <select value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
      {emptyLabel !== undefined && <option value="">{emptyLabel}</option>}
      {SAMPLERS.map((s) => (
        <option key={s} value={s}>
          {s}
        </option>
      ))}
    </select>
  );
}
