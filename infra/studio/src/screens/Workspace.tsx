// Picking where to work: organizations, their projects, and a project's
// pages and tables.

import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import { Link, navigate } from '../router';
import { ErrorNote, Frame, Loading, Main, TextField, useLoad } from '../ui';

const at = (error: unknown, field: string) => (error instanceof ApiError ? error.at(field) : undefined);

function CreateForm({
  label,
  fields,
  onCreate,
  submit,
}: {
  label: string;
  fields: { name: string; label: string; hint?: string; initial?: string }[];
  onCreate: (values: Record<string, string>) => Promise<void>;
  submit: string;
}) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ''])),
  );
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const send = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onCreate(values);
      setValues(Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ''])));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline-form" onSubmit={send} aria-label={label}>
      {fields.map((f) => (
        <TextField
          key={f.name}
          label={f.label}
          hint={f.hint}
          value={values[f.name]}
          onChange={(v) => setValues((old) => ({ ...old, [f.name]: v }))}
          required
          error={at(error, f.name)}
        />
      ))}
      <button type="submit" className="primary" disabled={busy}>
        {submit}
      </button>
      {error && !(error instanceof ApiError && error.errors.length && error.errors.every((e) => fields.some((f) => f.name === e.field))) ? (
        <ErrorNote error={error} />
      ) : null}
    </form>
  );
}

export function Organizations() {
  const orgs = useLoad(() => api.organizations(), []);
  return (
    <Frame title="Organizations" crumbs={[{ label: 'Organizations' }]}>
      <Main title="Organizations">
        {orgs.loading && !orgs.data && <Loading what="organizations" />}
        <ErrorNote error={orgs.error} />
        {orgs.data && orgs.data.items.length === 0 && <p>No organization yet: create the first one.</p>}
        {orgs.data && orgs.data.items.length > 0 && (
          <ul className="tiles" aria-label="Your organizations">
            {orgs.data.items.map((o) => (
              <li key={o.id}>
                <Link to={`/orgs/${o.id}`} className="tile">
                  <span className="tile-title">{o.name}</span>
                  {o.role && <span className="tile-meta">{o.role}</span>}
                </Link>
              </li>
            ))}
          </ul>
        )}
        <h2>New organization</h2>
        <CreateForm
          label="New organization"
          submit="Create organization"
          fields={[{ name: 'name', label: 'Organization name' }]}
          onCreate={async ({ name }) => {
            const org = await api.createOrganization(name.trim());
            navigate(`/orgs/${org.id}`);
          }}
        />
      </Main>
    </Frame>
  );
}

export function Projects({ org }: { org: string }) {
  const organization = useLoad(() => api.organization(org), [org]);
  const projects = useLoad(() => api.projects(org), [org]);
  const name = organization.data?.name ?? 'Organization';
  return (
    <Frame title={name} crumbs={[{ label: 'Organizations', to: '/orgs' }, { label: name }]}>
      <Main title={`${name}: projects`}>
        {projects.loading && !projects.data && <Loading what="projects" />}
        <ErrorNote error={projects.error} />
        {projects.data && projects.data.items.length === 0 && <p>No project yet: create the first one.</p>}
        {projects.data && projects.data.items.length > 0 && (
          <ul className="tiles" aria-label="Projects">
            {projects.data.items.map((p) => (
              <li key={p.id}>
                <Link to={`/projects/${p.id}`} className="tile">
                  <span className="tile-title">{p.name}</span>
                  <span className="tile-meta">
                    {p.pages} pages · {p.tables} tables
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        )}
        <h2>New project</h2>
        <CreateForm
          label="New project"
          submit="Create project"
          fields={[{ name: 'name', label: 'Project name' }]}
          onCreate={async ({ name }) => {
            const project = await api.createProject(org, name.trim());
            navigate(`/projects/${project.id}`);
          }}
        />
      </Main>
    </Frame>
  );
}

export function ProjectHome({ project }: { project: string }) {
  const info = useLoad(() => api.project(project), [project]);
  const pages = useLoad(() => api.pages(project), [project]);
  const tables = useLoad(() => api.tables(project), [project]);
  const name = info.data?.name ?? 'Project';
  const org = info.data?.organization_id;
  return (
    <Frame
      title={name}
      crumbs={[
        { label: 'Organizations', to: '/orgs' },
        ...(org ? [{ label: 'Projects', to: `/orgs/${org}` }] : []),
        { label: name },
      ]}
    >
      <Main title={name}>
        <ErrorNote error={info.error} />
        <div className="columns">
          <section aria-labelledby="pages-heading" className="column-card">
            <h2 id="pages-heading">Pages</h2>
            {pages.loading && !pages.data && <Loading what="pages" />}
            <ErrorNote error={pages.error} />
            {pages.data && pages.data.items.length === 0 && <p>No page yet.</p>}
            <ul className="list" aria-label="Pages">
              {pages.data?.items.map((p) => (
                <li key={p.id}>
                  <Link to={`/projects/${project}/pages/${p.id}`}>{p.name}</Link> <code>{p.path}</code>
                </li>
              ))}
            </ul>
            <h3>New page</h3>
            <CreateForm
              label="New page"
              submit="Create page"
              fields={[
                { name: 'name', label: 'Page name' },
                { name: 'path', label: 'Page path', hint: '/ or lower-case words: /orders/new', initial: '/' },
              ]}
              onCreate={async ({ name, path }) => {
                const page = await api.createPage(project, name.trim(), path.trim());
                navigate(`/projects/${project}/pages/${page.id}`);
              }}
            />
          </section>
          <section aria-labelledby="tables-heading" className="column-card">
            <h2 id="tables-heading">Tables</h2>
            {tables.loading && !tables.data && <Loading what="tables" />}
            <ErrorNote error={tables.error} />
            {tables.data && tables.data.items.length === 0 && <p>No table yet.</p>}
            <ul className="list" aria-label="Tables">
              {tables.data?.items.map((t) => (
                <li key={t.id}>
                  <Link to={`/projects/${project}/tables/${t.id}`}>{t.name}</Link>{' '}
                  <Link to={`/projects/${project}/tables/${t.id}/records`} aria-label={`Records of ${t.name}`}>
                    records
                  </Link>
                </li>
              ))}
            </ul>
            <h3>New table</h3>
            <CreateForm
              label="New table"
              submit="Create table"
              fields={[{ name: 'name', label: 'Table name' }]}
              onCreate={async ({ name }) => {
                const table = await api.createTable(project, name.trim(), [
                  { name: 'name', type: 'text', required: false },
                ]);
                navigate(`/projects/${project}/tables/${table.id}`);
              }}
            />
          </section>
        </div>
      </Main>
    </Frame>
  );
}
