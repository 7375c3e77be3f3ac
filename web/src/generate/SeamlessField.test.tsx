// The seamless tiling checkboxes: the form's two axes, each reporting only its own change.
import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { SeamlessField } from './SeamlessField';

const box = (axis: 'x' | 'y') => screen.getByTestId(`gen-seamless-${axis}`) as HTMLInputElement;

describe('SeamlessField', () => {
  it('shows both axes, labelled, with the form’s values', () => {
    const { rerender } = render(<SeamlessField value={{ seamless_x: false, seamless_y: false }} onChange={vi.fn()} />);
    expect(screen.getByRole('group', { name: 'Seamless tiling' })).toBeTruthy();
    expect(screen.getByLabelText('Tile left–right')).toBe(box('x'));
    expect(screen.getByLabelText('Tile top–bottom')).toBe(box('y'));
    expect([box('x').checked, box('y').checked]).toEqual([false, false]);
    rerender(<SeamlessField value={{ seamless_x: true, seamless_y: false }} onChange={vi.fn()} />);
    expect([box('x').checked, box('y').checked]).toEqual([true, false]);
  });

  it('reports the one axis that changed', () => {
    const onChange = vi.fn();
    const { rerender } = render(<SeamlessField value={{ seamless_x: false, seamless_y: false }} onChange={onChange} />);
    fireEvent.click(box('x'));
    expect(onChange).toHaveBeenLastCalledWith({ seamless_x: true });
    fireEvent.click(box('y'));
    expect(onChange).toHaveBeenLastCalledWith({ seamless_y: true });
    rerender(<SeamlessField value={{ seamless_x: true, seamless_y: true }} onChange={onChange} />);
    fireEvent.click(box('x'));
    expect(onChange).toHaveBeenLastCalledWith({ seamless_x: false });
    expect(onChange).toHaveBeenCalledTimes(3);
  });
});
