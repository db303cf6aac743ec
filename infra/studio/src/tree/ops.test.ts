import { describe, expect, it } from 'vitest';
import {
  canPlace,
  copyWithFreshIds,
  findNode,
  freshId,
  idsOf,
  insertNode,
  insertionPoint,
  moveNode,
  removeNode,
  slotToIndex,
  topmost,
} from './ops';
import { copySelection, deletePatch, duplicatePatch, indentPatch, movePatch, outdentPatch, pastePatch, shiftPatch } from './edits';
import { applyPatch } from './patch';
import { counter, library, n, sample, shape } from './fixtures';
import { newNode } from './make';
import { tables } from './fixtures';

describe('insert', () => {
  it('puts a node at an index, clamped to the ends, without touching the input', () => {
    const root = sample();
    const before = JSON.stringify(root);
    expect(shape(insertNode(root, 'c', 1, n('x', 'divider')))).toBe('root(h,c(t,x,t2),b)');
    expect(shape(insertNode(root, 'root', 99, n('x', 'divider')))).toBe('root(h,c(t,t2),b,x)');
    expect(shape(insertNode(root, 'root', -3, n('x', 'divider')))).toBe('root(x,h,c(t,t2),b)');
    expect(JSON.stringify(root)).toBe(before);
  });

  it('shares the subtrees it did not change', () => {
    const root = sample();
    const next = insertNode(root, 'c', 0, n('x', 'divider'));
    expect(next.children[0]).toBe(root.children[0]);
    expect(next.children[2]).toBe(root.children[2]);
  });

  it('finds where an inserted component goes from the selection', () => {
    const root = sample();
    expect(insertionPoint(library, root, 'c', 'text')).toEqual({ parent: 'c', index: 2 });
    expect(insertionPoint(library, root, 'h', 'text')).toEqual({ parent: 'root', index: 1 });
    expect(insertionPoint(library, root, 't', 'divider')).toEqual({ parent: 'c', index: 1 });
    expect(insertionPoint(library, root, undefined, 'text')).toEqual({ parent: 'root', index: 3 });
  });

  it('fills the required props of a new node so the page stays valid', () => {
    const form = newNode(library.find((c) => c.kind === 'form')!, tables, undefined, () => 'f');
    expect(form.props).toEqual({ table: 't1' });
    const input = newNode(library.find((c) => c.kind === 'input')!, tables, 't1', () => 'i');
    expect(input.props).toEqual({ field: 'f1' });
    const link = newNode(library.find((c) => c.kind === 'link')!, tables, undefined, () => 'l');
    expect(link.props).toEqual({ label: 'Link', href: '/' });
  });
});

describe('move', () => {
  it('moves within a parent and across parents', () => {
    const root = sample();
    expect(shape(moveNode(root, 'b', 'root', 0))).toBe('root(b,h,c(t,t2))');
    expect(shape(moveNode(root, 'h', 'c', 1))).toBe('root(c(t,h,t2),b)');
    expect(shape(moveNode(root, 't2', 'root', 3))).toBe('root(h,c(t),b,t2)');
  });

  it('refuses a move into the node itself or its subtree, and of the root', () => {
    const root = sample();
    expect(moveNode(root, 'c', 'c', 0)).toBe(root);
    expect(moveNode(root, 'root', 'c', 0)).toBe(root);
    const nested = insertNode(root, 'c', 0, n('inner', 'container'));
    expect(moveNode(nested, 'c', 'inner', 0)).toBe(nested);
  });

  it('turns a drop slot into the index after the node left', () => {
    const root = sample();
    // Dropping h in the slot before b (slot 2) lands it at index 1.
    expect(slotToIndex(root, 'h', 'root', 2)).toBe(1);
    expect(slotToIndex(root, 'b', 'root', 0)).toBe(0);
    expect(slotToIndex(root, 'h', 'c', 1)).toBe(1);
  });

  it('moves a multi-selection as a block, in document order', () => {
    const root = sample();
    const patch = movePatch(library, root, ['b', 'h'], 'c', 1);
    expect(shape(applyPatch(root, patch).tree)).toBe('root(c(t,h,b,t2))');
  });

  it('leaves out moves the target does not allow', () => {
    const root = n('root', 'page', {}, [n('r', 'row'), n('h', 'heading', { content: 'x' }), n('col', 'column')]);
    expect(movePatch(library, root, ['h'], 'r', 0)).toEqual([]);
    expect(shape(applyPatch(root, movePatch(library, root, ['col'], 'r', 0)).tree)).toBe('root(r(col),h)');
    expect(canPlace(library, root, n('p', 'page'), 'r')).toBe(false);
  });

  it('moves up, down, into the previous sibling and out of the parent', () => {
    const root = sample();
    expect(shape(applyPatch(root, shiftPatch(root, ['b'], -1)).tree)).toBe('root(h,b,c(t,t2))');
    expect(shape(applyPatch(root, shiftPatch(root, ['h'], 1)).tree)).toBe('root(c(t,t2),h,b)');
    expect(shiftPatch(root, ['h'], -1)).toEqual([]);
    expect(shape(applyPatch(root, indentPatch(library, root, ['b'])).tree)).toBe('root(h,c(t,t2,b))');
    // A heading holds nothing: no move into it.
    expect(indentPatch(library, root, ['c'])).toEqual([]);
    expect(shape(applyPatch(root, outdentPatch(library, root, ['t'])).tree)).toBe('root(h,c(t2),t,b)');
  });

  it('moves adjacent selected siblings together', () => {
    const root = sample();
    expect(shape(applyPatch(root, shiftPatch(root, ['c', 'b'], -1)).tree)).toBe('root(c(t,t2),b,h)');
    expect(shiftPatch(root, ['h', 'c'], -1)).toEqual([]);
  });
});

describe('remove, duplicate, copy and paste', () => {
  it('removes the topmost of the selected nodes, never the root', () => {
    const root = sample();
    expect(topmost(root, ['t', 'c', 'b'])).toEqual(['c', 'b']);
    expect(deletePatch(root, ['t', 'c', 'root'])).toEqual([{ t: 'remove', id: 'c' }]);
    expect(shape(removeNode(root, 'c'))).toBe('root(h,b)');
  });

  it('copies with fresh ids that collide with nothing', () => {
    const root = sample();
    const taken = idsOf(root);
    const ids = ['t', 'x1', 'x2', 'x3'];
    const copy = copyWithFreshIds(findNode(root, 'c')!, taken, () => ids.shift()!);
    // `t` is taken, so the generator is asked again.
    expect(shape(copy)).toBe('x1(x2,x3)');
    expect(copy.children[0].props).toEqual({ content: 'One' });
    expect(copy.children[0].props).not.toBe(findNode(root, 'c')!.children[0].props);
    expect(taken.has('x3')).toBe(true);
  });

  it('makes ids the server accepts', () => {
    for (let i = 0; i < 50; i++) expect(freshId()).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it('duplicates each selected node right after itself', () => {
    const root = sample();
    const { patch, created } = duplicatePatch(root, ['h', 't'], counter());
    const next = applyPatch(root, patch).tree;
    expect(shape(next)).toBe('root(h,x2,c(t,x1,t2),b)');
    expect(created).toEqual(['x2', 'x1']);
  });

  it('pastes into another page with ids regenerated, every time', () => {
    const source = sample();
    const clip = copySelection(source, ['c', 'b']);
    const other = n('root', 'page', {}, [n('c', 'container')]);
    const first = pastePatch(library, other, clip, 'c', counter('p'));
    const once = applyPatch(other, first.patch).tree;
    expect(shape(once)).toBe('root(c(p1(p2,p3),p4))');
    const second = pastePatch(library, once, clip, 'c', counter('q'));
    const twice = applyPatch(once, second.patch).tree;
    const all = [...idsOf(twice)];
    expect(new Set(all).size).toBe(all.length);
    expect(shape(twice)).toBe('root(c(p1(p2,p3),p4,q1(q2,q3),q4))');
  });

  it('leaves out pasted nodes the place does not allow', () => {
    const page = n('root', 'page', {}, [n('r', 'row')]);
    const clip = [n('h', 'heading', { content: 'x' }), n('col', 'column')];
    const { patch } = pastePatch(library, page, clip, 'r', counter());
    // The heading goes after the row, the column into it.
    expect(shape(applyPatch(page, patch).tree)).toBe('root(r(x2),x1)');
  });
});
