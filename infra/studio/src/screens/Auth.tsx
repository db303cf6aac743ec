// Sign up and sign in. A sign-up signs in right away (the local gateway
// confirms accounts at once); the fields the API refuses show their error.

import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import { Link, navigate } from '../router';
import { ErrorNote, TextField, useTitle } from '../ui';

function AuthFrame({ title, children }: { title: string; children: React.ReactNode }) {
  useTitle(title);
  return (
    <div className="auth">
      <header className="banner">
        <span className="brand">NoCode Studio</span>
      </header>
      <main id="main" className="auth-main">
        <h1>{title}</h1>
        {children}
      </main>
    </div>
  );
}

const fieldError = (error: unknown, field: string) =>
  error instanceof ApiError ? error.at(field) : undefined;

/** The error of the whole form: field errors show at their fields. */
function FormError({ error }: { error: unknown }) {
  if (!error) return null;
  if (error instanceof ApiError && error.errors.length) {
    return (
      <p className="error" role="alert">
        Check the fields marked above.
      </p>
    );
  }
  return <ErrorNote error={error} />;
}

export function SignIn() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.login(email.trim(), password);
      navigate('/orgs', true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthFrame title="Sign in">
      <form onSubmit={submit} className="card" aria-label="Sign in">
        <TextField label="E-mail" type="email" value={email} onChange={setEmail} autoComplete="username" required error={fieldError(error, 'email')} />
        <TextField label="Password" type="password" value={password} onChange={setPassword} autoComplete="current-password" required error={fieldError(error, 'password')} />
        <FormError error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        New here? <Link to="/signup">Create an account</Link>
      </p>
    </AuthFrame>
  );
}

export function SignUp() {
  const [first, setFirst] = useState('');
  const [last, setLast] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.register({ email: email.trim(), password, first_name: first.trim(), last_name: last.trim() });
      await api.login(email.trim(), password);
      navigate('/orgs', true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthFrame title="Create your account">
      <form onSubmit={submit} className="card" aria-label="Sign up">
        <TextField label="First name" value={first} onChange={setFirst} autoComplete="given-name" required error={fieldError(error, 'first_name')} />
        <TextField label="Last name" value={last} onChange={setLast} autoComplete="family-name" required error={fieldError(error, 'last_name')} />
        <TextField label="E-mail" type="email" value={email} onChange={setEmail} autoComplete="email" required error={fieldError(error, 'email')} />
        <TextField
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          required
          hint="A long passphrase: several unrelated words, digits or signs."
          error={fieldError(error, 'password')}
        />
        <FormError error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Have an account? <Link to="/signin">Sign in</Link>
      </p>
    </AuthFrame>
  );
}
