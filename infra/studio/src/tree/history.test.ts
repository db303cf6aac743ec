import { describe, expect, it } from 'vitest';
import { COALESCE_MS, emptyHistory, record, redo, seal, undo } from './history';
import { applyPatch, compact, type Patch } from './patch';
import { findNode, sameTree } from './ops';
import { counter, library, n, sample, shape } from './fixtures';
import { deletePatch, duplicatePatch, movePatch } from './edits';

const typeInto = (text: string, start: number) =>
  [...text].map((_, i) => ({
    patch: [{ t: 'props', id: 'h', set: { content: text.slice(0, i + 1) }, unset: [] }] as Patch,
    at: start + i * 100,
  }));

describe('patches', () => {
  it('answer their exact inverse', () => {
    const root = sample();
    const patches: Patch[] = [
      [{ t: 'insert', parent: 'c', index: 1, node: n('x', 'divider') }],
      [{ t: 'remove', id: 'c' }],
      [{ t: 'move', id: 'b', parent: 'c', index: 0 }],
      [{ t: 'move', id: 'h', parent: 'root', index: 2 }],
      [{ t: 'props', id: 'h', set: { level: 2, content: 'Hi' }, unset: [] }],
      [{ t: 'props', id: 'h', set: {}, unset: ['content'] }],
      [{ t: 'replace', tree: n('root', 'page') }],
    ];
    for (const patch of patches) {
      const done = applyPatch(root, patch);
      expect(sameTree(done.tree, root)).toBe(false);
      const back = applyPatch(done.tree, done.inverse);
      expect(back.tree).toEqual(root);
      // And the inverse of the inverse redoes the patch.
      expect(applyPatch(back.tree, back.inverse).tree).toEqual(done.tree);
    }
  });

  it('skip ops whose node is gone, so an old step still undoes what it can', () => {
    const root = sample();
    const done = applyPatch(root, [
      { t: 'remove', id: 'nope' },
      { t: 'props', id: 'b', set: { label: 'Stop' }, unset: [] },
    ]);
    expect(done.skipped).toBe(1);
    expect(findNode(done.tree, 'b')!.props.label).toBe('Stop');
  });

  it('fold consecutive prop changes of one node, later values winning', () => {
    expect(
      compact([
        { t: 'props', id: 'a', set: { x: 1 }, unset: ['y'] },
        { t: 'props', id: 'a', set: { y: 2 }, unset: ['x'] },
        { t: 'props', id: 'b', set: { z: 1 }, unset: [] },
      ]),
    ).toEqual([
      { t: 'props', id: 'a', set: { y: 2 }, unset: ['x'] },
      { t: 'props', id: 'b', set: { z: 1 }, unset: [] },
    ]);
  });
});

describe('undo and redo', () => {
  it('undo every kind of edit, one step at a time, and redo them', () => {
    const trees = [sample()];
    let history = emptyHistory();
    const steps: [string, Patch][] = [
      ['Move', movePatch(library, trees[0], ['b'], 'root', 0)],
      ['Delete', deletePatch(trees[0], ['t'])],
      ['Duplicate', duplicatePatch(trees[0], ['h'], counter()).patch],
      ['Edit', [{ t: 'props', id: 'b', set: { variant: 'link' }, unset: [] }]],
    ];
    let now = 0;
    for (const [label, patch] of steps) {
      const done = record(history, trees[trees.length - 1], label, patch, { now: (now += 5000) });
      history = done.history;
      trees.push(done.tree);
    }
    expect(history.past.map((e) => e.label)).toEqual(['Move', 'Delete', 'Duplicate', 'Edit']);
    let tree = trees[trees.length - 1];
    for (let i = trees.length - 2; i >= 0; i--) {
      const back = undo(history, tree)!;
      tree = back.tree;
      history = back.history;
      expect(tree).toEqual(trees[i]);
    }
    expect(undo(history, tree)).toBeUndefined();
    for (let i = 1; i < trees.length; i++) {
      const again = redo(history, tree)!;
      tree = again.tree;
      history = again.history;
      expect(tree).toEqual(trees[i]);
    }
    expect(redo(history, tree)).toBeUndefined();
  });

  it('coalesce typing into one prop into a single step', () => {
    let tree = sample();
    let history = emptyHistory();
    for (const { patch, at } of typeInto('Welcome', 1000)) {
      ({ tree, history } = record(history, tree, 'Edit content', patch, { key: 'h:content', now: at }));
    }
    expect(history.past).toHaveLength(1);
    expect(findNode(tree, 'h')!.props.content).toBe('Welcome');
    expect(history.past[0].forward).toHaveLength(1);
    const back = undo(history, tree)!;
    expect(findNode(back.tree, 'h')!.props.content).toBe('Hello');
    const again = redo(back.history, back.tree)!;
    expect(findNode(again.tree, 'h')!.props.content).toBe('Welcome');
  });

  it('start a new step after a pause, another prop, a seal or an undo', () => {
    let tree = sample();
    let history = emptyHistory();
    const edit = (key: string, value: string, now: number) =>
      ({ tree, history } = record(
        history,
        tree,
        'Edit',
        [{ t: 'props', id: 'h', set: { [key]: value }, unset: [] }],
        { key: `h:${key}`, now },
      ));
    edit('content', 'A', 0);
    edit('content', 'AB', 100);
    edit('content', 'ABC', 100 + COALESCE_MS + 1);
    expect(history.past).toHaveLength(2);
    edit('title', 'T', 1500);
    expect(history.past).toHaveLength(3);
    history = seal(history);
    edit('title', 'TT', 1600);
    expect(history.past).toHaveLength(4);
    ({ tree, history } = undo(history, tree)!);
    edit('title', 'TX', 1700);
    expect(history.past).toHaveLength(4);
    expect(history.future).toHaveLength(0);
  });

  it('record nothing for an edit that changes nothing', () => {
    const tree = sample();
    const done = record(emptyHistory(), tree, 'Edit', [{ t: 'props', id: 'h', set: { content: 'Hello' }, unset: [] }]);
    expect(done.history.past).toHaveLength(0);
    expect(done.tree).toBe(tree);
  });

  it('undo by id after the tree changed around the step (a rebase)', () => {
    let tree = sample();
    let history = emptyHistory();
    ({ tree, history } = record(history, tree, 'Move', [{ t: 'move', id: 'b', parent: 'c', index: 0 }]));
    // Someone else's save arrives: a new node before the container.
    tree = applyPatch(tree, [{ t: 'insert', parent: 'root', index: 0, node: n('z', 'divider') }]).tree;
    const back = undo(history, tree)!;
    expect(shape(back.tree)).toBe('root(z,h,b,c(t,t2))');
  });
});
