// The page's saves, newest first, each restorable. A restore is a new save
// on the server and one undoable step here.

import { useState } from 'react';
import { api, ApiError } from '../api/client';
import type { SaveSummary } from '../api/types';
import { describe, ErrorNote, useLoad } from '../ui';
import { useEditor } from './context';
import { isDirty } from './state';

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function HistoryPanel({ project, page, userId }: { project: string; page: string; userId?: string }) {
  const { state, dispatch } = useEditor();
  const saves = useLoad(() => api.history(project, page), [project, page, state.saves]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState<number>();
  const dirty = isDirty(state);

  const restore = async (save: SaveSummary) => {
    setBusy(save.version);
    setError(undefined);
    try {
      let current = state.version;
      let view;
      try {
        view = await api.restore(project, page, save.version, current);
      } catch (e) {
        // Someone saved meanwhile: restore over their save (it stays in
        // the history, and this restore is one undo away).
        if (!(e instanceof ApiError && e.status === 412)) throw e;
        current = e.currentVersion ?? (await api.page(project, page)).version;
        view = await api.restore(project, page, save.version, current);
      }
      dispatch({ type: 'restored', tree: view.tree, version: view.version, from: save.version });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="history-heading" className="panel">
      <h2 id="history-heading">History</h2>
      <ErrorNote error={saves.error} />
      {error ? <p className="error" role="alert">Restore failed: {describe(error)}</p> : null}
      {dirty && <p className="hint">Unsaved changes are saved before anything is restored.</p>}
      <ol className="history" aria-label="Saves, newest first">
        {saves.data?.items.map((s) => (
          <li key={s.version} className="history-item">
            <span>
              <strong>Version {s.version}</strong>
              {s.version === state.version && <span className="tag"> current</span>}
              <br />
              <span className="meta">
                {when(s.saved_at)}
                {s.saved_by === userId ? ' · you' : ''}
                {s.restored_from ? ` · restored ${s.restored_from}` : ''}
              </span>
            </span>
            {s.version !== state.version && (
              <button
                type="button"
                className="small"
                disabled={busy !== undefined || dirty || state.saving}
                aria-label={`Restore version ${s.version}`}
                onClick={() => void restore(s)}
              >
                {busy === s.version ? 'Restoring…' : 'Restore'}
              </button>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function ConflictsPanel() {
  const { state, dispatch, library } = useEditor();
  if (state.conflicts.length === 0) return null;
  return (
    <section aria-labelledby="conflicts-heading" className="panel conflicts" role="region">
      <h2 id="conflicts-heading">Conflicts ({state.conflicts.length})</h2>
      <p className="hint">
        Someone else saved this page while you edited it. Your other changes were replayed onto theirs; these components
        were changed on both sides. Their version stays in the history.
      </p>
      <ul>
        {state.conflicts.map((c) => (
          <li key={c.nodeId} className="conflict" data-conflict={c.nodeId}>
            <p>
              <strong>{library.find((k) => k.kind === c.component)?.title ?? c.component}</strong> ({c.nodeId}): {c.message}
            </p>
            <div className="buttons">
              <button type="button" className="small" onClick={() => dispatch({ type: 'resolve', nodeId: c.nodeId, useAlternative: false })}>
                {c.kept === 'yours' ? 'Keep mine' : 'Keep theirs'}
              </button>
              <button type="button" className="small" onClick={() => dispatch({ type: 'resolve', nodeId: c.nodeId, useAlternative: true })}>
                {c.alternativeLabel}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
