// The editor's commands as patches: each takes the tree and the selection
// and answers the ops to apply (an empty patch when the command does not
// apply here), so the editor records every one of them for undo.

import type { Component, Node } from './types';
import type { Op, Patch } from './patch';
import { applyPatch } from './patch';
import {
  canPlace,
  copyWithFreshIds,
  findNode,
  freshId,
  idsOf,
  insertionPoint,
  locate,
  sameTree,
  slotToIndex,
  topmost,
} from './ops';

/** The selected nodes a command acts on: the topmost, never the root. */
export function movable(root: Node, ids: Iterable<string>): string[] {
  return topmost(root, [...ids].filter((id) => id !== root.id));
}

/** Removes the selected nodes (never the root). */
export function deletePatch(root: Node, ids: Iterable<string>): Patch {
  return movable(root, ids)
    .map((id): Op => ({ t: 'remove', id }));
}

/** A copy of each selected node, with fresh ids, right after it. */
export function duplicatePatch(
  root: Node,
  ids: Iterable<string>,
  makeId: () => string = () => freshId(),
): { patch: Patch; created: string[] } {
  const taken = idsOf(root);
  const patch: Op[] = [];
  const created: string[] = [];
  // Last first, so earlier indexes stay right.
  for (const id of movable(root, ids).reverse()) {
    const place = locate(root, id)!;
    const copy = copyWithFreshIds(place.parent.children[place.index], taken, makeId);
    patch.push({ t: 'insert', parent: place.parent.id, index: place.index + 1, node: copy });
    created.unshift(copy.id);
  }
  return { patch, created };
}

/** The subtrees to put on the clipboard: the topmost selected nodes. */
export function copySelection(root: Node, ids: Iterable<string>): Node[] {
  return movable(root, ids)
    .map((id) => structuredClone(findNode(root, id)!));
}

/**
 * Pastes clipboard subtrees with fresh ids where the selection says
 * (into a selected container, else after the selected node). Subtrees the
 * place does not allow are left out.
 */
export function pastePatch(
  library: Component[],
  root: Node,
  clipboard: Node[],
  selectedId: string | undefined,
  makeId: () => string = () => freshId(),
): { patch: Patch; created: string[] } {
  const taken = idsOf(root);
  const patch: Op[] = [];
  const created: string[] = [];
  let offset = 0;
  let lastPoint: { parent: string; index: number } | undefined;
  for (const item of clipboard) {
    const point = insertionPoint(library, root, selectedId, item.component);
    if (!point) continue;
    const copy = copyWithFreshIds(item, taken, makeId);
    if (!canPlace(library, root, copy, point.parent)) continue;
    if (lastPoint && lastPoint.parent === point.parent && lastPoint.index === point.index) offset++;
    else offset = 0;
    lastPoint = point;
    patch.push({ t: 'insert', parent: point.parent, index: point.index + offset, node: copy });
    created.push(copy.id);
  }
  return { patch, created };
}

/**
 * Moves nodes (in document order, as a block) to slot `slot` of `parent`
 * (the slot counted with the nodes still in place). Refused moves (into
 * themselves, where the parent does not allow them) are left out.
 */
export function movePatch(
  library: Component[],
  root: Node,
  ids: Iterable<string>,
  parent: string,
  slot: number,
): Patch {
  const moving = movable(root, ids);
  const patch: Op[] = [];
  let tree = root;
  let at = slot;
  for (const id of moving) {
    const node = findNode(tree, id)!;
    if (!canPlace(library, tree, node, parent)) continue;
    const index = slotToIndex(tree, id, parent, at);
    const op: Op = { t: 'move', id, parent, index };
    const next = applyPatch(tree, [op]).tree;
    if (next === tree) continue;
    tree = next;
    patch.push(op);
    at = index + 1;
  }
  // A move that lands where the node already is changes nothing.
  return sameTree(applyPatch(root, patch).tree, root) ? [] : patch;
}

/** Moves each selected node one place up (or down) among its siblings. */
export function shiftPatch(root: Node, ids: Iterable<string>, direction: -1 | 1): Patch {
  const moving = movable(root, ids);
  const order = direction === -1 ? moving : moving.slice().reverse();
  const patch: Op[] = [];
  let tree = root;
  const blocked = new Set<string>();
  for (const id of order) {
    const place = locate(tree, id)!;
    const target = place.index + direction;
    const sibling = place.parent.children[target];
    if (!sibling || blocked.has(sibling.id)) {
      blocked.add(id);
      continue;
    }
    const op: Op = { t: 'move', id, parent: place.parent.id, index: target };
    tree = applyPatch(tree, [op]).tree;
    patch.push(op);
  }
  return patch;
}

/** Moves each selected node into the sibling before it, at its end. */
export function indentPatch(library: Component[], root: Node, ids: Iterable<string>): Patch {
  const patch: Op[] = [];
  let tree = root;
  for (const id of movable(root, ids)) {
    const place = locate(tree, id)!;
    const before = place.parent.children[place.index - 1];
    const node = place.parent.children[place.index];
    if (!before || !canPlace(library, tree, node, before.id)) continue;
    const op: Op = { t: 'move', id, parent: before.id, index: before.children.length };
    tree = applyPatch(tree, [op]).tree;
    patch.push(op);
  }
  return patch;
}

/** Moves each selected node out of its parent, right after it. */
export function outdentPatch(library: Component[], root: Node, ids: Iterable<string>): Patch {
  const patch: Op[] = [];
  let tree = root;
  for (const id of movable(root, ids).reverse()) {
    const place = locate(tree, id)!;
    const outer = locate(tree, place.parent.id);
    if (!outer) continue;
    const node = place.parent.children[place.index];
    if (!canPlace(library, tree, node, outer.parent.id)) continue;
    const op: Op = { t: 'move', id, parent: outer.parent.id, index: outer.index + 1 };
    tree = applyPatch(tree, [op]).tree;
    patch.push(op);
  }
  return patch;
}
