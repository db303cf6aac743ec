// Pure operations on a page's tree. Nothing here mutates its input: every
// change returns a new tree that shares the untouched subtrees.

import type { ChildrenRule, Component, Json, Node } from './types';
import { MAX_DEPTH } from './types';

/** Where a node sits: its parent and its index among the parent's children. */
export interface Place {
  parent: Node;
  index: number;
}

export function findNode(root: Node, id: string): Node | undefined {
  if (root.id === id) return root;
  for (const child of root.children) {
    const found = findNode(child, id);
    if (found) return found;
  }
  return undefined;
}

/** The parent of `id` and its index there; undefined for the root or a missing id. */
export function locate(root: Node, id: string): Place | undefined {
  for (let i = 0; i < root.children.length; i++) {
    const child = root.children[i];
    if (child.id === id) return { parent: root, index: i };
    const found = locate(child, id);
    if (found) return found;
  }
  return undefined;
}

/** The ancestors of `id`, root first, excluding the node itself. */
export function ancestors(root: Node, id: string): Node[] {
  const trail: Node[] = [];
  const walk = (node: Node): boolean => {
    if (node.id === id) return true;
    trail.push(node);
    for (const child of node.children) if (walk(child)) return true;
    trail.pop();
    return false;
  };
  return walk(root) ? trail : [];
}

/** Whether `id` is `ancestorId` or lies inside it. */
export function isWithin(root: Node, ancestorId: string, id: string): boolean {
  const top = findNode(root, ancestorId);
  return top ? findNode(top, id) !== undefined : false;
}

/** Every node in document order (preorder). */
export function preorder(root: Node): Node[] {
  const out: Node[] = [];
  const walk = (node: Node) => {
    out.push(node);
    node.children.forEach(walk);
  };
  walk(root);
  return out;
}

export function countNodes(root: Node): number {
  return 1 + root.children.reduce((n, c) => n + countNodes(c), 0);
}

/** How many levels a subtree spans (a leaf is 1). */
export function height(node: Node): number {
  return 1 + node.children.reduce((h, c) => Math.max(h, height(c)), 0);
}

/** The depth of `id` (the root is 1), or 0 if absent. */
export function depthOf(root: Node, id: string): number {
  const found = findNode(root, id);
  return found ? ancestors(root, id).length + 1 : 0;
}

/** A copy of the tree with the node `id` replaced by `fn(node)`. */
export function updateNode(root: Node, id: string, fn: (node: Node) => Node): Node {
  if (root.id === id) return fn(root);
  let changed = false;
  const children = root.children.map((child) => {
    const next = updateNode(child, id, fn);
    if (next !== child) changed = true;
    return next;
  });
  return changed ? { ...root, children } : root;
}

/** Inserts `node` as the `index`th child of `parentId` (clamped to the ends). */
export function insertNode(root: Node, parentId: string, index: number, node: Node): Node {
  return updateNode(root, parentId, (parent) => {
    const children = parent.children.slice();
    const at = Math.max(0, Math.min(index, children.length));
    children.splice(at, 0, node);
    return { ...parent, children };
  });
}

/** Removes the node `id` with its subtree. The root cannot be removed. */
export function removeNode(root: Node, id: string): Node {
  const place = locate(root, id);
  if (!place) return root;
  return updateNode(root, place.parent.id, (parent) => ({
    ...parent,
    children: parent.children.filter((c) => c.id !== id),
  }));
}

/**
 * Moves `id` to be the `index`th child of `parentId`, the index counted
 * after the node has left its old place. Refuses (returns the tree as it
 * was) a move into the node itself or its own subtree.
 */
export function moveNode(root: Node, id: string, parentId: string, index: number): Node {
  const node = findNode(root, id);
  if (!node || root.id === id || isWithin(root, id, parentId)) return root;
  if (!findNode(root, parentId)) return root;
  return insertNode(removeNode(root, id), parentId, index, node);
}

/**
 * Turns a drop slot (an index in the parent's children as they show while
 * the node is still in place) into the index after the node left.
 */
export function slotToIndex(root: Node, id: string, parentId: string, slot: number): number {
  const place = locate(root, id);
  if (place && place.parent.id === parentId && place.index < slot) return slot - 1;
  return slot;
}

/** Sets and clears props of a node. */
export function setProps(
  root: Node,
  id: string,
  set: Record<string, Json>,
  unset: string[] = [],
): Node {
  return updateNode(root, id, (node) => {
    const props = { ...node.props, ...set };
    for (const key of unset) delete props[key];
    return { ...node, props };
  });
}

// ---------------------------------------------------------------- ids

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh node id: `n` and ten random letters or digits. */
export function freshId(random: () => number = Math.random): string {
  let id = 'n';
  for (let i = 0; i < 10; i++) id += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return id;
}

export function idsOf(root: Node): Set<string> {
  return new Set(preorder(root).map((n) => n.id));
}

/**
 * A deep copy of `node` in which every id is new and none is in `taken`
 * (which the new ids join).
 */
export function copyWithFreshIds(
  node: Node,
  taken: Set<string> = new Set(),
  makeId: () => string = () => freshId(),
): Node {
  const next = (): string => {
    let id = makeId();
    while (taken.has(id)) id = makeId();
    taken.add(id);
    return id;
  };
  const copy = (n: Node): Node => ({
    id: next(),
    component: n.component,
    props: structuredClone(n.props),
    children: n.children.map(copy),
  });
  return copy(node);
}

/** Of a set of ids, those not inside another of the set, in document order. */
export function topmost(root: Node, ids: Iterable<string>): string[] {
  const wanted = new Set(ids);
  const out: string[] = [];
  const walk = (node: Node) => {
    if (wanted.has(node.id)) {
      out.push(node.id);
      return;
    }
    node.children.forEach(walk);
  };
  walk(root);
  return out;
}

// ---------------------------------------------------------------- library rules

export function componentOf(library: Component[], kind: string): Component | undefined {
  return library.find((c) => c.kind === kind);
}

export function allows(rule: ChildrenRule, kind: string): boolean {
  switch (rule.kind) {
    case 'none':
      return false;
    case 'any':
      return true;
    case 'only':
      return rule.components.includes(kind);
  }
}

export function isContainer(library: Component[], kind: string): boolean {
  const c = componentOf(library, kind);
  return !!c && c.children.kind !== 'none';
}

/** Whether a node of `kind` may be a child of `parentId`. */
export function canHold(library: Component[], root: Node, parentId: string, kind: string): boolean {
  const parent = findNode(root, parentId);
  if (!parent) return false;
  const rule = componentOf(library, parent.component)?.children;
  return !!rule && kind !== 'page' && allows(rule, kind);
}

/**
 * Whether `node` (new, or the existing node of that id) may be placed under
 * `parentId`: allowed by the parent, not into itself, not too deep.
 */
export function canPlace(library: Component[], root: Node, node: Node, parentId: string): boolean {
  if (node.id === root.id) return false;
  if (findNode(root, node.id) && isWithin(root, node.id, parentId)) return false;
  if (!canHold(library, root, parentId, node.component)) return false;
  return depthOf(root, parentId) + height(node) <= MAX_DEPTH;
}

/**
 * Where an inserted node goes given the selection: into a selected
 * container that allows it (at its end), else after the selected node in
 * its parent, else at the end of the page.
 */
export function insertionPoint(
  library: Component[],
  root: Node,
  selectedId: string | undefined,
  kind: string,
): { parent: string; index: number } | undefined {
  if (selectedId) {
    const selected = findNode(root, selectedId);
    if (selected && canHold(library, root, selected.id, kind)) {
      return { parent: selected.id, index: selected.children.length };
    }
    for (let id: string | undefined = selectedId; id; ) {
      const place = locate(root, id);
      if (!place) break;
      if (canHold(library, root, place.parent.id, kind)) {
        return { parent: place.parent.id, index: place.index + 1 };
      }
      id = place.parent.id;
    }
  }
  if (canHold(library, root, root.id, kind)) return { parent: root.id, index: root.children.length };
  return undefined;
}

/** JSON text with object keys sorted, so equal values give equal text. */
export function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/** Two trees alike in every id, component, prop and child. */
export function sameTree(a: Node, b: Node): boolean {
  return a === b || canonical(a) === canonical(b);
}

export function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  return canonical(a) === canonical(b);
}
