import { describe, expect, it } from 'vitest';
import { replay } from './replay';
import { applyPatch, type Patch } from './patch';
import { findNode } from './ops';
import { n, sample, shape } from './fixtures';

const apply = (patch: Patch) => applyPatch(sample(), patch).tree;
const content = (tree: ReturnType<typeof sample>, id: string) => findNode(tree, id)?.props.content;

describe('replay of a local change onto a newer save', () => {
  it('keeps both sides when they touched different nodes, without a conflict', () => {
    const base = sample();
    const local = apply([
      { t: 'props', id: 'h', set: { content: 'Mine' }, unset: [] },
      { t: 'insert', parent: 'c', index: 2, node: n('l1', 'divider') },
    ]);
    const remote = apply([
      { t: 'props', id: 't', set: { content: 'Theirs' }, unset: [] },
      { t: 'insert', parent: 'c', index: 0, node: n('r1', 'divider') },
      { t: 'remove', id: 'b' },
    ]);
    const { tree, conflicts } = replay(base, local, remote);
    expect(conflicts).toEqual([]);
    expect(shape(tree)).toBe('root(h,c(r1,t,t2,l1))');
    expect(content(tree, 'h')).toBe('Mine');
    expect(content(tree, 't')).toBe('Theirs');
  });

  it('merges different props of one node silently', () => {
    const base = sample();
    const local = apply([{ t: 'props', id: 'h', set: { content: 'Mine' }, unset: [] }]);
    const remote = apply([{ t: 'props', id: 'h', set: { level: 3 }, unset: [] }]);
    const { tree, conflicts } = replay(base, local, remote);
    expect(conflicts).toEqual([]);
    expect(findNode(tree, 'h')!.props).toEqual({ content: 'Mine', level: 3 });
  });

  it('reports a conflict when both changed one prop, keeps mine and offers theirs', () => {
    const base = sample();
    const local = apply([{ t: 'props', id: 'h', set: { content: 'Mine' }, unset: [] }]);
    const remote = apply([{ t: 'props', id: 'h', set: { content: 'Theirs', level: 2 }, unset: [] }]);
    const { tree, conflicts } = replay(base, local, remote);
    expect(conflicts.map((c) => [c.nodeId, c.kept])).toEqual([['h', 'yours']]);
    expect(findNode(tree, 'h')!.props).toEqual({ content: 'Mine', level: 2 });
    const theirs = applyPatch(tree, conflicts[0].alternative).tree;
    expect(findNode(theirs, 'h')!.props).toEqual({ content: 'Theirs', level: 2 });
  });

  it('sees no conflict when both sides made the same change', () => {
    const local = apply([{ t: 'props', id: 'h', set: { content: 'Same' }, unset: [] }]);
    const remote = apply([{ t: 'props', id: 'h', set: { content: 'Same' }, unset: [] }]);
    expect(replay(sample(), local, remote).conflicts).toEqual([]);
  });

  it('keeps a node I changed that they deleted, and offers their deletion', () => {
    const local = apply([{ t: 'props', id: 't', set: { content: 'Mine' }, unset: [] }]);
    const remote = apply([{ t: 'remove', id: 'c' }]);
    const { tree, conflicts } = replay(sample(), local, remote);
    // The container comes back with the child I changed (and its sibling).
    expect(shape(tree)).toBe('root(h,c(t,t2),b)');
    expect(content(tree, 't')).toBe('Mine');
    expect(conflicts.map((c) => c.nodeId)).toEqual(['c']);
    expect(shape(applyPatch(tree, conflicts[0].alternative).tree)).toBe('root(h,b)');
  });

  it('keeps a node they changed that I deleted, and offers my deletion', () => {
    const local = apply([{ t: 'remove', id: 'b' }, { t: 'remove', id: 'h' }]);
    const remote = apply([{ t: 'props', id: 'b', set: { label: 'Theirs' }, unset: [] }]);
    const { tree, conflicts } = replay(sample(), local, remote);
    expect(shape(tree)).toBe('root(c(t,t2),b)');
    expect(findNode(tree, 'b')!.props.label).toBe('Theirs');
    expect(conflicts.map((c) => [c.nodeId, c.kept])).toEqual([['b', 'theirs']]);
    expect(shape(applyPatch(tree, conflicts[0].alternative).tree)).toBe('root(c(t,t2))');
  });

  it('keeps what they added inside a container I deleted', () => {
    const local = apply([{ t: 'remove', id: 'c' }]);
    const remote = apply([{ t: 'insert', parent: 'c', index: 0, node: n('r1', 'divider') }]);
    const { tree, conflicts } = replay(sample(), local, remote);
    expect(shape(tree)).toBe('root(h,c(r1,t,t2),b)');
    expect(conflicts.map((c) => c.nodeId)).toEqual(['c']);
  });

  it('replays moves and reorders onto their changes', () => {
    const local = apply([
      { t: 'move', id: 'b', parent: 'root', index: 0 },
      { t: 'move', id: 'h', parent: 'c', index: 2 },
    ]);
    const remote = apply([{ t: 'insert', parent: 'root', index: 3, node: n('r1', 'divider') }]);
    const { tree, conflicts } = replay(sample(), local, remote);
    expect(conflicts).toEqual([]);
    expect(shape(tree)).toBe('root(b,c(t,t2,h),r1)');
  });

  it('keeps my place when both moved one node, and offers theirs', () => {
    const local = apply([{ t: 'move', id: 'h', parent: 'c', index: 0 }]);
    const remote = apply([{ t: 'move', id: 'h', parent: 'root', index: 2 }]);
    const { tree, conflicts } = replay(sample(), local, remote);
    expect(shape(tree)).toBe('root(c(h,t,t2),b)');
    expect(conflicts.map((c) => c.nodeId)).toEqual(['h']);
    expect(shape(applyPatch(tree, conflicts[0].alternative).tree)).toBe('root(c(t,t2),b,h)');
  });

  it('adds into a container they deleted by bringing the container back', () => {
    const local = apply([{ t: 'insert', parent: 'c', index: 1, node: n('l1', 'text', { content: 'New' }) }]);
    const remote = apply([{ t: 'remove', id: 'c' }]);
    const { tree, conflicts } = replay(sample(), local, remote);
    expect(shape(tree)).toBe('root(h,c(t,l1,t2),b)');
    expect(conflicts.map((c) => c.nodeId)).toEqual(['c']);
  });

  it('changes nothing when there is no local change', () => {
    const remote = apply([{ t: 'remove', id: 'h' }]);
    const { tree, conflicts } = replay(sample(), sample(), remote);
    expect(tree).toBe(remote);
    expect(conflicts).toEqual([]);
  });
});
