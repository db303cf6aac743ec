// The checks the server runs on a saved tree (shared/src/studio/tree.rs),
// run in the browser first so a problem shows at its node and prop before
// any save is tried. Each problem names the node, the prop when it is one
// prop's, and the server's JSON path for it.

import type { Component, Json, Node, PropDef, TableInfo } from './types';
import { MAX_DEPTH, MAX_NODES, MAX_NODE_ID } from './types';
import { allows, componentOf } from './ops';

export interface Problem {
  nodeId: string;
  /** The server's path: `tree.children[2].props.label`. */
  path: string;
  prop?: string;
  message: string;
}

const ID = /^[A-Za-z0-9_-]+$/;

export function idOk(id: string): boolean {
  return id.length > 0 && id.length <= MAX_NODE_ID && ID.test(id);
}

export function urlOk(text: string): boolean {
  if (text.startsWith('/')) return true;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const chars = (s: string) => [...s].length;

/** Why a prop value is refused, or undefined when it fits. */
export function checkValue(
  def: PropDef,
  value: Json,
  tables: TableInfo[],
  boundTable: string | undefined,
): string | undefined {
  const inRange = (n: number) =>
    (def.min === undefined || def.min === null || n >= def.min) &&
    (def.max === undefined || def.max === null || n <= def.max);
  const range = () => {
    const lo = def.min ?? undefined;
    const hi = def.max ?? undefined;
    if (lo !== undefined && hi !== undefined) return ` from ${lo} to ${hi}`;
    if (lo !== undefined) return ` of at least ${lo}`;
    if (hi !== undefined) return ` of at most ${hi}`;
    return '';
  };
  switch (def.type) {
    case 'string':
      if (typeof value !== 'string') return 'must be text';
      if (!inRange(chars(value))) return `must be text${range()} characters long`;
      return undefined;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      return inRange(value) ? undefined : `must be a number${range()}`;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be a whole number';
      return inRange(value) ? undefined : `must be a whole number${range()}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'choice':
      return typeof value === 'string' && (def.choices ?? []).includes(value)
        ? undefined
        : `must be one of ${(def.choices ?? []).join(', ')}`;
    case 'url':
      return typeof value === 'string' && urlOk(value)
        ? undefined
        : 'must be a path (/…) or an http(s) address';
    case 'table':
      if (typeof value !== 'string') return 'must name a table';
      return tables.some((t) => t.id === value) ? undefined : 'is no table of this project';
    case 'field': {
      if (typeof value !== 'string') return 'must name a field';
      if (!boundTable) return 'binds a field, but no table is bound around it';
      const table = tables.find((t) => t.id === boundTable);
      return table?.fields.some((f) => f.id === value)
        ? undefined
        : 'is no field of the table bound around it';
    }
    case 'workflow':
      return typeof value === 'string' && value.length > 0 ? undefined : 'must name a workflow';
  }
}

/** The table a node's own table prop binds, if it names one of the project's. */
export function ownTable(component: Component | undefined, node: Node, tables: TableInfo[]): string | undefined {
  const def = component?.props.find((p) => p.type === 'table');
  const value = def ? node.props[def.name] : undefined;
  return typeof value === 'string' && tables.some((t) => t.id === value) ? value : undefined;
}

/** The table bound at `id`: its own, else the nearest around it. */
export function tableAt(root: Node, id: string, library: Component[], tables: TableInfo[]): string | undefined {
  let found: string | undefined;
  const walk = (node: Node, around: string | undefined): boolean => {
    const here = ownTable(componentOf(library, node.component), node, tables) ?? around;
    if (node.id === id) {
      found = here;
      return true;
    }
    return node.children.some((c) => walk(c, here));
  };
  walk(root, undefined);
  return found;
}

/** Every problem of a tree, in document order. */
export function validate(root: Node, library: Component[], tables: TableInfo[]): Problem[] {
  const problems: Problem[] = [];
  const ids = new Set<string>();
  let count = 0;
  const fail = (nodeId: string, path: string, message: string, prop?: string) =>
    problems.push({ nodeId, path, message, ...(prop ? { prop } : {}) });

  if (root.component !== 'page') fail(root.id, 'tree.component', 'the root of a page is a page');

  const visit = (node: Node, path: string, depth: number, around: string | undefined) => {
    count++;
    if (count > MAX_NODES) {
      if (count === MAX_NODES + 1) fail(node.id, path, `a page holds at most ${MAX_NODES} nodes`);
      return;
    }
    if (depth > MAX_DEPTH) {
      fail(node.id, path, `a page is at most ${MAX_DEPTH} levels deep`);
      return;
    }
    if (!idOk(node.id)) fail(node.id, `${path}.id`, 'is 1 to 64 letters, digits, _ or -');
    else if (ids.has(node.id)) fail(node.id, `${path}.id`, 'is the id of another node');
    else ids.add(node.id);
    const component = componentOf(library, node.component);
    if (!component) {
      fail(node.id, `${path}.component`, 'is no component of this project');
      return;
    }
    const table = ownTable(component, node, tables) ?? around;
    for (const [name, value] of Object.entries(node.props)) {
      const def = component.props.find((p) => p.name === name);
      if (!def) {
        fail(node.id, `${path}.props.${name}`, 'is no prop of this component', name);
        continue;
      }
      const why = checkValue(def, value, tables, table);
      if (why) fail(node.id, `${path}.props.${name}`, why, name);
    }
    for (const def of component.props) {
      if (def.required && !(def.name in node.props)) {
        fail(node.id, `${path}.props.${def.name}`, 'is required', def.name);
      }
    }
    node.children.forEach((child, i) => {
      const at = `${path}.children[${i}]`;
      if (!allows(component.children, child.component)) {
        fail(child.id, `${at}.component`, `a ${component.kind} holds no ${child.component}`);
      }
      visit(child, at, depth + 1, table);
    });
  };
  visit(root, 'tree', 1, undefined);
  return problems;
}

/**
 * The node and prop a server path names (`tree.children[1].props.label`),
 * so a 422 from a save shows where it belongs.
 */
export function resolvePath(root: Node, path: string): { nodeId: string; prop?: string } | undefined {
  if (!path.startsWith('tree')) return undefined;
  let node = root;
  let rest = path.slice(4);
  for (;;) {
    const m = /^\.children\[(\d+)\]/.exec(rest);
    if (!m) break;
    const child = node.children[Number(m[1])];
    if (!child) return undefined;
    node = child;
    rest = rest.slice(m[0].length);
  }
  const prop = /^\.props\.([a-z][a-z0-9_]*)/.exec(rest)?.[1];
  return prop ? { nodeId: node.id, prop } : { nodeId: node.id };
}
