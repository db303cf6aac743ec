// The API client: one fetch wrapper that sends the session's bearer token,
// refreshes it once on a 401, and turns every problem+json answer into an
// ApiError carrying its status, code, field errors and (for a 412) the
// current version. Each route the studio uses has one function below.

import type { Component, Json, Node } from '../tree/types';
import type {
  FieldSpec,
  Organization,
  PageList,
  PageSummary,
  PageView,
  Project,
  RecordPage,
  RecordView,
  SaveSummary,
  SaveView,
  SchemaChange,
  Session,
  Table,
  User,
} from './types';

export interface FieldError {
  field: string;
  message: string;
  position?: { start: number; end: number };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[];
  readonly currentVersion?: number;

  constructor(status: number, body: Record<string, unknown> | undefined) {
    const detail = typeof body?.detail === 'string' ? body.detail : undefined;
    const title = typeof body?.title === 'string' ? body.title : undefined;
    super(detail ?? title ?? `The server answered ${status}`);
    this.status = status;
    this.code = typeof body?.code === 'string' ? body.code : `http_${status}`;
    this.errors = Array.isArray(body?.errors) ? (body.errors as FieldError[]) : [];
    const current = body?.current_version;
    this.currentVersion = typeof current === 'number' ? current : undefined;
  }

  /** The message of the error on `field`, if any. */
  at(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

// ---------------------------------------------------------------- session

const SESSION_KEY = 'nocode.studio.session';
type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();

export function getSession(): Session | null {
  try {
    const text = localStorage.getItem(SESSION_KEY);
    return text ? (JSON.parse(text) as Session) : null;
  } catch {
    return null;
  }
}

export function setSession(session: Session | null) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
  listeners.forEach((l) => l(session));
}

export function onSession(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// ---------------------------------------------------------------- requests

type Query = Record<string, string | number | boolean | undefined | null>;

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

async function send(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

let refreshing: Promise<boolean> | null = null;

async function refreshSession(): Promise<boolean> {
  const session = getSession();
  if (!session?.refresh) return false;
  refreshing ??= (async () => {
    try {
      const res = await send('POST', '/api/v1/foundation/auth/refresh', { refresh: session.refresh });
      if (!res.ok) return false;
      const body = (await res.json()) as { access: string; id_token: string };
      setSession({ ...session, access: body.access, id_token: body.id_token });
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function request<T>(method: string, path: string, options: { body?: unknown; query?: Query; auth?: boolean } = {}): Promise<T> {
  const auth = options.auth ?? true;
  const target = url(path, options.query);
  let res = await send(method, target, options.body, auth ? getSession()?.access : undefined);
  if (res.status === 401 && auth && (await refreshSession())) {
    res = await send(method, target, options.body, getSession()?.access);
  }
  if (res.status === 401 && auth) setSession(null);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, body as Record<string, unknown> | undefined);
  return body as T;
}

const get = <T>(path: string, query?: Query) => request<T>('GET', path, { query });
const post = <T>(path: string, body?: unknown) => request<T>('POST', path, { body });
const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, { body });

// ---------------------------------------------------------------- routes

const FOUNDATION = '/api/v1/foundation';
const STUDIO = '/api/v1/studio';
const RUNTIME = '/api/v1/runtime';
const enc = encodeURIComponent;

export const api = {
  async register(input: { email: string; password: string; first_name: string; last_name: string }) {
    return request<{ user: User; confirmed: boolean }>('POST', `${FOUNDATION}/auth/register/client`, {
      body: input,
      auth: false,
    });
  },

  async login(email: string, password: string): Promise<Session> {
    const body = await request<{ access: string; refresh: string | null; id_token: string; user: User }>(
      'POST',
      `${FOUNDATION}/auth/login`,
      { body: { email, password }, auth: false },
    );
    const session: Session = { access: body.access, refresh: body.refresh, id_token: body.id_token, user: body.user };
    setSession(session);
    return session;
  },

  async logout() {
    try {
      await post(`${FOUNDATION}/auth/logout`);
    } finally {
      setSession(null);
    }
  },

  organizations: () => get<{ items: Organization[]; next: string | null }>(`${FOUNDATION}/organizations`),
  createOrganization: (name: string) => post<Organization>(`${FOUNDATION}/organizations`, { name }),
  organization: (id: string) => get<Organization>(`${FOUNDATION}/organizations/${enc(id)}`),

  projects: (organization: string) =>
    get<{ items: Project[]; next: string | null }>(`${STUDIO}/projects`, { organization, limit: 100 }),
  createProject: (organization_id: string, name: string) =>
    post<Project>(`${STUDIO}/projects`, { organization_id, name }),
  project: (id: string) => get<Project>(`${STUDIO}/projects/${enc(id)}`),

  library: (project: string) => get<{ items: Component[] }>(`${STUDIO}/projects/${enc(project)}/library`),

  tables: (project: string) =>
    get<{ items: Table[]; next: string | null }>(`${STUDIO}/projects/${enc(project)}/tables`, { limit: 100 }),
  table: (project: string, table: string) => get<Table>(`${STUDIO}/projects/${enc(project)}/tables/${enc(table)}`),
  createTable: (project: string, name: string, fields: FieldSpec[]) =>
    post<Table>(`${STUDIO}/projects/${enc(project)}/add_table`, { name, fields }),
  changeTable: (project: string, table: string, version: number, changes: SchemaChange[]) =>
    patch<Table>(`${STUDIO}/projects/${enc(project)}/tables/${enc(table)}`, { changes, version }),

  pages: (project: string) => get<PageList>(`${STUDIO}/projects/${enc(project)}/pages`, { limit: 100 }),
  page: (project: string, page: string) => get<PageView>(`${STUDIO}/projects/${enc(project)}/pages/${enc(page)}`),
  createPage: (project: string, name: string, path: string) =>
    post<PageView>(`${STUDIO}/projects/${enc(project)}/add_page`, { name, path }),
  savePage: (project: string, page: string, tree: Node, version: number) =>
    patch<PageView>(`${STUDIO}/projects/${enc(project)}/pages/${enc(page)}`, { tree, version }),
  history: (project: string, page: string) =>
    get<{ items: SaveSummary[]; next: string | null }>(`${STUDIO}/projects/${enc(project)}/pages/${enc(page)}/history`, {
      limit: 50,
    }),
  save: (project: string, page: string, version: number) =>
    get<SaveView>(`${STUDIO}/projects/${enc(project)}/pages/${enc(page)}/history/${version}`),
  restore: (project: string, page: string, version: number, current: number) =>
    post<PageView>(`${STUDIO}/projects/${enc(project)}/pages/${enc(page)}/history/${version}/restore`, {
      version: current,
    }),

  records: (
    project: string,
    table: string,
    query: { filter?: string; sort?: string; limit?: number; next?: string; count?: boolean },
  ) =>
    get<RecordPage>(`${RUNTIME}/projects/${enc(project)}/tables/${enc(table)}/records`, {
      filter: query.filter,
      sort: query.sort,
      limit: query.limit,
      next: query.next,
      count: query.count ? 'true' : undefined,
    }),
  createRecord: (project: string, table: string, values: Record<string, Json>) =>
    post<RecordView>(`${RUNTIME}/projects/${enc(project)}/tables/${enc(table)}/records`, values),
  updateRecord: (project: string, table: string, id: string, version: number, values: Record<string, Json>) =>
    patch<RecordView>(`${RUNTIME}/projects/${enc(project)}/tables/${enc(table)}/records/${enc(id)}`, {
      ...values,
      version,
    }),
  deleteRecord: (project: string, table: string, id: string, version: number) =>
    request<void>('DELETE', `${RUNTIME}/projects/${enc(project)}/tables/${enc(table)}/records/${enc(id)}`, {
      query: { version },
    }),
};

export type { PageSummary };
