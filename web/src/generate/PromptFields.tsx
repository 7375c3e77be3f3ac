// The Generate form's prompt and negative prompt, with one short line under them on the weighting
// syntax the server reads ((word:1.3), [word]) and that long prompts are fine (they go in chunks).
import { useId } from 'react';

interface Props {
  prompt: string;
  negativePrompt: string;
  onPrompt: (prompt: string) => void;
  onNegativePrompt: (negativePrompt: string) => void;
}

/** The hint, also read by screen readers as both fields' description. */
export const PROMPT_HINT = '(word:1.3) strengthens, [word] weakens; long prompts are fine.';

export function PromptFields({ prompt, negativePrompt, onPrompt, onNegativePrompt }: Props) {
  const hint = useId();
  return (
    <>
      <label>
        Prompt
        <textarea rows={3} value={prompt} onChange={(e) => onPrompt(e.target.value)} aria-describedby={hint} data-testid="gen-prompt" />
      </label>
      <label>
        Negative prompt
        <textarea rows={2} value={negativePrompt} onChange={(e) => onNegativePrompt(e.target.value)} aria-describedby={hint} data-testid="gen-negative" />
      </label>
      <p id={hint} className="muted small prompt-hint" data-testid="gen-prompt-hint">
        {PROMPT_HINT}
      </p>
    </>
  );
}
