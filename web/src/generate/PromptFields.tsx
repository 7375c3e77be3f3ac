// The Generate form's prompt and negative prompt, each with its token count under it (counted by
// the server as the user types), and one short line on the weighting syntax the server reads
// ((word:1.3), [word]) and that long prompts are fine (they go in chunks).
import { useId } from 'react';
import { TokenCount } from './TokenCount';
import { usePromptTokens, type CountTokens } from './usePromptTokens';

interface Props {
  prompt: string;
  negativePrompt: string;
  onPrompt: (prompt: string) => void;
  onNegativePrompt: (negativePrompt: string) => void;
  /** Counts a prompt's tokens; the API call unless a test hands in another. */
  countTokens?: CountTokens;
}

/** The hint, also read by screen readers as both fields' description. */
export const PROMPT_HINT = '(word:1.3) strengthens, [word] weakens; long prompts are fine.';

export function PromptFields({ prompt, negativePrompt, onPrompt, onNegativePrompt, countTokens }: Props) {
  const hint = useId();
  const promptCount = useId();
  const negativeCount = useId();
  const promptTokens = usePromptTokens(prompt, countTokens);
  const negativeTokens = usePromptTokens(negativePrompt, countTokens);
  return (
    <>
      <div className="prompt-field">
        <label>
          Prompt
          <textarea rows={3} value={prompt} onChange={(e) => onPrompt(e.target.value)} aria-describedby={`${promptCount} ${hint}`} data-testid="gen-prompt" />
        </label>
        <TokenCount id={promptCount} count={promptTokens.count} testId="gen-prompt-tokens" />
      </div>
      <div className="prompt-field">
        <label>
          Negative prompt
          <textarea rows={2} value={negativePrompt} onChange={(e) => onNegativePrompt(e.target.value)} aria-describedby={`${negativeCount} ${hint}`} data-testid="gen-negative" />
        </label>
        <TokenCount id={negativeCount} count={negativeTokens.count} testId="gen-negative-tokens" />
      </div>
      <p id={hint} className="muted small prompt-hint" data-testid="gen-prompt-hint">
        {PROMPT_HINT}
      </p>
    </>
  );
}
