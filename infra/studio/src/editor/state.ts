// The page editor's state and its reducer. One place changes the tree:
// `edit` records every change for undo; `undo`/`redo` replay patches;
// `saved` and `rebase` move the server's side (the base and its version);
// `restored` swaps in an old save as an undoable step.

import type { Node } from '../tree/types';
import type { Patch } from '../tree/patch';
import { applyPatch } from '../tree/patch';
import { emptyHistory, record, redo, seal, undo, type History } from '../tree/history';
import { findNode, preorder, sameTree } from '../tree/ops';
import { replay, type Conflict } from '../tree/replay';

export interface ServerProblem {
  nodeId?: string;
  prop?: string;
  path: string;
  message: string;
}

export interface EditorState {
  /** The tree the editor shows and edits. */
  tree: Node;
  /** The tree the server holds at `version`, as far as this editor knows. */
  base: Node;
  version: number;
  history: History;
  /** Selected node ids, in the order they were selected. */
  selection: string[];
  /** The range anchor for Shift-selection. */
  anchor?: string;
  saving: boolean;
  /** Why the last save failed (not a 412, which rebases). */
  saveError?: string;
  /** The field errors of the last refused save. */
  serverProblems: ServerProblem[];
  conflicts: Conflict[];
  /** Said to screen readers. */
  announcement: string;
  /** Bumped whenever a save completed (the history panel reloads). */
  saves: number;
}

export type Action =
  | { type: 'edit'; label: string; patch: Patch; key?: string; select?: string[] }
  | { type: 'undo' }
  | { type: 'redo' }
  | { type: 'seal' }
  | { type: 'select'; ids: string[]; anchor?: string }
  | { type: 'saving' }
  | { type: 'saved'; tree: Node; version: number }
  | { type: 'save-failed'; message: string; problems?: ServerProblem[] }
  | { type: 'rebase'; remote: Node; version: number }
  | { type: 'restored'; tree: Node; version: number; from: number }
  | { type: 'resolve'; nodeId: string; useAlternative: boolean }
  | { type: 'announce'; text: string }
  | { type: 'retry' };

export function initialState(tree: Node, version: number): EditorState {
  return {
    tree,
    base: tree,
    version,
    history: emptyHistory(),
    selection: [],
    saving: false,
    serverProblems: [],
    conflicts: [],
    announcement: '',
    saves: 0,
  };
}

const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const existing = (tree: Node, ids: string[]) => ids.filter((id) => findNode(tree, id));

export function isDirty(state: EditorState): boolean {
  return !sameTree(state.tree, state.base);
}

export function reducer(state: EditorState, action: Action): EditorState {
  switch (action.type) {
    case 'edit': {
      const done = record(state.history, state.tree, action.label, action.patch, { key: action.key });
      if (done.tree === state.tree) return state;
      return {
        ...state,
        tree: done.tree,
        history: done.history,
        selection: existing(done.tree, action.select ?? state.selection),
        saveError: undefined,
        announcement: action.key ? state.announcement : `${capital(action.label)}.`,
      };
    }
    case 'undo': {
      const back = undo(state.history, state.tree);
      if (!back) return { ...state, announcement: 'Nothing to undo.' };
      return {
        ...state,
        tree: back.tree,
        history: back.history,
        selection: existing(back.tree, state.selection),
        saveError: undefined,
        announcement: `Undid ${back.label}.`,
      };
    }
    case 'redo': {
      const again = redo(state.history, state.tree);
      if (!again) return { ...state, announcement: 'Nothing to redo.' };
      return {
        ...state,
        tree: again.tree,
        history: again.history,
        selection: existing(again.tree, state.selection),
        saveError: undefined,
        announcement: `Redid ${again.label}.`,
      };
    }
    case 'seal':
      return { ...state, history: seal(state.history) };
    case 'select':
      return { ...state, selection: existing(state.tree, action.ids), anchor: action.anchor ?? state.anchor };
    case 'saving':
      return { ...state, saving: true };
    case 'saved':
      return {
        ...state,
        saving: false,
        base: action.tree,
        version: action.version,
        saveError: undefined,
        serverProblems: [],
        saves: state.saves + 1,
      };
    case 'save-failed':
      return { ...state, saving: false, saveError: action.message, serverProblems: action.problems ?? [] };
    case 'rebase': {
      // Someone saved since our base: replay our change onto theirs.
      const merged = replay(state.base, state.tree, action.remote);
      const known = new Set(state.conflicts.map((c) => c.nodeId));
      const conflicts = [...state.conflicts, ...merged.conflicts.filter((c) => !known.has(c.nodeId))];
      return {
        ...state,
        saving: false,
        tree: merged.tree,
        base: action.remote,
        version: action.version,
        history: seal(state.history),
        selection: existing(merged.tree, state.selection),
        conflicts,
        saveError: undefined,
        announcement: merged.conflicts.length
          ? `Someone else saved this page. ${merged.conflicts.length} conflict(s) need a look.`
          : 'Someone else saved this page; your changes were replayed onto theirs.',
      };
    }
    case 'restored': {
      const done = record(state.history, state.tree, `restore of version ${action.from}`, [
        { t: 'replace', tree: action.tree },
      ]);
      return {
        ...state,
        tree: action.tree,
        base: action.tree,
        version: action.version,
        history: seal(done.history),
        selection: existing(action.tree, state.selection),
        saves: state.saves + 1,
        announcement: `Restored version ${action.from}.`,
      };
    }
    case 'resolve': {
      const conflict = state.conflicts.find((c) => c.nodeId === action.nodeId);
      const conflicts = state.conflicts.filter((c) => c.nodeId !== action.nodeId);
      if (!conflict || !action.useAlternative) return { ...state, conflicts, announcement: 'Conflict settled.' };
      const done = record(state.history, state.tree, conflict.alternativeLabel.toLowerCase(), conflict.alternative);
      return {
        ...state,
        tree: done.tree,
        history: done.history,
        conflicts,
        selection: existing(done.tree, state.selection),
        announcement: `${conflict.alternativeLabel}: done.`,
      };
    }
    case 'announce':
      return { ...state, announcement: action.text };
    case 'retry':
      return { ...state, saveError: undefined };
  }
}

/** Whether applying a patch would change the tree (for enabling buttons). */
export function changes(tree: Node, patch: Patch): boolean {
  return patch.length > 0 && !sameTree(applyPatch(tree, patch).tree, tree);
}

/** The ids in outline order between two nodes, both included. */
export function range(tree: Node, from: string, to: string): string[] {
  const order = preorder(tree).map((n) => n.id);
  const a = order.indexOf(from);
  const b = order.indexOf(to);
  if (a < 0 || b < 0) return [to];
  return order.slice(Math.min(a, b), Math.max(a, b) + 1);
}
