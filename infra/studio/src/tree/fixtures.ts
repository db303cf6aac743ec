// A small library in the server's shape, for the unit tests.

import type { Component, Node, TableInfo } from './types';

const text = (name: string, required = false) => ({ name, type: 'string' as const, required, min: 0, max: 10000 });

export const library: Component[] = [
  { kind: 'page', title: 'Page', description: '', props: [text('title')], children: { kind: 'any' } },
  {
    kind: 'heading',
    title: 'Heading',
    description: '',
    props: [text('content', true), { name: 'level', type: 'integer', min: 1, max: 6 }],
    children: { kind: 'none' },
  },
  { kind: 'text', title: 'Text', description: '', props: [text('content', true)], children: { kind: 'none' } },
  {
    kind: 'button',
    title: 'Button',
    description: '',
    props: [
      { name: 'label', type: 'string', required: true, min: 1, max: 100 },
      { name: 'variant', type: 'choice', choices: ['primary', 'secondary', 'link'] },
    ],
    children: { kind: 'none' },
  },
  {
    kind: 'link',
    title: 'Link',
    description: '',
    props: [
      { name: 'label', type: 'string', required: true, min: 1, max: 100 },
      { name: 'href', type: 'url', required: true },
    ],
    children: { kind: 'none' },
  },
  {
    kind: 'container',
    title: 'Container',
    description: '',
    props: [{ name: 'padding', type: 'integer', min: 0, max: 64 }],
    children: { kind: 'any' },
  },
  { kind: 'row', title: 'Row', description: '', props: [], children: { kind: 'only', components: ['column'] } },
  { kind: 'column', title: 'Column', description: '', props: [], children: { kind: 'any' } },
  {
    kind: 'form',
    title: 'Form',
    description: '',
    props: [{ name: 'table', type: 'table', required: true }],
    children: { kind: 'only', components: ['input', 'button', 'text'] },
  },
  {
    kind: 'input',
    title: 'Input',
    description: '',
    props: [
      { name: 'field', type: 'field', required: true },
      { name: 'label', type: 'string', min: 0, max: 100 },
    ],
    children: { kind: 'none' },
  },
  { kind: 'divider', title: 'Divider', description: '', props: [], children: { kind: 'none' } },
];

export const tables: TableInfo[] = [
  { id: 't1', name: 'Tasks', fields: [{ id: 'f1', name: 'title', type: 'text' }, { id: 'f2', name: 'done', type: 'boolean' }] },
];

export const n = (id: string, component: string, props: Node['props'] = {}, children: Node[] = []): Node => ({
  id,
  component,
  props,
  children,
});

/** root: [h "Hello", c: [t "One", t2 "Two"], b "Go"] */
export function sample(): Node {
  return n('root', 'page', {}, [
    n('h', 'heading', { content: 'Hello' }),
    n('c', 'container', {}, [n('t', 'text', { content: 'One' }), n('t2', 'text', { content: 'Two' })]),
    n('b', 'button', { label: 'Go' }),
  ]);
}

/** The tree as nested ids, for compact assertions: `root(h,c(t,t2),b)`. */
export function shape(node: Node): string {
  return node.children.length ? `${node.id}(${node.children.map(shape).join(',')})` : node.id;
}

/** Ids from a counter, for predictable copies. */
export function counter(prefix = 'x'): () => string {
  let i = 0;
  return () => `${prefix}${++i}`;
}
