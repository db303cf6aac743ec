// Replaying a local change onto a newer server tree (after a 412).
//
// `base` is the tree the local edits started from (the last save this
// editor saw), `local` the tree as the editor holds it now, and `remote`
// the server's newer tree. The local change is what differs between base
// and local, node by node: added, removed, moved (to another parent, or
// out of order among the same siblings), props set or cleared. It is
// replayed onto remote, so every remote change stays.
//
// A conflict is a node both sides touched with different results. The
// merged tree never drops content in one: edits beat deletions (a node
// deleted on one side and changed on the other stays, as changed), and
// between two edits the local one is kept. Each conflict carries the
// patch that switches that node to the other side's version, so the
// person decides, and the server's history still holds the remote save.

import type { Json, Node } from './types';
import type { Op } from './patch';
import { findNode, insertNode, isWithin, locate, moveNode, preorder, removeNode, sameJson, setProps } from './ops';

interface Flat {
  parent: string | null;
  component: string;
  props: Record<string, Json>;
  children: string[];
  node: Node;
}

function flatten(root: Node): Map<string, Flat> {
  const map = new Map<string, Flat>();
  const walk = (node: Node, parent: string | null) => {
    map.set(node.id, {
      parent,
      component: node.component,
      props: node.props,
      children: node.children.map((c) => c.id),
      node,
    });
    node.children.forEach((c) => walk(c, node.id));
  };
  walk(root, null);
  return map;
}

/** The items of `order` that keep their relative order from `before` (an LCS). */
function stable(before: string[], order: string[]): Set<string> {
  const common = new Set(before.filter((id) => order.includes(id)));
  const a = before.filter((id) => common.has(id));
  const b = order.filter((id) => common.has(id));
  const n = a.length;
  const m = b.length;
  const len: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      len[i][j] = a[i] === b[j] ? len[i + 1][j + 1] + 1 : Math.max(len[i + 1][j], len[i][j + 1]);
  const keep = new Set<string>();
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (a[i] === b[j]) {
      keep.add(a[i]);
      i++;
      j++;
    } else if (len[i + 1][j] >= len[i][j + 1]) i++;
    else j++;
  }
  return keep;
}

/** What one side did to the base, node by node. */
interface Side {
  flat: Map<string, Flat>;
  added: Set<string>;
  removed: Set<string>;
  moved: Set<string>;
  /** Prop keys whose value differs from the base. */
  props: Map<string, Set<string>>;
}

function diff(base: Map<string, Flat>, side: Map<string, Flat>): Side {
  const added = new Set<string>();
  const removed = new Set<string>();
  const moved = new Set<string>();
  const props = new Map<string, Set<string>>();
  for (const id of side.keys()) if (!base.has(id)) added.add(id);
  for (const [id, b] of base) {
    const s = side.get(id);
    if (!s) {
      removed.add(id);
      continue;
    }
    if (s.parent !== b.parent) moved.add(id);
    const keys = new Set<string>();
    for (const key of new Set([...Object.keys(b.props), ...Object.keys(s.props)])) {
      if (!sameJson(b.props[key], s.props[key])) keys.add(key);
    }
    if (keys.size > 0) props.set(id, keys);
  }
  // Reordered among the same siblings: not in the longest kept order.
  for (const [id, b] of base) {
    const s = side.get(id);
    if (!s) continue;
    const keep = stable(
      b.children.filter((c) => side.get(c)?.parent === id),
      s.children.filter((c) => base.get(c)?.parent === id),
    );
    for (const c of b.children) if (side.get(c)?.parent === id && !keep.has(c)) moved.add(c);
  }
  return { flat: side, added, removed, moved, props };
}

const touched = (side: Side, id: string) =>
  side.added.has(id) || side.removed.has(id) || side.moved.has(id) || side.props.has(id);

export interface Conflict {
  /** The node both sides touched. */
  nodeId: string;
  /** Its component, for people. */
  component: string;
  /** What happened, for people. */
  message: string;
  /** What the tree kept ("yours", "theirs"). */
  kept: 'yours' | 'theirs';
  /** Switches this node to the side that was not kept. */
  alternative: Op[];
  /** The button's words for `alternative`. */
  alternativeLabel: string;
}

export interface Replayed {
  tree: Node;
  conflicts: Conflict[];
}

/** Replays base→local onto remote. */
export function replay(base: Node, local: Node, remote: Node): Replayed {
  const B = flatten(base);
  const L = diff(B, flatten(local));
  const R = diff(B, flatten(remote));
  let tree = remote;
  const conflicts = new Map<string, Conflict>();
  const conflict = (c: Conflict) => {
    if (!conflicts.has(c.nodeId)) conflicts.set(c.nodeId, c);
  };
  const localOrder = preorder(local).map((n) => n.id);

  /** Where `id` goes under `parent` in tree, following its local siblings. */
  const anchorIndex = (id: string, parent: string): number => {
    const siblings = L.flat.get(parent)?.children ?? [];
    const here = findNode(tree, parent)!;
    const ids = here.children.map((c) => c.id).filter((c) => c !== id);
    const at = siblings.indexOf(id);
    for (let i = at - 1; i >= 0; i--) {
      const k = ids.indexOf(siblings[i]);
      if (k >= 0) return k + 1;
    }
    for (let i = at + 1; i < siblings.length; i++) {
      const k = ids.indexOf(siblings[i]);
      if (k >= 0) return k;
    }
    return at <= 0 ? 0 : ids.length;
  };

  /** A copy of the local subtree of `id` without ids the tree holds already. */
  const localSubtree = (id: string): Node => {
    const present = new Set(preorder(tree).map((n) => n.id));
    const strip = (n: Node): Node => ({
      ...n,
      children: n.children.filter((c) => !present.has(c.id)).map(strip),
    });
    return strip(L.flat.get(id)!.node);
  };

  /** Brings back a node the remote side deleted, as the local side has it. */
  const resurrect = (id: string, why: string): boolean => {
    if (findNode(tree, id)) return true;
    const entry = L.flat.get(id);
    if (!entry || entry.parent === null) return false;
    if (!findNode(tree, entry.parent) && !resurrect(entry.parent, why)) return false;
    // Bringing the parent back may have brought this node along.
    if (findNode(tree, id)) return true;
    tree = insertNode(tree, entry.parent, anchorIndex(id, entry.parent), localSubtree(id));
    conflict({
      nodeId: id,
      component: entry.component,
      message: why,
      kept: 'yours',
      alternative: [{ t: 'remove', id }],
      alternativeLabel: 'Delete it, as they did',
    });
    return true;
  };

  const deletedMessage = 'They deleted this; you changed it, so it was kept.';

  // 1. Additions, parents before children.
  for (const id of localOrder) {
    if (!L.added.has(id) || findNode(tree, id)) continue;
    const entry = L.flat.get(id)!;
    const parent = entry.parent!;
    if (!findNode(tree, parent) && !resurrect(parent, 'They deleted this; you added into it, so it was kept.')) continue;
    if (findNode(tree, id)) continue;
    const node: Node = { ...entry.node, children: [] };
    tree = insertNode(tree, parent, anchorIndex(id, parent), node);
  }

  // 2. Moves, in local document order so siblings settle in local order.
  for (const id of localOrder) {
    if (!L.moved.has(id)) continue;
    if (!findNode(tree, id)) {
      resurrect(id, deletedMessage);
      continue;
    }
    const entry = L.flat.get(id)!;
    const parent = entry.parent!;
    if (!findNode(tree, parent) && !resurrect(parent, deletedMessage)) continue;
    if (isWithin(tree, id, parent)) continue;
    const remotePlace = locate(remote, id);
    const bothMoved = L.moved.has(id) && R.moved.has(id);
    const sameParent = remotePlace?.parent.id === parent;
    tree = moveNode(tree, id, parent, anchorIndex(id, parent));
    if (bothMoved && !sameParent && remotePlace) {
      conflict({
        nodeId: id,
        component: entry.component,
        message: 'You and they both moved this; your place was kept.',
        kept: 'yours',
        alternative: [{ t: 'move', id, parent: remotePlace.parent.id, index: remotePlace.index }],
        alternativeLabel: 'Move it where they put it',
      });
    }
  }

  // 3. Props: the local keys replayed over the remote ones.
  for (const [id, keys] of L.props) {
    if (!findNode(tree, id) && !resurrect(id, deletedMessage)) continue;
    const localProps = L.flat.get(id)!.props;
    const set: Record<string, Json> = {};
    const unset: string[] = [];
    for (const key of keys) {
      if (key in localProps) set[key] = localProps[key];
      else unset.push(key);
    }
    const remoteKeys = R.props.get(id);
    const remoteNode = R.flat.get(id);
    const clash =
      remoteKeys &&
      remoteNode &&
      [...keys].some((k) => remoteKeys.has(k) && !sameJson(remoteNode.props[k], localProps[k]));
    tree = setProps(tree, id, set, unset);
    if (clash && remoteNode) {
      const theirs = remoteNode.props;
      const now = findNode(tree, id)!.props;
      conflict({
        nodeId: id,
        component: remoteNode.component,
        message: 'You and they both changed this; your values were kept.',
        kept: 'yours',
        alternative: [
          {
            t: 'props',
            id,
            set: { ...theirs },
            unset: Object.keys(now).filter((k) => !(k in theirs)),
          },
        ],
        alternativeLabel: 'Use their values',
      });
    }
  }

  // 4. Removals, unless the remote side changed what they would remove.
  const kept = new Set<string>();
  for (const id of preorder(base).map((n) => n.id)) {
    if (!L.removed.has(id) || kept.has(id) || !findNode(tree, id)) continue;
    const subtree = findNode(tree, id)!;
    const theirs = preorder(subtree).some((n) => touched(R, n.id));
    if (theirs) {
      // Kept whole: what it holds stays with it.
      for (const n of preorder(subtree)) kept.add(n.id);
      conflict({
        nodeId: id,
        component: subtree.component,
        message: 'You deleted this; they changed it, so it was kept.',
        kept: 'theirs',
        alternative: [{ t: 'remove', id }],
        alternativeLabel: 'Delete it anyway',
      });
      continue;
    }
    tree = removeNode(tree, id);
  }

  return { tree, conflicts: [...conflicts.values()] };
}
