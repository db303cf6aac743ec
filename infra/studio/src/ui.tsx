// Shared pieces of the screens: the frame (banner, breadcrumbs, main),
// labelled form controls that show their error, and a loader hook.

import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { api, ApiError, getSession } from './api/client';
import { Link, navigate } from './router';

export function useTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · NoCode Studio`;
  }, [title]);
}

export interface Crumb {
  label: string;
  to?: string;
}

/** The frame of a signed-in screen. */
export function Frame({
  title,
  crumbs = [],
  children,
  wide = false,
  actions,
}: {
  title: string;
  crumbs?: Crumb[];
  children: ReactNode;
  wide?: boolean;
  actions?: ReactNode;
}) {
  useTitle(title);
  const session = getSession();
  return (
    <div className={wide ? 'frame frame-wide' : 'frame'}>
      <header className="banner">
        <Link to="/orgs" className="brand">
          NoCode Studio
        </Link>
        <nav aria-label="Breadcrumbs" className="crumbs">
          <ol>
            {crumbs.map((c, i) => (
              <li key={i}>
                {c.to ? (
                  <Link to={c.to}>{c.label}</Link>
                ) : (
                  <span aria-current="page">{c.label}</span>
                )}
              </li>
            ))}
          </ol>
        </nav>
        <div className="banner-actions">
          {actions}
          {session && (
            <>
              <span className="who">{session.user.email ?? session.user.first_name ?? 'Signed in'}</span>
              <button
                type="button"
                className="quiet"
                onClick={() => {
                  void api.logout().finally(() => navigate('/signin'));
                }}
              >
                Sign out
              </button>
            </>
          )}
        </div>
      </header>
      {children}
    </div>
  );
}

/** A screen's main landmark with its heading. */
export function Main({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main id="main" className="main">
      <h1>{title}</h1>
      {children}
    </main>
  );
}

/** A labelled text input that shows its error and ties it to the input. */
export function TextField({
  label,
  value,
  onChange,
  error,
  type = 'text',
  required,
  autoComplete,
  hint,
  name,
  autoFocus,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
  type?: string;
  required?: boolean;
  autoComplete?: string;
  hint?: string;
  name?: string;
  autoFocus?: boolean;
}) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div className="control">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        required={required}
        autoComplete={autoComplete}
        autoFocus={autoFocus}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p className="error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** A message for an error of any kind. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return fields ? `${error.message} (${fields})` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {describe(error)}
    </p>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  set: (data: T) => void;
}

/** Loads data once its inputs are known, and on `reload`. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const current = useRef(0);
  useEffect(() => {
    const mine = ++current.current;
    setLoading(true);
    load().then(
      (value) => {
        if (mine !== current.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== current.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, set: setData };
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}
