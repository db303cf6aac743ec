// New nodes from the palette, with every required prop filled so the page
// stays savable: text takes the component's title, a link a path, a table
// binding the project's first table, a field binding the first field of
// the table bound around the new node.

import type { Component, Json, Node, PropDef, TableInfo } from './types';
import { freshId } from './ops';

function initialValue(
  component: Component,
  def: PropDef,
  tables: TableInfo[],
  table: string | undefined,
): Json | undefined {
  switch (def.type) {
    case 'string': {
      let text = def.name === 'content' || def.name === 'label' ? component.title : def.name;
      const max = def.max ?? undefined;
      if (max !== undefined && [...text].length > max) text = [...text].slice(0, max).join('');
      return text;
    }
    case 'number':
    case 'integer':
      return def.min ?? 0;
    case 'boolean':
      return false;
    case 'choice':
      return def.choices?.[0];
    case 'url':
      return '/';
    case 'table':
      return tables[0]?.id;
    case 'field': {
      const bound = tables.find((t) => t.id === table);
      return bound?.fields[0]?.id;
    }
    case 'workflow':
      return undefined;
  }
}

/**
 * A new node of `component`. `tableAround` is the table bound where it
 * goes; a component that binds its own table binds the first one.
 */
export function newNode(
  component: Component,
  tables: TableInfo[],
  tableAround: string | undefined,
  makeId: () => string = () => freshId(),
): Node {
  const props: Record<string, Json> = {};
  const own = component.props.find((p) => p.type === 'table');
  let table = tableAround;
  if (own?.required && tables[0]) {
    props[own.name] = tables[0].id;
    table = tables[0].id;
  }
  for (const def of component.props) {
    if (!def.required || def.name in props) continue;
    const value = initialValue(component, def, tables, table);
    if (value !== undefined) props[def.name] = value;
  }
  return { id: makeId(), component: component.kind, props, children: [] };
}
