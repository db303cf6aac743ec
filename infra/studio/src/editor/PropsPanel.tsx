// The props panel, generated from the selected node's component: each
// property of its JSON prop schema becomes a control of the matching
// kind (text, number, switch, choice), bindings become choices of the
// project's tables and of the fields of the table bound around the node.
// Typing is coalesced into one undo step per prop; leaving a control ends
// the step.

import { useId, useState } from 'react';
import type { Component, Json, Node, PropDef, PropSchema } from '../tree/types';
import { componentOf, findNode } from '../tree/ops';
import { tableAt } from '../tree/validate';
import { nodeLabel, useEditor } from './context';

/** The schema of each prop: the published JSON Schema, else built from the def. */
function schemaOf(component: Component): { name: string; schema: PropSchema; required: boolean; def?: PropDef }[] {
  const published = component.props_schema;
  if (published) {
    return Object.entries(published.properties).map(([name, schema]) => ({
      name,
      schema,
      required: (published.required ?? []).includes(name),
      def: component.props.find((p) => p.name === name),
    }));
  }
  return component.props.map((def) => ({
    name: def.name,
    required: !!def.required,
    def,
    schema: {
      type: def.type === 'number' ? 'number' : def.type === 'integer' ? 'integer' : def.type === 'boolean' ? 'boolean' : 'string',
      ...(def.choices ? { enum: def.choices } : {}),
    },
  }));
}

const humanize = (name: string) => name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, ' ');

/**
 * A number prop: the text as typed stays while it is not a number yet
 * (`-`, `1.`), the prop takes each value that is one.
 */
function NumberInput({
  common,
  integer,
  value,
  onChange,
}: {
  common: Record<string, unknown>;
  integer: boolean;
  value: number | undefined;
  onChange: (value: Json | undefined) => void;
}) {
  const [text, setText] = useState(value === undefined ? '' : String(value));
  const [shown, setShown] = useState(value);
  if (value !== shown) {
    // Changed elsewhere (undo, another editor): show the new value.
    setShown(value);
    setText(value === undefined ? '' : String(value));
  }
  return (
    <input
      {...common}
      type="text"
      inputMode={integer ? 'numeric' : 'decimal'}
      value={text}
      onChange={(e) => {
        const next = e.target.value;
        setText(next);
        if (next.trim() === '') {
          setShown(undefined);
          onChange(undefined);
          return;
        }
        const n = Number(next);
        if (Number.isFinite(n)) {
          setShown(n);
          onChange(n);
        }
      }}
    />
  );
}

function PropControl({
  node,
  name,
  schema,
  required,
  def,
}: {
  node: Node;
  name: string;
  schema: PropSchema;
  required: boolean;
  def?: PropDef;
}) {
  const { commands, dispatch, tables, library, state, problems, } = useEditor();
  const id = useId();
  const value = node.props[name];
  const problem =
    problems.find((p) => p.nodeId === node.id && p.prop === name)?.message ??
    state.serverProblems.find((p) => p.nodeId === node.id && p.prop === name)?.message;
  const set = (v: Json | undefined) => commands.setProp(node.id, name, v);
  const seal = () => dispatch({ type: 'seal' });
  const label = `${humanize(name)}${required ? ' (required)' : ''}`;
  const errorId = `${id}-error`;
  const common = {
    id,
    'aria-invalid': problem ? true : undefined,
    'aria-describedby': problem ? errorId : undefined,
    onBlur: seal,
    'data-prop': name,
  } as const;

  let control;
  const binding = def?.type;
  if (binding === 'table' || binding === 'field') {
    const options =
      binding === 'table'
        ? tables.map((t) => ({ value: t.id, label: t.name }))
        : (tables.find((t) => t.id === tableAt(state.tree, node.id, library, tables))?.fields ?? []).map((f) => ({
            value: f.id,
            label: f.name,
          }));
    control = (
      <select {...common} value={typeof value === 'string' ? value : ''} onChange={(e) => set(e.target.value || undefined)}>
        <option value="">{binding === 'table' ? '— choose a table —' : '— choose a field —'}</option>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    );
  } else if (schema.enum) {
    control = (
      <select {...common} value={typeof value === 'string' ? value : ''} onChange={(e) => set(e.target.value || undefined)}>
        {!required && <option value="">— default —</option>}
        {schema.enum.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  } else if (schema.type === 'boolean') {
    return (
      <div className="control control-check">
        <input {...common} type="checkbox" checked={value === true} onChange={(e) => set(e.target.checked)} />
        <label htmlFor={id}>{label}</label>
        {problem && (
          <p className="error" id={errorId}>
            {problem}
          </p>
        )}
      </div>
    );
  } else if (schema.type === 'integer' || schema.type === 'number') {
    control = (
      <NumberInput
        common={common}
        integer={schema.type === 'integer'}
        value={typeof value === 'number' ? value : undefined}
        onChange={set}
      />
    );
  } else if ((schema.maxLength ?? 0) > 200) {
    control = (
      <textarea
        {...common}
        rows={3}
        value={typeof value === 'string' ? value : ''}
        onChange={(e) => set(e.target.value === '' && !required ? undefined : e.target.value)}
      />
    );
  } else {
    control = (
      <input
        {...common}
        type="text"
        value={typeof value === 'string' ? value : ''}
        onChange={(e) => set(e.target.value === '' && !required ? undefined : e.target.value)}
      />
    );
  }
  return (
    <div className="control">
      <label htmlFor={id}>{label}</label>
      {control}
      {schema.pattern === '^(https?://|/)' && <p className="hint">A path like /orders, or an http(s) address.</p>}
      {(schema.type === 'integer' || schema.type === 'number') && (schema.minimum !== undefined || schema.maximum !== undefined) && (
        <p className="hint">
          {schema.minimum !== undefined && schema.maximum !== undefined
            ? `From ${schema.minimum} to ${schema.maximum}.`
            : schema.minimum !== undefined
              ? `At least ${schema.minimum}.`
              : `At most ${schema.maximum}.`}
        </p>
      )}
      {problem && (
        <p className="error" id={errorId}>
          {problem}
        </p>
      )}
    </div>
  );
}

export function PropsPanel() {
  const { state, library, problems } = useEditor();
  const ids = state.selection;
  let body;
  if (ids.length === 0) {
    body = <p>Select a component to edit its props.</p>;
  } else if (ids.length > 1) {
    body = <p>{ids.length} components selected. Move, duplicate, copy or delete them together.</p>;
  } else {
    const node = findNode(state.tree, ids[0]);
    const component = node && componentOf(library, node.component);
    if (!node || !component) {
      body = <p>This component is not in the library.</p>;
    } else {
      const other = problems.filter((p) => p.nodeId === node.id && !p.prop);
      body = (
        <form onSubmit={(e) => e.preventDefault()} aria-label={`Props of ${nodeLabel(library, node)}`}>
          <p className="hint">{component.description}</p>
          {schemaOf(component).map((p) => (
            <PropControl key={`${node.id}:${p.name}`} node={node} {...p} />
          ))}
          {schemaOf(component).length === 0 && <p>This component has no props.</p>}
          {other.map((p, i) => (
            <p key={i} className="error">
              {p.message}
            </p>
          ))}
        </form>
      );
    }
  }
  return (
    <section aria-labelledby="props-heading" className="panel">
      <h2 id="props-heading">Props</h2>
      {body}
    </section>
  );
}
