import { describe, expect, it } from 'vitest';
import { initialState, isDirty, reducer, type EditorState } from './state';
import { applyPatch } from '../tree/patch';
import { findNode } from '../tree/ops';
import { n, sample, shape } from '../tree/fixtures';

const props = (id: string, set: Record<string, string>) => [{ t: 'props' as const, id, set, unset: [] }];

describe('the editor state', () => {
  it('is dirty after an edit until that tree is saved, even if edited meanwhile', () => {
    let state = initialState(sample(), 1);
    expect(isDirty(state)).toBe(false);
    state = reducer(state, { type: 'edit', label: 'edit', patch: props('h', { content: 'A' }) });
    expect(isDirty(state)).toBe(true);
    const sent = state.tree;
    state = reducer(state, { type: 'saving' });
    state = reducer(state, { type: 'edit', label: 'edit', patch: props('b', { label: 'B' }) });
    state = reducer(state, { type: 'saved', tree: sent, version: 2 });
    expect(state.version).toBe(2);
    expect(isDirty(state)).toBe(true);
    state = reducer(state, { type: 'saved', tree: state.tree, version: 3 });
    expect(isDirty(state)).toBe(false);
  });

  it('replays local edits onto a newer save after a 412, and undo still works', () => {
    let state = initialState(sample(), 1);
    state = reducer(state, { type: 'edit', label: 'edit', patch: props('h', { content: 'Mine' }) });
    const remote = applyPatch(sample(), [{ t: 'insert', parent: 'root', index: 3, node: n('r', 'divider') }]).tree;
    state = reducer(state, { type: 'rebase', remote, version: 2 });
    expect(shape(state.tree)).toBe('root(h,c(t,t2),b,r)');
    expect(findNode(state.tree, 'h')!.props.content).toBe('Mine');
    expect(state.version).toBe(2);
    expect(state.conflicts).toEqual([]);
    expect(isDirty(state)).toBe(true);
    state = reducer(state, { type: 'undo' });
    expect(findNode(state.tree, 'h')!.props.content).toBe('Hello');
    expect(shape(state.tree)).toBe('root(h,c(t,t2),b,r)');
  });

  it('lists conflicts and applies the other side as an undoable step', () => {
    let state: EditorState = initialState(sample(), 1);
    state = reducer(state, { type: 'edit', label: 'edit', patch: props('h', { content: 'Mine' }) });
    const remote = applyPatch(sample(), props('h', { content: 'Theirs' })).tree;
    state = reducer(state, { type: 'rebase', remote, version: 2 });
    expect(state.conflicts.map((c) => c.nodeId)).toEqual(['h']);
    state = reducer(state, { type: 'resolve', nodeId: 'h', useAlternative: true });
    expect(state.conflicts).toEqual([]);
    expect(findNode(state.tree, 'h')!.props.content).toBe('Theirs');
    state = reducer(state, { type: 'undo' });
    expect(findNode(state.tree, 'h')!.props.content).toBe('Mine');
  });

  it('makes a restore one undoable step that leaves the restored tree as the base', () => {
    let state = initialState(sample(), 3);
    const old = n('root', 'page', {}, [n('x', 'divider')]);
    state = reducer(state, { type: 'restored', tree: old, version: 4, from: 1 });
    expect(isDirty(state)).toBe(false);
    expect(state.version).toBe(4);
    state = reducer(state, { type: 'undo' });
    expect(shape(state.tree)).toBe('root(h,c(t,t2),b)');
    expect(isDirty(state)).toBe(true);
  });

  it('drops deleted nodes from the selection', () => {
    let state = initialState(sample(), 1);
    state = reducer(state, { type: 'select', ids: ['t', 'b'] });
    state = reducer(state, { type: 'edit', label: 'delete', patch: [{ t: 'remove', id: 'c' }] });
    expect(state.selection).toEqual(['b']);
  });
});
