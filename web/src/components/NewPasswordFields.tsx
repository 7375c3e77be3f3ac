// A new password typed twice (setup, profile): the two inputs and the check that they match.

export interface NewPassword {
  password: string;
  confirm: string;
}

export const EMPTY_NEW_PASSWORD: NewPassword = { password: '', confirm: '' };

/** The message to show when the two entries differ, or null when they match. */
export function passwordMismatch({ password, confirm }: NewPassword): string | null {
  return password === confirm ? null : 'the passwords do not match';
}

interface Props {
  value: NewPassword;
  onChange: (value: NewPassword) => void;
  /** The first field's label ("Password", "New password"); the second adds "Confirm". */
  label: string;
  /** data-testid of the first input; the second gets `confirmTestId`. */
  testId: string;
  confirmTestId: string;
}

export function NewPasswordFields({ value, onChange, label, testId, confirmTestId }: Props) {
  const field = (key: keyof NewPassword, text: string, id: string) => (
    <label>
      {text}
      <input
        type="password"
        value={value[key]}
        onChange={(e) => onChange({ ...value, [key]: e.target.value })}
        required
        autoComplete="new-password"
        data-testid={id}
      />
    </label>
  );
  return (
    <>
      {field('password', label, testId)}
      {field('confirm', `Confirm ${label.toLowerCase()}`, confirmTestId)}
    </>
  );
}
