// A dismissible alert that shows the server's error message to the user.
interface Props {
  message: string | null;
  onDismiss?: () => void;
  testId?: string;
}

export function ErrorBanner({ message, onDismiss, testId = 'error' }: Props) {
  if (!message) return null;
  return (
    <div className="banner banner-error" role="alert" data-testid={testId}>
      <span>{message}</span>
      {onDismiss && (
        <button type="button" className="link-button" onClick={onDismiss} aria-label="Dismiss message">
          ×
        </button>
      )}
    </div>
  );
}

export function InfoBanner({ message, testId = 'info' }: { message: string | null; testId?: string }) {
  if (!message) return null;
  return (
    <div className="banner banner-info" role="status" data-testid={testId}>
      {message}
    </div>
  );
}
