// The page editor screen: palette and pages on the left, the canvas in the
// middle, outline, props and history on the right. It owns the editor's
// state, the commands every control and shortcut goes through, the
// keyboard shortcuts, and autosave with the 412 replay.

import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  useSensor,
  useSensors,
  type Announcements,
  type DragEndEvent,
  type DragStartEvent,
} from '@dnd-kit/core';
import { api, ApiError, getSession } from '../api/client';
import type { PageSummary, PageView, Table } from '../api/types';
import type { Component, Node, TableInfo } from '../tree/types';
import { canPlace, componentOf, findNode, idsOf, insertionPoint, preorder } from '../tree/ops';
import { copySelection, deletePatch, duplicatePatch, indentPatch, movePatch, outdentPatch, pastePatch, shiftPatch } from '../tree/edits';
import { newNode } from '../tree/make';
import { resolvePath, tableAt, validate } from '../tree/validate';
import { canUndo, canRedo } from '../tree/history';
import { Link } from '../router';
import { describe, ErrorNote, Frame, Loading, useLoad } from '../ui';
import { Canvas, DragContext, type DragState } from './Canvas';
import { EditorContext, nodeLabel, type Commands, type EditorContextValue } from './context';
import { collide, slotKeyboard, type DragData, type DropData } from './dnd';
import { ConflictsPanel, HistoryPanel } from './HistoryPanel';
import { Outline } from './Outline';
import { Palette } from './Palette';
import { PropsPanel } from './PropsPanel';
import { initialState, isDirty, range, reducer, type ServerProblem } from './state';

const CLIPBOARD = 'nocode.studio.clipboard';
const WIDTHS = [
  { name: 'Mobile', width: 375 },
  { name: 'Tablet', width: 768 },
  { name: 'Desktop', width: null },
] as const;

export function toTableInfo(t: Table): TableInfo {
  return { id: t.id, name: t.name, fields: t.fields.map((f) => ({ id: f.id, name: f.name, type: f.type })) };
}

function isEditable(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) return !['checkbox', 'radio', 'button', 'submit'].includes(target.type);
  return false;
}

export function PageEditorScreen({ project, page }: { project: string; page: string }) {
  const data = useLoad(async () => {
    const [info, view, library, tables, pages] = await Promise.all([
      api.project(project),
      api.page(project, page),
      api.library(project),
      api.tables(project),
      api.pages(project),
    ]);
    return { info, view, library: library.items, tables: tables.items.map(toTableInfo), pages: pages.items };
  }, [project, page]);
  if (!data.data) {
    return (
      <Frame title="Page editor" crumbs={[{ label: 'Organizations', to: '/orgs' }]}>
        <main id="main" className="main">
          <h1>Page editor</h1>
          {data.error ? <ErrorNote error={data.error} /> : <Loading what="the page" />}
        </main>
      </Frame>
    );
  }
  const { info, view, library, tables, pages } = data.data;
  return (
    <Workspace
      key={view.id}
      project={project}
      projectName={info.name}
      organization={info.organization_id}
      view={view}
      library={library}
      tables={tables}
      pages={pages}
    />
  );
}

function Workspace({
  project,
  projectName,
  organization,
  view,
  library,
  tables,
  pages,
}: {
  project: string;
  projectName: string;
  organization: string;
  view: PageView;
  library: Component[];
  tables: TableInfo[];
  pages: PageSummary[];
}) {
  const [state, dispatch] = useReducer(reducer, undefined, () => initialState(view.tree, view.version));
  const [width, setWidth] = useState<number | null>(null);
  const [showHistory, setShowHistory] = useState(false);
  const [drag, setDrag] = useState<(DragState & { label: string }) | null>(null);
  // dnd-kit's live region and instructions live inside <main>, with the rest.
  const [liveRoot, setLiveRoot] = useState<HTMLDivElement | null>(null);
  const stateRef = useRef(state);
  stateRef.current = state;
  const problems = useMemo(() => validate(state.tree, library, tables), [state.tree, library, tables]);
  const dirty = isDirty(state);
  const userId = getSession()?.user.id;

  // ------------------------------------------------------------ autosave
  const saving = useRef(false);
  const save = useCallback(async () => {
    const s = stateRef.current;
    if (saving.current || !isDirty(s) || validate(s.tree, library, tables).length > 0) return;
    saving.current = true;
    dispatch({ type: 'saving' });
    const sent = s.tree;
    try {
      const saved = await api.savePage(project, view.id, sent, s.version);
      dispatch({ type: 'saved', tree: sent, version: saved.version });
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        try {
          const latest = await api.page(project, view.id);
          dispatch({ type: 'rebase', remote: latest.tree, version: latest.version });
        } catch (again) {
          dispatch({ type: 'save-failed', message: describe(again) });
        }
      } else if (e instanceof ApiError && e.status === 422) {
        const found: ServerProblem[] = e.errors.map((err) => ({ ...resolvePath(sent, err.field), path: err.field, message: err.message }));
        dispatch({ type: 'save-failed', message: 'The server refused this page.', problems: found });
      } else {
        dispatch({ type: 'save-failed', message: describe(e) });
      }
    } finally {
      saving.current = false;
    }
  }, [project, view.id, library, tables]);

  useEffect(() => {
    if (!dirty || state.saving || problems.length > 0 || state.saveError) return;
    const timer = setTimeout(() => void save(), 600);
    return () => clearTimeout(timer);
  }, [state.tree, state.base, dirty, state.saving, problems.length, state.saveError, save]);

  // Pick up other people's saves while idle.
  useEffect(() => {
    const timer = setInterval(async () => {
      const s = stateRef.current;
      if (saving.current || s.saving || isDirty(s)) return;
      try {
        const latest = await api.page(project, view.id);
        const now = stateRef.current;
        if (latest.version > now.version && !saving.current && !isDirty(now)) {
          dispatch({ type: 'rebase', remote: latest.tree, version: latest.version });
        }
      } catch {
        // Offline for a moment: the next tick tries again.
      }
    }, 4000);
    return () => clearInterval(timer);
  }, [project, view.id]);

  // Leaving for another screen of the app saves what is pending.
  useEffect(
    () => () => {
      const s = stateRef.current;
      if (!saving.current && isDirty(s) && validate(s.tree, library, tables).length === 0) {
        void api.savePage(project, view.id, s.tree, s.version).catch(() => undefined);
      }
    },
    [project, view.id, library, tables],
  );

  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  // ------------------------------------------------------------ commands
  const commands: Commands = useMemo(() => {
    const s = () => stateRef.current;
    const announce = (text: string) => dispatch({ type: 'announce', text });
    const title = (kind: string) => componentOf(library, kind)?.title ?? kind;
    const names = (ids: string[]) =>
      ids.length === 1 ? nodeLabel(library, findNode(s().tree, ids[0])!) : `${ids.length} components`;
    const c: Commands = {
      select(id, how = {}) {
        const { selection, anchor, tree } = s();
        if (how.toggle) {
          const ids = selection.includes(id) ? selection.filter((x) => x !== id) : [...selection, id];
          dispatch({ type: 'select', ids, anchor: id });
        } else if (how.extend && anchor) {
          dispatch({ type: 'select', ids: range(tree, anchor, id) });
        } else {
          dispatch({ type: 'select', ids: [id], anchor: id });
        }
      },
      insert(kind, at) {
        const { tree, selection } = s();
        const component = componentOf(library, kind);
        if (!component) return;
        const point = at ?? insertionPoint(library, tree, selection[selection.length - 1], kind);
        if (!point) return announce(`A ${component.title} cannot go there.`);
        const node = newNode(component, tables, tableAt(tree, point.parent, library, tables));
        if (!canPlace(library, tree, node, point.parent)) return announce(`A ${component.title} cannot go there.`);
        dispatch({
          type: 'edit',
          label: `add ${component.title}`,
          patch: [{ t: 'insert', parent: point.parent, index: point.index, node }],
          select: [node.id],
        });
      },
      move(ids, parent, slot) {
        const { tree } = s();
        const patch = movePatch(library, tree, ids, parent, slot);
        if (patch.length === 0) return announce('It cannot go there.');
        dispatch({ type: 'edit', label: `move ${names(ids)}`, patch, select: ids });
      },
      remove() {
        const { tree, selection } = s();
        const patch = deletePatch(tree, selection);
        if (patch.length === 0) return announce('Nothing to delete.');
        dispatch({ type: 'edit', label: `delete ${names(selection.filter((id) => id !== tree.id))}`, patch, select: [] });
      },
      duplicate() {
        const { tree, selection } = s();
        const { patch, created } = duplicatePatch(tree, selection);
        if (patch.length === 0) return announce('Nothing to duplicate.');
        dispatch({ type: 'edit', label: `duplicate ${names(selection)}`, patch, select: created });
      },
      copy() {
        const { tree, selection } = s();
        const nodes = copySelection(tree, selection);
        if (nodes.length === 0) return announce('Nothing to copy.');
        localStorage.setItem(CLIPBOARD, JSON.stringify({ nodes }));
        announce(`Copied ${nodes.length === 1 ? nodeLabel(library, nodes[0]) : `${nodes.length} components`}.`);
      },
      cut() {
        c.copy();
        c.remove();
      },
      paste() {
        const { tree, selection } = s();
        let nodes: Node[] = [];
        try {
          nodes = (JSON.parse(localStorage.getItem(CLIPBOARD) ?? '{}') as { nodes?: Node[] }).nodes ?? [];
        } catch {
          nodes = [];
        }
        if (nodes.length === 0) return announce('The clipboard is empty.');
        const { patch, created } = pastePatch(library, tree, nodes, selection[selection.length - 1]);
        if (patch.length === 0) return announce('What was copied cannot go there.');
        dispatch({ type: 'edit', label: `paste ${created.length === 1 ? title(nodes[0].component) : `${created.length} components`}`, patch, select: created });
      },
      shift(direction) {
        const { tree, selection } = s();
        const patch = shiftPatch(tree, selection, direction);
        if (patch.length === 0) return announce(direction < 0 ? 'Already first.' : 'Already last.');
        dispatch({ type: 'edit', label: `move ${names(selection)} ${direction < 0 ? 'up' : 'down'}`, patch });
      },
      indent() {
        const { tree, selection } = s();
        const patch = indentPatch(library, tree, selection);
        if (patch.length === 0) return announce('The component above cannot hold it.');
        dispatch({ type: 'edit', label: `move ${names(selection)} into the one above`, patch });
      },
      outdent() {
        const { tree, selection } = s();
        const patch = outdentPatch(library, tree, selection);
        if (patch.length === 0) return announce('It cannot move out.');
        dispatch({ type: 'edit', label: `move ${names(selection)} out`, patch });
      },
      setProp(id, name, value) {
        const patch = value === undefined ? [{ t: 'props' as const, id, set: {}, unset: [name] }] : [{ t: 'props' as const, id, set: { [name]: value }, unset: [] }];
        dispatch({ type: 'edit', label: `edit ${name.replace(/_/g, ' ')}`, patch, key: `${id}:${name}` });
      },
      undo: () => dispatch({ type: 'undo' }),
      redo: () => dispatch({ type: 'redo' }),
      saveNow: () => void save(),
    };
    return c;
  }, [library, tables, save]);

  // ------------------------------------------------------------ shortcuts
  const dragging = useRef(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && !e.altKey && key === 'z') {
        e.preventDefault();
        if (e.shiftKey) commands.redo();
        else commands.undo();
        return;
      }
      if (mod && !e.altKey && key === 'y') {
        e.preventDefault();
        commands.redo();
        return;
      }
      if (mod && key === 's') {
        e.preventDefault();
        commands.saveNow();
        return;
      }
      if (isEditable(e.target) || dragging.current || e.defaultPrevented) return;
      const inTree = e.target instanceof Element && !!e.target.closest('[role="tree"]');
      if (mod && key === 'c') commands.copy();
      else if (mod && key === 'x') commands.cut();
      else if (mod && key === 'v') commands.paste();
      else if (mod && key === 'd') commands.duplicate();
      else if (mod && key === 'a') dispatch({ type: 'select', ids: preorder(stateRef.current.tree).slice(1).map((n) => n.id) });
      else if (e.key === 'Delete' || e.key === 'Backspace') commands.remove();
      else if (e.key === 'Escape' && !inTree) dispatch({ type: 'select', ids: [] });
      else if (e.altKey && !inTree && e.key === 'ArrowUp') commands.shift(-1);
      else if (e.altKey && !inTree && e.key === 'ArrowDown') commands.shift(1);
      else if (e.altKey && !inTree && e.key === 'ArrowRight') commands.indent();
      else if (e.altKey && !inTree && e.key === 'ArrowLeft') commands.outdent();
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [commands]);

  // ------------------------------------------------------------ drag and drop
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor, {
      coordinateGetter: slotKeyboard,
      keyboardCodes: { start: ['Space'], cancel: ['Escape'], end: ['Space', 'Enter'] },
    }),
  );

  const onDragStart = (event: DragStartEvent) => {
    dragging.current = true;
    const data = event.active.data.current as DragData;
    const tree = stateRef.current.tree;
    if (data.kind === 'palette') {
      setDrag({ kinds: [data.ref], inside: new Set(), label: data.label });
      return;
    }
    const selection = stateRef.current.selection;
    const ids = selection.includes(data.ref) ? selection : [data.ref];
    if (!selection.includes(data.ref)) dispatch({ type: 'select', ids, anchor: data.ref });
    const inside = new Set<string>();
    for (const id of ids) {
      const node = findNode(tree, id);
      if (node) idsOf(node).forEach((x) => inside.add(x));
    }
    const kinds = ids.map((id) => findNode(tree, id)?.component ?? '');
    setDrag({ kinds, inside, label: ids.length > 1 ? `${ids.length} components` : data.label });
  };

  const onDragEnd = (event: DragEndEvent) => {
    dragging.current = false;
    setDrag(null);
    const data = event.active.data.current as DragData;
    const target = event.over?.data.current as DropData | undefined;
    if (!target || target.kind !== 'slot') return;
    if (data.kind === 'palette') {
      commands.insert(data.ref, { parent: target.parent, index: target.index });
    } else {
      const selection = stateRef.current.selection;
      const ids = selection.includes(data.ref) ? selection : [data.ref];
      commands.move(ids, target.parent, target.index);
    }
  };

  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up ${(active.data.current as DragData).label}. Arrow keys move it between places; Space drops it; Escape cancels.`,
    onDragMove: () => undefined,
    onDragOver: ({ active, over }) =>
      over ? `${(active.data.current as DragData).label} ${(over.data.current as DropData & { label?: string }).label ?? ''}.` : 'Not over a place it can go.',
    onDragEnd: ({ active, over }) =>
      over ? `Dropped ${(active.data.current as DragData).label}.` : `${(active.data.current as DragData).label} was not dropped.`,
    onDragCancel: ({ active }) => `Cancelled. ${(active.data.current as DragData).label} was not moved.`,
  };

  const context: EditorContextValue = { state, dispatch, library, tables, problems, commands };
  const selection = state.selection.filter((id) => id !== state.tree.id);
  const status = state.saving
    ? { key: 'saving', text: 'Saving…' }
    : state.saveError
      ? { key: 'error', text: `Not saved: ${state.saveError}` }
      : dirty && problems.length
        ? { key: 'invalid', text: `Not saved: ${problems.length} problem${problems.length > 1 ? 's' : ''} to fix` }
        : dirty
          ? { key: 'dirty', text: 'Unsaved changes' }
          : { key: 'saved', text: `All changes saved · version ${state.version}` };

  return (
    <EditorContext.Provider value={context}>
      <Frame
        wide
        title={`${dirty ? '• ' : ''}${view.name}`}
        crumbs={[
          { label: 'Organizations', to: '/orgs' },
          { label: 'Projects', to: `/orgs/${organization}` },
          { label: projectName, to: `/projects/${project}` },
          { label: view.name },
        ]}
      >
        <DndContext
          sensors={sensors}
          collisionDetection={collide}
          onDragStart={onDragStart}
          onDragEnd={onDragEnd}
          onDragCancel={() => {
            dragging.current = false;
            setDrag(null);
          }}
          accessibility={{
            container: liveRoot ?? undefined,
            announcements,
            screenReaderInstructions: {
              draggable: 'Press Space to pick up. Arrow keys move between places, Space drops, Escape cancels.',
            },
          }}
        >
          <DragContext.Provider value={drag}>
            <div className="editor">
              <aside className="side side-left" aria-label="Components and pages">
                <Palette />
                <nav aria-labelledby="pages-nav-heading" className="panel">
                  <h2 id="pages-nav-heading">Pages</h2>
                  <ul className="list">
                    {pages.map((p) => (
                      <li key={p.id}>
                        <Link to={`/projects/${project}/pages/${p.id}`} aria-current={p.id === view.id ? 'page' : undefined}>
                          {p.name}
                        </Link>
                      </li>
                    ))}
                  </ul>
                  <Link to={`/projects/${project}`}>All pages and tables</Link>
                </nav>
              </aside>
              <main id="main" className="editor-main">
                <div className="editor-head">
                  <h1>
                    {view.name} <code className="path">{view.path}</code>
                  </h1>
                  <p className="save-state" role="status" data-save-state={status.key}>
                    {dirty && !state.saving ? <span className="dirty-dot" aria-hidden="true" /> : null}
                    {status.text}
                    {state.saveError && (
                      <button type="button" className="small" onClick={() => dispatch({ type: 'retry' })}>
                        Retry
                      </button>
                    )}
                  </p>
                </div>
                <div className="toolbar" role="group" aria-label="Edit">
                  <button type="button" onClick={commands.undo} disabled={!canUndo(state.history)} aria-keyshortcuts="Control+Z Meta+Z">
                    Undo
                  </button>
                  <button type="button" onClick={commands.redo} disabled={!canRedo(state.history)} aria-keyshortcuts="Shift+Control+Z Shift+Meta+Z">
                    Redo
                  </button>
                  <span className="sep" aria-hidden="true" />
                  <button type="button" onClick={() => commands.shift(-1)} disabled={!selection.length} aria-keyshortcuts="Alt+ArrowUp">
                    Move up
                  </button>
                  <button type="button" onClick={() => commands.shift(1)} disabled={!selection.length} aria-keyshortcuts="Alt+ArrowDown">
                    Move down
                  </button>
                  <button type="button" onClick={commands.indent} disabled={!selection.length} aria-keyshortcuts="Alt+ArrowRight">
                    Move into
                  </button>
                  <button type="button" onClick={commands.outdent} disabled={!selection.length} aria-keyshortcuts="Alt+ArrowLeft">
                    Move out
                  </button>
                  <span className="sep" aria-hidden="true" />
                  <button type="button" onClick={commands.duplicate} disabled={!selection.length} aria-keyshortcuts="Control+D">
                    Duplicate
                  </button>
                  <button type="button" onClick={commands.copy} disabled={!selection.length} aria-keyshortcuts="Control+C">
                    Copy
                  </button>
                  <button type="button" onClick={commands.paste} aria-keyshortcuts="Control+V">
                    Paste
                  </button>
                  <button type="button" onClick={commands.remove} disabled={!selection.length} aria-keyshortcuts="Delete">
                    Delete
                  </button>
                  <span className="sep" aria-hidden="true" />
                  <button type="button" aria-expanded={showHistory} aria-controls="history-panel" onClick={() => setShowHistory((v) => !v)}>
                    History
                  </button>
                </div>
                <fieldset className="widths">
                  <legend>Preview width</legend>
                  {WIDTHS.map((w) => (
                    <label key={w.name}>
                      <input type="radio" name="preview-width" checked={width === w.width} onChange={() => setWidth(w.width)} />
                      {w.name}
                    </label>
                  ))}
                </fieldset>
                <ConflictsPanel />
                <Canvas width={width} />
                <div className="sr-only" role="status" aria-live="polite" data-announcement>
                  {state.announcement}
                </div>
                <div ref={setLiveRoot} />
              </main>
              <aside className="side side-right" aria-label="Outline, props and history">
                <Outline />
                <PropsPanel />
                <div id="history-panel" hidden={!showHistory}>
                  {showHistory && <HistoryPanel project={project} page={view.id} userId={userId} />}
                </div>
              </aside>
            </div>
            <DragOverlay dropAnimation={null}>{drag ? <div className="drag-chip">{drag.label}</div> : null}</DragOverlay>
          </DragContext.Provider>
        </DndContext>
      </Frame>
    </EditorContext.Provider>
  );
}
