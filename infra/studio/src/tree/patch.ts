// Edits as patches. Every change the editor makes to a tree is a list of
// operations that name nodes by id (never by path), so a patch still
// applies after the tree changed around it (a rebase onto a newer save).
// Applying a patch gives the new tree and the exact inverse patch, which
// is what undo applies; applying that inverse gives the redo patch.

import type { Json, Node } from './types';
import { findNode, insertNode, locate, moveNode, removeNode, setProps, idsOf, isWithin } from './ops';

export type Op =
  /** Insert `node` (with its subtree) as the `index`th child of `parent`. */
  | { t: 'insert'; parent: string; index: number; node: Node }
  /** Remove the node `id` with its subtree. */
  | { t: 'remove'; id: string }
  /** Move `id` to be the `index`th child of `parent` (index after it left). */
  | { t: 'move'; id: string; parent: string; index: number }
  /** Set props (`set`) and clear others (`unset`) of node `id`. */
  | { t: 'props'; id: string; set: Record<string, Json>; unset: string[] }
  /** Replace the whole tree (a restore from history). */
  | { t: 'replace'; tree: Node };

export type Patch = Op[];

export interface Applied {
  tree: Node;
  /** Undoes what was applied, in order. */
  inverse: Patch;
  /** How many ops did not apply (their node was gone). */
  skipped: number;
}

/** Applies one op; undefined when it cannot apply to this tree. */
export function applyOp(tree: Node, op: Op): { tree: Node; inverse: Op } | undefined {
  switch (op.t) {
    case 'insert': {
      if (!findNode(tree, op.parent)) return undefined;
      // An id already in the tree would break uniqueness.
      const taken = idsOf(tree);
      if ([...idsOf(op.node)].some((id) => taken.has(id))) return undefined;
      const parent = findNode(tree, op.parent)!;
      const index = Math.max(0, Math.min(op.index, parent.children.length));
      return {
        tree: insertNode(tree, op.parent, index, op.node),
        inverse: { t: 'remove', id: op.node.id },
      };
    }
    case 'remove': {
      const place = locate(tree, op.id);
      if (!place) return undefined;
      const node = place.parent.children[place.index];
      return {
        tree: removeNode(tree, op.id),
        inverse: { t: 'insert', parent: place.parent.id, index: place.index, node },
      };
    }
    case 'move': {
      const place = locate(tree, op.id);
      if (!place || !findNode(tree, op.parent) || isWithin(tree, op.id, op.parent)) return undefined;
      return {
        tree: moveNode(tree, op.id, op.parent, op.index),
        inverse: { t: 'move', id: op.id, parent: place.parent.id, index: place.index },
      };
    }
    case 'props': {
      const node = findNode(tree, op.id);
      if (!node) return undefined;
      const set: Record<string, Json> = {};
      const unset: string[] = [];
      for (const key of [...Object.keys(op.set), ...op.unset]) {
        if (key in node.props) set[key] = node.props[key];
        else if (!unset.includes(key)) unset.push(key);
      }
      return {
        tree: setProps(tree, op.id, op.set, op.unset),
        inverse: { t: 'props', id: op.id, set, unset },
      };
    }
    case 'replace':
      return { tree: op.tree, inverse: { t: 'replace', tree } };
  }
}

/** Applies a patch in order; ops that cannot apply are skipped. */
export function applyPatch(tree: Node, patch: Patch): Applied {
  let current = tree;
  const inverse: Op[] = [];
  let skipped = 0;
  for (const op of patch) {
    const done = applyOp(current, op);
    if (!done) {
      skipped++;
      continue;
    }
    current = done.tree;
    inverse.unshift(done.inverse);
  }
  return { tree: current, inverse, skipped };
}

/**
 * Folds consecutive props ops on one node into one (so a coalesced run of
 * keystrokes keeps one op, not one per keystroke). `later` wins.
 */
export function compact(patch: Patch): Patch {
  const out: Op[] = [];
  for (const op of patch) {
    const last = out[out.length - 1];
    if (op.t === 'props' && last && last.t === 'props' && last.id === op.id) {
      const set = { ...last.set };
      const unset = last.unset.filter((k) => !(k in op.set));
      for (const key of op.unset) {
        delete set[key];
        if (!unset.includes(key)) unset.push(key);
      }
      Object.assign(set, op.set);
      out[out.length - 1] = { t: 'props', id: op.id, set, unset };
    } else {
      out.push(op);
    }
  }
  return out;
}
