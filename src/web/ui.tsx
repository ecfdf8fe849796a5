// Small shared pieces of the console: the live region, error text, and the confirmation dialog every
// destructive action goes through (a native <dialog>: modal, focus kept inside, Escape cancels).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

let announce: (text: string) => void = () => undefined;

/** Says `text` to screen readers (polite) and shows it in the page's status line. */
export function say(text: string): void {
  announce(text);
}

export function Announcer() {
  const [text, setText] = useState('');
  useEffect(() => {
    announce = setText;
  }, []);
  return (
    <p class="announcer" role="status" aria-live="polite">
      {text}
    </p>
  );
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export function ErrorLine({ error }: { error: unknown }) {
  if (error === undefined) return null;
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  );
}

/**
 * A button that opens a confirmation dialog; `onConfirm` runs only after "Confirm". `children` go into
 * the dialog (e.g. a reason field) above the buttons.
 */
export function ConfirmButton(props: {
  label: string;
  question: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => Promise<void>;
  children?: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <>
      <button
        type="button"
        class={props.danger ? 'danger' : undefined}
        disabled={props.disabled}
        onClick={() => {
          setError(undefined);
          dialog.current?.showModal();
        }}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={`${props.label}: confirm`}>
        <form
          method="dialog"
          onSubmit={async (event) => {
            event.preventDefault();
            setBusy(true);
            try {
              await props.onConfirm();
              dialog.current?.close();
            } catch (caught) {
              setError(caught);
            } finally {
              setBusy(false);
            }
          }}
        >
          <p>{props.question}</p>
          {props.children}
          <ErrorLine error={error} />
          <div class="actions">
            <button type="submit" class={props.danger ? 'danger' : undefined} disabled={busy}>
              Confirm
            </button>
            <button type="button" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

export function Heading({ children }: { children: ComponentChildren }) {
  return <h1 tabIndex={-1}>{children}</h1>;
}
