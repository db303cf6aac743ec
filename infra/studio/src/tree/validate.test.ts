import { describe, expect, it } from 'vitest';
import { resolvePath, validate } from './validate';
import { library, n, sample, tables } from './fixtures';
import { MAX_DEPTH } from './types';

describe('validate', () => {
  it('accepts a valid tree', () => {
    expect(validate(sample(), library, tables)).toEqual([]);
  });

  it('names each problem at the path the server would', () => {
    const root = n('root', 'page', {}, [
      n('f', 'form', { table: 't9' }, [n('i', 'input', { field: 'f1' })]),
      n('r', 'row', {}, [n('x', 'text', { content: 'no' })]),
      n('r', 'divider'),
      n('h', 'heading', { level: 9, colour: 'red' }),
      n('l', 'link', { label: '', href: 'ftp://x' }),
      n('bad id!', 'nothing'),
    ]);
    const problems = validate(root, library, tables).map((p) => [p.path, p.nodeId, p.prop ?? null]);
    expect(problems).toEqual([
      ['tree.children[0].props.table', 'f', 'table'],
      ['tree.children[0].children[0].props.field', 'i', 'field'],
      ['tree.children[1].children[0].component', 'x', null],
      ['tree.children[2].id', 'r', null],
      ['tree.children[3].props.level', 'h', 'level'],
      ['tree.children[3].props.colour', 'h', 'colour'],
      ['tree.children[3].props.content', 'h', 'content'],
      ['tree.children[4].props.label', 'l', 'label'],
      ['tree.children[4].props.href', 'l', 'href'],
      ['tree.children[5].id', 'bad id!', null],
      ['tree.children[5].component', 'bad id!', null],
    ]);
  });

  it('resolves field bindings against the table bound around them', () => {
    const ok = n('root', 'page', {}, [n('f', 'form', { table: 't1' }, [n('i', 'input', { field: 'f2' })])]);
    expect(validate(ok, library, tables)).toEqual([]);
    const unbound = n('root', 'page', {}, [n('c', 'container', {}, [n('i', 'input', { field: 'f1' })])]);
    expect(validate(unbound, library, tables)[0].message).toMatch(/no table is bound/);
  });

  it('refuses a root that is not a page and a tree too deep', () => {
    expect(validate(n('root', 'container'), library, tables)[0].path).toBe('tree.component');
    let deep = n(`d${MAX_DEPTH}`, 'container');
    for (let i = MAX_DEPTH - 1; i >= 1; i--) deep = n(`d${i}`, 'container', {}, [deep]);
    const root = n('root', 'page', {}, [deep]);
    expect(validate(root, library, tables).map((p) => p.message)).toEqual([`a page is at most ${MAX_DEPTH} levels deep`]);
  });

  it('maps a server path back to its node and prop', () => {
    const root = sample();
    expect(resolvePath(root, 'tree.children[1].children[1].props.content')).toEqual({ nodeId: 't2', prop: 'content' });
    expect(resolvePath(root, 'tree.children[2].id')).toEqual({ nodeId: 'b' });
    expect(resolvePath(root, 'tree')).toEqual({ nodeId: 'root' });
    expect(resolvePath(root, 'tree.children[9]')).toBeUndefined();
    expect(resolvePath(root, 'name')).toBeUndefined();
  });
});
