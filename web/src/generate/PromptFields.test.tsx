// The prompt fields: both textareas are described by the one short line on the weighting syntax.
import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { PromptFields, PROMPT_HINT } from './PromptFields';

describe('PromptFields', () => {
  it('describes both prompts with the weighting hint, once', () => {
    render(<PromptFields prompt="a (red:1.3) barn" negativePrompt="" onPrompt={vi.fn()} onNegativePrompt={vi.fn()} />);
    const hint = screen.getByTestId('gen-prompt-hint');
    expect(hint.textContent).toBe(PROMPT_HINT);
    expect(PROMPT_HINT).toMatch(/\(word:1\.3\) strengthens, \[word\] weakens/);
    for (const label of ['Prompt', 'Negative prompt']) {
      expect(screen.getByLabelText(label).getAttribute('aria-describedby')).toBe(hint.id);
    }
    expect(screen.getAllByText(PROMPT_HINT)).toHaveLength(1);
  });

  it('reports each field’s edits', () => {
    const onPrompt = vi.fn();
    const onNegativePrompt = vi.fn();
    render(<PromptFields prompt="" negativePrompt="" onPrompt={onPrompt} onNegativePrompt={onNegativePrompt} />);
    fireEvent.change(screen.getByTestId('gen-prompt'), { target: { value: '((castle))' } });
    fireEvent.change(screen.getByTestId('gen-negative'), { target: { value: '[fog]' } });
    expect(onPrompt).toHaveBeenCalledWith('((castle))');
    expect(onNegativePrompt).toHaveBeenCalledWith('[fog]');
  });
});
