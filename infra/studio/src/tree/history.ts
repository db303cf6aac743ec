// Undo and redo over patches. Every edit the editor makes goes through
// `record`, so nothing escapes undo; typing into one prop of one node is
// coalesced into a single step while the keystrokes come close together.

import type { Node } from './types';
import { applyPatch, compact, type Patch } from './patch';
import { sameTree } from './ops';

export interface Entry {
  /** What the step did, for people ("Move Heading", "Edit label"). */
  label: string;
  /** Re-does the step. */
  forward: Patch;
  /** Undoes the step. */
  inverse: Patch;
  /** Steps with the same key may coalesce (typing into one prop). */
  key?: string;
  /** When the step was last extended (ms). */
  at: number;
}

export interface History {
  past: Entry[];
  future: Entry[];
  /** When set, the next step never coalesces with the last one. */
  sealed: boolean;
}

/** Most steps kept. */
export const LIMIT = 300;
/** Keystrokes further apart than this start a new step. */
export const COALESCE_MS = 1200;

export const emptyHistory = (): History => ({ past: [], future: [], sealed: false });

/**
 * Applies an edit to `tree` and records it. Returns the new tree and
 * history; an edit that changed nothing leaves both as they were.
 */
export function record(
  history: History,
  tree: Node,
  label: string,
  patch: Patch,
  options: { key?: string; now?: number } = {},
): { tree: Node; history: History } {
  const now = options.now ?? Date.now();
  const applied = applyPatch(tree, patch);
  if (applied.tree === tree || sameTree(applied.tree, tree)) return { tree, history };
  const forward = patch;
  const last = history.past[history.past.length - 1];
  const coalesce =
    !history.sealed &&
    options.key !== undefined &&
    last !== undefined &&
    last.key === options.key &&
    now - last.at <= COALESCE_MS;
  const past = history.past.slice();
  if (coalesce) {
    past[past.length - 1] = {
      ...last,
      forward: compact([...last.forward, ...forward]),
      inverse: compact([...applied.inverse, ...last.inverse]),
      at: now,
    };
  } else {
    past.push({ label, forward, inverse: applied.inverse, key: options.key, at: now });
    if (past.length > LIMIT) past.shift();
  }
  return { tree: applied.tree, history: { past, future: [], sealed: false } };
}

/** Ends the current coalescing run (a prop input lost focus). */
export function seal(history: History): History {
  return history.sealed ? history : { ...history, sealed: true };
}

export const canUndo = (h: History) => h.past.length > 0;
export const canRedo = (h: History) => h.future.length > 0;

/** Undoes the last step; undefined when there is none. */
export function undo(history: History, tree: Node): { tree: Node; history: History; label: string } | undefined {
  const entry = history.past[history.past.length - 1];
  if (!entry) return undefined;
  const applied = applyPatch(tree, entry.inverse);
  const redo: Entry = { ...entry, forward: applied.inverse, key: undefined };
  return {
    tree: applied.tree,
    label: entry.label,
    history: { past: history.past.slice(0, -1), future: [...history.future, redo], sealed: true },
  };
}

/** Re-does the last undone step; undefined when there is none. */
export function redo(history: History, tree: Node): { tree: Node; history: History; label: string } | undefined {
  const entry = history.future[history.future.length - 1];
  if (!entry) return undefined;
  const applied = applyPatch(tree, entry.forward);
  const back: Entry = { ...entry, inverse: applied.inverse, key: undefined };
  return {
    tree: applied.tree,
    label: entry.label,
    history: { past: [...history.past, back], future: history.future.slice(0, -1), sealed: true },
  };
}
