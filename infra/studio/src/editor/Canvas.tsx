// The canvas: the page drawn as nested boxes, each container with a drop
// slot before, between and after its children. A node's bar is its drag
// handle (Space picks it up for a keyboard drag) and selects it when
// clicked (Ctrl/⌘ or Shift adds to the selection).

import { createContext, Fragment, useContext, type MouseEvent, type ReactNode } from 'react';
import { useDraggable, useDroppable } from '@dnd-kit/core';
import type { Node } from '../tree/types';
import { componentOf } from '../tree/ops';
import { nodeLabel, useEditor } from './context';
import { intoId, slotId, type DragData, type DropData } from './dnd';

/** The drag in progress: what may be dropped where. */
export interface DragState {
  /** Component kind of the dragged item (the first, for a multi-drag). */
  kinds: string[];
  /** Ids inside what is dragged: nothing drops into them. */
  inside: Set<string>;
}

export const DragContext = createContext<DragState | null>(null);

function useAccepts(parent: Node): boolean {
  const drag = useContext(DragContext);
  const { library } = useEditor();
  if (!drag) return true;
  if (drag.inside.has(parent.id)) return false;
  const rule = componentOf(library, parent.component)?.children;
  if (!rule || rule.kind === 'none') return false;
  return drag.kinds.every((k) => rule.kind === 'any' || (rule.kind === 'only' && rule.components.includes(k)));
}

function Slot({ parent, index, label }: { parent: Node; index: number; label: string }) {
  const accepts = useAccepts(parent);
  const data: DropData = { kind: 'slot', parent: parent.id, index, label };
  const { setNodeRef, isOver } = useDroppable({ id: slotId(parent.id, index), data, disabled: !accepts });
  return (
    <div
      ref={setNodeRef}
      className={`slot${isOver ? ' slot-over' : ''}`}
      data-slot={`${parent.id}:${index}`}
      aria-hidden="true"
    />
  );
}

function ChildList({ node, horizontal }: { node: Node; horizontal?: boolean }) {
  const { library } = useEditor();
  const accepts = useAccepts(node);
  const data: DropData = { kind: 'into', parent: node.id };
  const { setNodeRef, isOver } = useDroppable({ id: intoId(node.id), data, disabled: !accepts });
  const title = nodeLabel(library, node);
  return (
    <div
      ref={setNodeRef}
      className={`children${horizontal ? ' children-row' : ''}${isOver ? ' children-over' : ''}${node.children.length ? '' : ' children-empty'}`}
      data-children-of={node.id}
    >
      {node.children.map((child, i) => (
        <Fragment key={child.id}>
          <Slot parent={node} index={i} label={`in ${title}, before ${nodeLabel(library, child)}`} />
          <CanvasNode node={child} />
        </Fragment>
      ))}
      <Slot parent={node} index={node.children.length} label={`at the end of ${title}`} />
      {node.children.length === 0 && <span className="drop-hint">Drop components here</span>}
    </div>
  );
}

function text(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback;
}

function fieldName(tables: { id: string; fields: { id: string; name: string }[] }[], id: unknown): string {
  for (const t of tables) for (const f of t.fields) if (f.id === id) return f.name;
  return 'field';
}

function Preview({ node }: { node: Node }) {
  const { tables } = useEditor();
  const p = node.props;
  const tableName = tables.find((t) => t.id === p.table)?.name ?? 'no table';
  switch (node.component) {
    case 'heading': {
      const level = typeof p.level === 'number' ? p.level : 2;
      return <div className={`pv-heading pv-h${level}`}>{text(p.content)}</div>;
    }
    case 'text':
      return <div className="pv-text">{text(p.content)}</div>;
    case 'image':
      return (
        <div className="pv-image">
          <span>Image</span> {text(p.alt) || text(p.src)}
        </div>
      );
    case 'button':
      return <span className={`pv-button pv-${text(p.variant, 'primary')}`}>{text(p.label)}</span>;
    case 'link':
      return <span className="pv-link">{text(p.label)}</span>;
    case 'input':
      return (
        <div className="pv-input">
          <span>{text(p.label) || fieldName(tables, p.field)}</span>
          <span className="pv-input-box">{text(p.placeholder)}</span>
        </div>
      );
    case 'table':
      return <div className="pv-table">Records of {tableName}</div>;
    case 'chart':
      return <div className="pv-table">Chart of {tableName}</div>;
    case 'field_value':
      return <div className="pv-text">{`{${fieldName(tables, p.field)}}`}</div>;
    case 'divider':
      return <div className="pv-divider" />;
    case 'form':
    case 'list':
      return <div className="pv-meta">{tableName}</div>;
    default:
      return null;
  }
}

export function CanvasNode({ node }: { node: Node }) {
  const { library, state, commands, problems } = useEditor();
  const component = componentOf(library, node.component);
  const label = nodeLabel(library, node);
  const selected = state.selection.includes(node.id);
  const invalid = problems.some((p) => p.nodeId === node.id);
  const dragData: DragData = { kind: 'node', ref: node.id, label };
  const { setNodeRef, setActivatorNodeRef, listeners, attributes, isDragging } = useDraggable({
    id: `drag:${node.id}`,
    data: dragData,
  });
  const select = (event: MouseEvent) => {
    event.stopPropagation();
    commands.select(node.id, { toggle: event.ctrlKey || event.metaKey, extend: event.shiftKey });
  };
  const container = component && component.children.kind !== 'none';
  return (
    <div
      ref={setNodeRef}
      className={`node node-${node.component}${selected ? ' node-selected' : ''}${isDragging ? ' node-dragging' : ''}${invalid ? ' node-invalid' : ''}`}
      data-node-id={node.id}
      onClick={select}
    >
      <button
        type="button"
        ref={setActivatorNodeRef}
        className="node-bar"
        {...attributes}
        {...listeners}
        aria-pressed={selected}
        aria-label={`${label}${invalid ? ' (has problems)' : ''}`}
        onClick={select}
      >
        <span className="grip" aria-hidden="true">
          ⠿
        </span>
        {component?.title ?? node.component}
      </button>
      <Preview node={node} />
      {container && <ChildList node={node} horizontal={node.component === 'row'} />}
    </div>
  );
}

/** The page itself: the root's children on a frame of the preview width. */
export function Canvas({ width, children }: { width: number | null; children?: ReactNode }) {
  const { state, commands } = useEditor();
  const root = state.tree;
  return (
    <div className="canvas-scroll" onClick={() => commands.select(root.id)}>
      <div
        className="canvas"
        style={width ? { width: `${width}px` } : undefined}
        data-width={width ?? 'full'}
      >
        <div className={`page-root${state.selection.includes(root.id) ? ' node-selected' : ''}`} data-node-id={root.id}>
          <ChildList node={root} />
        </div>
      </div>
      {children}
    </div>
  );
}
