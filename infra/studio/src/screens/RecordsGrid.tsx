// The records grid: a table's records, filtered with the query language
// (docs/filter.md), sorted by a column, paged with the API's cursor, and
// edited in place. A refused value shows the API's message at its cell.

import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { Field, RecordView, Table } from '../api/types';
import type { Json } from '../tree/types';
import { Link } from '../router';
import { describe, ErrorNote, Frame, Loading, Main, useLoad } from '../ui';

/** A cell's text as typed, turned into the value its field holds. */
export function parseValue(field: Field, text: string): Json {
  const t = text.trim();
  if (t === '') return null;
  switch (field.type) {
    case 'integer':
    case 'decimal': {
      const n = Number(t);
      return Number.isFinite(n) ? n : t;
    }
    case 'boolean':
      return t === 'true' ? true : t === 'false' ? false : t;
    case 'multi_select':
      return t
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'json':
      try {
        return JSON.parse(t) as Json;
      } catch {
        return t;
      }
    case 'relation':
      return field.relation?.many
        ? t
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : t;
    default:
      return text;
  }
}

export function showValue(value: Json | undefined): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

interface Query {
  filter: string;
  sort: string;
  limit: number;
}

function Cell({
  record,
  field,
  row,
  onSave,
}: {
  record: RecordView;
  field: Field;
  row: number;
  onSave: (record: RecordView, field: Field, value: Json) => Promise<string | undefined>;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const value = record[field.name];
  const errorId = `err-${record.id}-${field.id}`;

  useEffect(() => {
    if (editing) input.current?.focus();
  }, [editing]);

  const commit = async () => {
    const next = parseValue(field, text);
    if (showValue(next) === showValue(value) && !error) {
      setEditing(false);
      return;
    }
    setBusy(true);
    const refusal = await onSave(record, field, next);
    setBusy(false);
    if (refusal) {
      setError(refusal);
      input.current?.focus();
    } else {
      setError(undefined);
      setEditing(false);
      requestAnimationFrame(() => button.current?.focus());
    }
  };
  const cancel = () => {
    setEditing(false);
    setError(undefined);
    requestAnimationFrame(() => button.current?.focus());
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void commit();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      cancel();
    }
  };

  if (field.type === 'boolean') {
    return (
      <td data-field={field.name} className={error ? 'cell-invalid' : undefined}>
        <input
          type="checkbox"
          checked={value === true}
          aria-label={`${field.name} of row ${row}`}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          disabled={busy}
          onChange={async (e) => {
            setBusy(true);
            const refusal = await onSave(record, field, e.target.checked);
            setBusy(false);
            setError(refusal);
          }}
        />
        {error && (
          <p className="error" id={errorId}>
            {error}
          </p>
        )}
      </td>
    );
  }

  return (
    <td data-field={field.name} className={error ? 'cell-invalid' : undefined}>
      {editing ? (
        <div className="cell-edit">
          <input
            ref={input}
            type="text"
            value={text}
            disabled={busy}
            aria-label={`${field.name} of row ${row}`}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : undefined}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={onKeyDown}
            onBlur={(e) => {
              if (!busy && !e.currentTarget.closest('td')?.contains(e.relatedTarget as Element | null) && !error) void commit();
            }}
          />
          {error && (
            <p className="error" id={errorId} role="alert">
              {error}
            </p>
          )}
        </div>
      ) : (
        <button
          ref={button}
          type="button"
          className="cell-value"
          aria-label={`${field.name} of row ${row}: ${showValue(value) || 'empty'}. Edit`}
          onClick={() => {
            setText(showValue(value));
            setEditing(true);
          }}
        >
          {showValue(value) || <span className="empty">—</span>}
        </button>
      )}
    </td>
  );
}

function NewRecord({ table, onCreate }: { table: Table; onCreate: (values: Record<string, Json>) => Promise<void> }) {
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [other, setOther] = useState<string>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const values: Record<string, Json> = {};
    for (const f of table.fields) {
      const text = texts[f.name] ?? '';
      if (text.trim() !== '') values[f.name] = parseValue(f, text);
    }
    setErrors({});
    setOther(undefined);
    try {
      await onCreate(values);
      setTexts({});
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) setErrors(Object.fromEntries(e.errors.map((x) => [x.field, x.message])));
      else setOther(describe(e));
    }
  };
  return (
    <form onSubmit={submit} className="card new-record" aria-labelledby="new-record-heading">
      <h2 id="new-record-heading">New record</h2>
      <div className="new-record-fields">
        {table.fields.map((f) => (
          <div className="control" key={f.id}>
            <label htmlFor={`new-${f.id}`}>
              {f.name}
              {f.required ? ' (required)' : ''}
            </label>
            <input
              id={`new-${f.id}`}
              type="text"
              value={texts[f.name] ?? ''}
              aria-invalid={errors[f.name] ? true : undefined}
              aria-describedby={errors[f.name] ? `new-${f.id}-error` : undefined}
              onChange={(e) => setTexts((t) => ({ ...t, [f.name]: e.target.value }))}
            />
            {errors[f.name] && (
              <p className="error" id={`new-${f.id}-error`}>
                {errors[f.name]}
              </p>
            )}
          </div>
        ))}
      </div>
      {other && (
        <p className="error" role="alert">
          {other}
        </p>
      )}
      <button type="submit" className="primary">
        Add record
      </button>
    </form>
  );
}

export function RecordsGrid({ project, table }: { project: string; table: string }) {
  const info = useLoad(() => api.project(project), [project]);
  const schema = useLoad(() => api.table(project, table), [project, table]);
  const [query, setQuery] = useState<Query>({ filter: '', sort: '', limit: 20 });
  const [filterText, setFilterText] = useState('');
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const page = cursors[cursors.length - 1];
  const records = useLoad(
    () => api.records(project, table, { filter: query.filter, sort: query.sort, limit: query.limit, next: page, count: true }),
    [project, table, query, page],
  );
  const [note, setNote] = useState('');
  const name = schema.data?.name ?? 'Table';

  const queryError = records.error instanceof ApiError && records.error.status === 400 ? records.error : undefined;
  const filterError = queryError?.errors.find((e) => e.field === 'filter');
  const sortError = queryError?.errors.find((e) => e.field === 'sort');

  const apply = (next: Partial<Query>) => {
    setQuery((q) => ({ ...q, ...next }));
    setCursors([undefined]);
  };

  const sortBy = (field: string) => {
    const current = query.sort;
    const next = current === field ? `-${field}` : current === `-${field}` ? '' : field;
    apply({ sort: next });
  };
  const sortState = (field: string): 'ascending' | 'descending' | 'none' =>
    query.sort === field ? 'ascending' : query.sort === `-${field}` ? 'descending' : 'none';

  const save = async (record: RecordView, field: Field, value: Json): Promise<string | undefined> => {
    try {
      const next = await api.updateRecord(project, table, record.id, record.version, { [field.name]: value });
      records.set({ ...records.data!, items: records.data!.items.map((r) => (r.id === next.id ? next : r)) });
      setNote(`Saved ${field.name}.`);
      return undefined;
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        return e.errors.find((x) => x.field === field.name)?.message ?? e.errors[0]?.message ?? e.message;
      }
      if (e instanceof ApiError && e.status === 412) {
        records.reload();
        return 'Someone else changed this record meanwhile; it was reloaded. Try again.';
      }
      return describe(e);
    }
  };

  const fields = schema.data?.fields ?? [];
  return (
    <Frame
      wide
      title={`${name}: records`}
      crumbs={[
        { label: 'Organizations', to: '/orgs' },
        ...(info.data ? [{ label: 'Projects', to: `/orgs/${info.data.organization_id}` }, { label: info.data.name, to: `/projects/${project}` }] : []),
        { label: `${name} records` },
      ]}
    >
      <Main title={`Records of ${name}`}>
        <p>
          <Link to={`/projects/${project}/tables/${table}`}>Design the fields of {name}</Link>
        </p>
        <ErrorNote error={schema.error} />
        <form
          className="grid-tools"
          aria-label="Query the records"
          onSubmit={(e) => {
            e.preventDefault();
            apply({ filter: filterText.trim() });
          }}
        >
          <div className="control control-grow">
            <label htmlFor="filter">Filter</label>
            <input
              id="filter"
              type="search"
              value={filterText}
              placeholder="status = 'open' && priority >= 2"
              aria-invalid={filterError ? true : undefined}
              aria-describedby={filterError ? 'filter-error' : 'filter-help'}
              onChange={(e) => setFilterText(e.target.value)}
            />
            <p className="hint" id="filter-help">
              Fields, = != &gt; &gt;= &lt; &lt;= ~ (contains), in (…), is null, joined with &amp;&amp; and ||.
            </p>
            {filterError && (
              <p className="error" id="filter-error" role="alert">
                {filterError.message}
                {filterError.position ? ` (at character ${filterError.position.start + 1})` : ''}
              </p>
            )}
          </div>
          <button type="submit" className="primary">
            Apply filter
          </button>
          <div className="control">
            <label htmlFor="page-size">Rows per page</label>
            <select id="page-size" value={query.limit} onChange={(e) => apply({ limit: Number(e.target.value) })}>
              {[5, 20, 50, 100].map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </div>
        </form>
        {sortError && <p className="error">{sortError.message}</p>}
        {records.error && !queryError ? <ErrorNote error={records.error} /> : null}
        <p role="status" className="note">
          {records.loading ? 'Loading records…' : records.data?.total !== undefined ? `${records.data.total} records match. ${note}` : note}
        </p>
        {!schema.data && !schema.error && <Loading what="the table" />}
        {schema.data && (
          <div className="grid-scroll">
            <table className="grid" aria-label={`Records of ${name}`} aria-describedby="grid-help">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  {fields.map((f) => (
                    <th key={f.id} scope="col" aria-sort={sortState(f.name)}>
                      <button type="button" className="sort" onClick={() => sortBy(f.name)} disabled={f.type === 'json' || f.type === 'file' || f.type === 'multi_select'}>
                        <span className="sr-only">Sort by </span>
                        {f.name}
                        <span aria-hidden="true">{sortState(f.name) === 'ascending' ? ' ▲' : sortState(f.name) === 'descending' ? ' ▼' : ''}</span>
                      </button>
                    </th>
                  ))}
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {records.data?.items.map((r, i) => (
                  <tr key={r.id} data-record={r.id}>
                    <th scope="row">{(cursors.length - 1) * query.limit + i + 1}</th>
                    {fields.map((f) => (
                      <Cell key={f.id} record={r} field={f} row={(cursors.length - 1) * query.limit + i + 1} onSave={save} />
                    ))}
                    <td>
                      <button
                        type="button"
                        className="small danger"
                        aria-label={`Delete row ${(cursors.length - 1) * query.limit + i + 1}`}
                        onClick={async () => {
                          try {
                            await api.deleteRecord(project, table, r.id, r.version);
                            records.reload();
                          } catch (e) {
                            setNote(describe(e));
                          }
                        }}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="hint" id="grid-help">
              Press a cell to edit it; Enter saves, Escape cancels. Column names sort.
            </p>
          </div>
        )}
        <nav className="pager" aria-label="Pages of records">
          <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Previous page
          </button>
          <span>Page {cursors.length}</span>
          <button type="button" disabled={!records.data?.next} onClick={() => setCursors((c) => [...c, records.data!.next!])}>
            Next page
          </button>
        </nav>
        {schema.data && (
          <NewRecord
            table={schema.data}
            onCreate={async (values) => {
              await api.createRecord(project, table, values);
              setNote('Record added.');
              records.reload();
            }}
          />
        )}
      </Main>
    </Frame>
  );
}
