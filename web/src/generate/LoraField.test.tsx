// The LoRAs section: adding a fitting LoRA at weight 1, editing and clamping its weight, removing
// it, and what shows when none fit or the job is full.
import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { LoraField } from './LoraField';
import type { LoraChoice, Model } from '../api/types';

const lora = (name: string) => ({ id: `id-${name}`, name, base: 'sd-1', type: 'lora' }) as Model;

/** The field with its own state, reporting every change. */
function Harness({ initial = [], choices, onChange }: { initial?: LoraChoice[]; choices: Model[]; onChange: (l: LoraChoice[]) => void }) {
  const [loras, setLoras] = useState(initial);
  return (
    <LoraField
      loras={loras}
      choices={choices}
      onChange={(next) => {
        setLoras(next);
        onChange(next);
      }}
    />
  );
}

const options = () => Array.from((screen.getByTestId('gen-lora-add') as HTMLSelectElement).options).map((o) => o.value);

describe('LoraField', () => {
  it('adds the picked LoRA at weight 1, offers only the ones not chosen, and removes it', () => {
    const onChange = vi.fn();
    render(<Harness choices={[lora('a'), lora('b')]} onChange={onChange} />);
    expect(options()).toEqual(['a', 'b']);
    expect((screen.getByTestId('gen-lora-add') as HTMLSelectElement).options[0].textContent).toBe('a (SD 1.x)');
    fireEvent.change(screen.getByTestId('gen-lora-add'), { target: { value: 'b' } });
    fireEvent.click(screen.getByTestId('gen-lora-add-button'));
    expect(onChange).toHaveBeenLastCalledWith([{ name: 'b', weight: 1 }]);
    expect(options()).toEqual(['a']);
    expect(document.activeElement).toBe(screen.getByTestId('gen-lora-weight-b'));

    fireEvent.click(screen.getByRole('button', { name: 'Remove b' }));
    expect(onChange).toHaveBeenLastCalledWith([]);
    expect(options()).toEqual(['a', 'b']);
    expect(document.activeElement).toBe(screen.getByTestId('gen-lora-add'));
  });

  it('takes a typed weight, clamped to -4..4, and ignores what is not a number yet', () => {
    const onChange = vi.fn();
    render(<Harness initial={[{ name: 'a', weight: 1 }]} choices={[lora('a')]} onChange={onChange} />);
    const weight = screen.getByLabelText('Weight of a') as HTMLInputElement;
    expect(weight.value).toBe('1');
    expect([weight.min, weight.max, weight.step]).toEqual(['-4', '4', '0.05']);
    fireEvent.change(weight, { target: { value: '0.8' } });
    expect(onChange).toHaveBeenLastCalledWith([{ name: 'a', weight: 0.8 }]);
    fireEvent.change(weight, { target: { value: '-7' } });
    expect(onChange).toHaveBeenLastCalledWith([{ name: 'a', weight: -4 }]);
    expect(weight.value).toBe('-4');
    onChange.mockClear();
    fireEvent.change(weight, { target: { value: '' } });
    expect(onChange).not.toHaveBeenCalled();
    fireEvent.blur(weight);
    expect(weight.value).toBe('-4');
  });

  it('says so when no LoRA fits the model, and hides the picker when all are chosen or at 8', () => {
    const { unmount } = render(<Harness choices={[]} onChange={vi.fn()} />);
    expect(screen.getByTestId('gen-lora-none').textContent).toBe("No LoRAs for this model's family.");
    expect(screen.queryByTestId('gen-lora-add')).toBeNull();
    unmount();

    const one = render(<Harness initial={[{ name: 'a', weight: 1 }]} choices={[lora('a')]} onChange={vi.fn()} />);
    expect(screen.queryByTestId('gen-lora-add')).toBeNull();
    expect(screen.queryByTestId('gen-lora-none')).toBeNull();
    one.unmount();

    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const full = names.slice(0, 8).map((name) => ({ name, weight: 1 }));
    render(<Harness initial={full} choices={names.map(lora)} onChange={vi.fn()} />);
    expect(screen.getAllByTestId('gen-lora')).toHaveLength(8);
    expect(screen.queryByTestId('gen-lora-add')).toBeNull();
    expect(screen.getByTestId('gen-lora-full')).toBeTruthy();
  });
});
