// The table designer: a table's fields with their types and options. Each
// field saves on its own (a rename, or a change of type and options); a
// change the API refuses shows its 422 at the field's control.

import { useState, type FormEvent } from 'react';
import { api, ApiError, type FieldError } from '../api/client';
import { FIELD_TYPES, type Field, type FieldSpec, type FieldType, type Table } from '../api/types';
import type { Json } from '../tree/types';
import { Link } from '../router';
import { describe, ErrorNote, Frame, Loading, Main, useLoad } from '../ui';

const TEXTUAL: FieldType[] = ['text', 'long_text', 'email', 'url'];
const NUMERIC: FieldType[] = ['integer', 'decimal'];
const SELECT: FieldType[] = ['single_select', 'multi_select'];

interface Draft {
  name: string;
  type: FieldType;
  required: boolean;
  unique: boolean;
  indexed: boolean;
  min: string;
  max: string;
  pattern: string;
  choices: string;
  relation: string;
  many: boolean;
}

function draftOf(field?: Field): Draft {
  return {
    name: field?.name ?? '',
    type: field?.type ?? 'text',
    required: field?.required ?? false,
    unique: field?.unique ?? false,
    indexed: field?.indexed ?? false,
    min: field?.min === null || field?.min === undefined ? '' : String(field.min),
    max: field?.max === null || field?.max === undefined ? '' : String(field.max),
    pattern: field?.pattern ?? '',
    choices: (field?.choices ?? []).join(', '),
    relation: field?.relation?.table_id ?? '',
    many: field?.relation?.many ?? false,
  };
}

function specOf(d: Draft, field?: Field): FieldSpec {
  const num = (s: string) => (s.trim() === '' ? null : Number(s));
  const spec: FieldSpec = {
    name: d.name.trim(),
    type: d.type,
    required: d.required,
    unique: d.unique,
    indexed: d.indexed,
  };
  if (TEXTUAL.includes(d.type) || NUMERIC.includes(d.type)) {
    if (num(d.min) !== null) spec.min = num(d.min);
    if (num(d.max) !== null) spec.max = num(d.max);
  }
  if (TEXTUAL.includes(d.type) && d.pattern.trim()) spec.pattern = d.pattern;
  if (SELECT.includes(d.type)) {
    spec.choices = d.choices
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
  }
  if (d.type === 'relation') spec.relation = { table_id: d.relation, many: d.many };
  // Options this form does not show are kept as they are.
  if (field && d.type === 'file' && field.type === 'file') {
    if (field.max_size !== null && field.max_size !== undefined) spec.max_size = field.max_size;
    if (field.accept) spec.accept = field.accept;
  }
  if (field && field.default !== null && field.default !== undefined && field.type === d.type) spec.default = field.default as Json;
  return spec;
}

/** Field errors by control (`name`, `type`, `choices`…) from a refusal's paths. */
function byControl(errors: FieldError[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of errors) {
    const last = e.field.split('.').pop()!.replace(/\[\d+\]$/, '');
    const key = ['name', 'type', 'required', 'unique', 'indexed', 'min', 'max', 'pattern', 'choices', 'relation', 'default'].includes(last)
      ? last
      : 'row';
    out[key] = out[key] ? `${out[key]}; ${e.message}` : e.message;
  }
  return out;
}

function FieldControls({
  draft,
  set,
  errors,
  idPrefix,
  tables,
}: {
  draft: Draft;
  set: (d: Draft) => void;
  errors: Record<string, string>;
  idPrefix: string;
  tables: Table[];
}) {
  const control = (key: keyof Draft, label: string, input: React.ReactNode) => (
    <div className={`control control-${key}`}>
      <label htmlFor={`${idPrefix}-${key}`}>{label}</label>
      {input}
      {errors[key] && (
        <p className="error" id={`${idPrefix}-${key}-error`} data-error-for={key}>
          {errors[key]}
        </p>
      )}
    </div>
  );
  const attrs = (key: keyof Draft) => ({
    id: `${idPrefix}-${key}`,
    'aria-invalid': errors[key] ? true : undefined,
    'aria-describedby': errors[key] ? `${idPrefix}-${key}-error` : undefined,
  });
  const check = (key: 'required' | 'unique' | 'indexed' | 'many', label: string) => (
    <div className="control control-check">
      <input type="checkbox" {...attrs(key)} checked={draft[key]} onChange={(e) => set({ ...draft, [key]: e.target.checked })} />
      <label htmlFor={`${idPrefix}-${key}`}>{label}</label>
    </div>
  );
  return (
    <div className="field-controls">
      {control('name', 'Name', <input type="text" {...attrs('name')} value={draft.name} onChange={(e) => set({ ...draft, name: e.target.value })} />)}
      {control(
        'type',
        'Type',
        <select {...attrs('type')} value={draft.type} onChange={(e) => set({ ...draft, type: e.target.value as FieldType })}>
          {FIELD_TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>,
      )}
      {check('required', 'Required')}
      {check('unique', 'Unique')}
      {check('indexed', 'Indexed')}
      {(TEXTUAL.includes(draft.type) || NUMERIC.includes(draft.type)) && (
        <>
          {control('min', NUMERIC.includes(draft.type) ? 'Minimum' : 'Shortest', <input type="text" inputMode="decimal" {...attrs('min')} value={draft.min} onChange={(e) => set({ ...draft, min: e.target.value })} />)}
          {control('max', NUMERIC.includes(draft.type) ? 'Maximum' : 'Longest', <input type="text" inputMode="decimal" {...attrs('max')} value={draft.max} onChange={(e) => set({ ...draft, max: e.target.value })} />)}
        </>
      )}
      {TEXTUAL.includes(draft.type) &&
        control('pattern', 'Pattern', <input type="text" {...attrs('pattern')} value={draft.pattern} onChange={(e) => set({ ...draft, pattern: e.target.value })} />)}
      {SELECT.includes(draft.type) &&
        control('choices', 'Choices (comma-separated)', <input type="text" {...attrs('choices')} value={draft.choices} onChange={(e) => set({ ...draft, choices: e.target.value })} />)}
      {draft.type === 'relation' && (
        <>
          {control(
            'relation',
            'Related table',
            <select {...attrs('relation')} value={draft.relation} onChange={(e) => set({ ...draft, relation: e.target.value })}>
              <option value="">— choose —</option>
              {tables.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>,
          )}
          {check('many', 'Many records')}
        </>
      )}
    </div>
  );
}

function FieldRow({
  field,
  index,
  onChange,
  tables,
}: {
  field: Field;
  index: number;
  onChange: (changes: Parameters<typeof api.changeTable>[3]) => Promise<void>;
  tables: Table[];
}) {
  const [draft, setDraft] = useState(() => draftOf(field));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const original = draftOf(field);
  const changed = JSON.stringify(draft) !== JSON.stringify(original);
  const onlyName = changed && JSON.stringify({ ...draft, name: '' }) === JSON.stringify({ ...original, name: '' });

  const run = async (changes: Parameters<typeof api.changeTable>[3]) => {
    setBusy(true);
    setErrors({});
    try {
      await onChange(changes);
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) setErrors(byControl(e.errors));
      else setErrors({ row: describe(e) });
    } finally {
      setBusy(false);
    }
  };
  const save = (event: FormEvent) => {
    event.preventDefault();
    if (!changed) return;
    void run(
      onlyName
        ? [{ op: 'rename_field', field_id: field.id, name: draft.name.trim() }]
        : [{ op: 'change_field', field_id: field.id, field: specOf(draft, field) }],
    );
  };
  return (
    <li className="field-row" data-field={field.name}>
      <form onSubmit={save} aria-label={`Field ${field.name}`}>
        <fieldset>
          <legend>
            Field {index + 1}: <strong>{field.name}</strong> <span className="meta">{FIELD_TYPES.find((t) => t.value === field.type)?.label}</span>
          </legend>
          <FieldControls draft={draft} set={setDraft} errors={errors} idPrefix={`f-${field.id}`} tables={tables} />
          {errors.row && (
            <p className="error" role="alert">
              {errors.row}
            </p>
          )}
          <div className="buttons">
            <button type="submit" className="primary small" disabled={!changed || busy}>
              Save field
            </button>
            <button type="button" className="small" disabled={!changed || busy} onClick={() => { setDraft(original); setErrors({}); }}>
              Revert
            </button>
            <button
              type="button"
              className="small danger"
              disabled={busy}
              onClick={() => {
                if (confirm(`Remove the field ${field.name}? Its data is gone from reads.`)) void run([{ op: 'remove_field', field_id: field.id }]);
              }}
            >
              Remove field
            </button>
          </div>
        </fieldset>
      </form>
    </li>
  );
}

function AddField({ onAdd, tables }: { onAdd: (spec: FieldSpec) => Promise<void>; tables: Table[] }) {
  const [draft, setDraft] = useState(() => draftOf());
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      await onAdd(specOf(draft));
      setDraft(draftOf());
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) setErrors(byControl(e.errors));
      else setErrors({ row: describe(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="add-field-heading">
      <h2 id="add-field-heading">Add a field</h2>
      <FieldControls draft={draft} set={setDraft} errors={errors} idPrefix="new-field" tables={tables} />
      {errors.row && (
        <p className="error" role="alert">
          {errors.row}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy}>
        Add field
      </button>
    </form>
  );
}

export function TableDesigner({ project, table }: { project: string; table: string }) {
  const info = useLoad(() => api.project(project), [project]);
  const data = useLoad(() => api.table(project, table), [project, table]);
  const others = useLoad(() => api.tables(project), [project]);
  const [note, setNote] = useState('');
  const name = data.data?.name ?? 'Table';

  const change = async (changes: Parameters<typeof api.changeTable>[3]) => {
    const current = data.data!;
    setNote('');
    try {
      const next = await api.changeTable(project, table, current.version, changes);
      data.set(next);
      setNote('Saved.');
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        data.reload();
        setNote('Someone else changed this table meanwhile: it was reloaded. Make your change again.');
        return;
      }
      throw e;
    }
  };

  return (
    <Frame
      title={`${name}: fields`}
      crumbs={[
        { label: 'Organizations', to: '/orgs' },
        ...(info.data ? [{ label: 'Projects', to: `/orgs/${info.data.organization_id}` }, { label: info.data.name, to: `/projects/${project}` }] : []),
        { label: name },
      ]}
    >
      <Main title={`Table ${name}`}>
        <p>
          <Link to={`/projects/${project}/tables/${table}/records`}>Open the records of {name}</Link>
        </p>
        <ErrorNote error={data.error} />
        {!data.data && !data.error && <Loading what="the table" />}
        <p role="status" className="note">
          {note}
        </p>
        {data.data && (
          <>
            <h2>Fields</h2>
            {data.data.fields.length === 0 && <p>No field yet.</p>}
            <ol className="fields" aria-label="Fields">
              {data.data.fields.map((f, i) => (
                <FieldRow key={`${f.id}:${data.data!.version}`} field={f} index={i} onChange={change} tables={others.data?.items ?? []} />
              ))}
            </ol>
            <AddField tables={others.data?.items ?? []} onAdd={(spec) => change([{ op: 'add_field', field: spec }])} />
          </>
        )}
      </Main>
    </Frame>
  );
}
