// The CLIP skip input: shown for SD 1.x and 2.x models with the form's value and range, reporting
// the typed number; absent for an SDXL model or without one.
import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { ClipSkipField } from './ClipSkipField';

const input = () => screen.getByTestId('gen-clip-skip') as HTMLInputElement;

describe('ClipSkipField', () => {
  it('shows the value with the range 1 to 4 for SD 1.x and 2.x, and reports a change', () => {
    const onChange = vi.fn();
    const { rerender } = render(<ClipSkipField value={1} base="sd-1" onChange={onChange} />);
    expect(screen.getByLabelText('CLIP skip')).toBe(input());
    expect([input().value, input().min, input().max]).toEqual(['1', '1', '4']);
    fireEvent.change(input(), { target: { value: '2' } });
    expect(onChange).toHaveBeenLastCalledWith(2);
    fireEvent.change(input(), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith(0);
    rerender(<ClipSkipField value={3} base="sd-2" onChange={onChange} />);
    expect(input().value).toBe('3');
  });

  it('is hidden for an SDXL model and without a model', () => {
    const { rerender } = render(<ClipSkipField value={2} base="sdxl" onChange={vi.fn()} />);
    expect(screen.queryByTestId('gen-clip-skip')).toBeNull();
    rerender(<ClipSkipField value={2} base={undefined} onChange={vi.fn()} />);
    expect(screen.queryByTestId('gen-clip-skip')).toBeNull();
  });
});
