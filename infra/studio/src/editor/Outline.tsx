// The outline: the page as a tree view. Arrow keys move the focus (and the
// selection with it), Shift+arrows extend the selection, Ctrl/⌘+Space
// toggles one node; Alt+↑/↓ move the selection among its siblings,
// Alt+→ into the sibling before it, Alt+← out of its parent.

import { useEffect, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import type { Node } from '../tree/types';
import { findNode, locate, preorder } from '../tree/ops';
import { nodeLabel, useEditor } from './context';
import { range } from './state';

const itemId = (id: string) => `outline-${id}`;

export function Outline() {
  const { state, library, commands, dispatch, problems } = useEditor();
  const tree = state.tree;
  const [focusId, setFocusId] = useState(tree.id);
  const hasFocus = useRef(false);
  const treeRef = useRef<HTMLUListElement>(null);

  // Keep the focused item real, and keep focus on it across re-renders
  // that re-mount it (a move to another parent).
  const focus = findNode(tree, focusId) ? focusId : (state.selection[0] ?? tree.id);
  useEffect(() => {
    if (!hasFocus.current) return;
    const el = document.getElementById(itemId(focus));
    if (el && document.activeElement !== el) el.focus();
  });
  // Follow a selection made elsewhere (the canvas).
  const first = state.selection[0];
  useEffect(() => {
    if (first && !hasFocus.current) setFocusId(first);
  }, [first]);

  const order = preorder(tree).map((n) => n.id);
  const moveFocus = (id: string, event: KeyboardEvent) => {
    setFocusId(id);
    if (event.ctrlKey || event.metaKey) return;
    if (event.shiftKey) dispatch({ type: 'select', ids: range(tree, state.anchor ?? focus, id) });
    else dispatch({ type: 'select', ids: [id], anchor: id });
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const at = order.indexOf(focus);
    if (event.altKey) {
      const moves: Record<string, () => void> = {
        ArrowUp: () => commands.shift(-1),
        ArrowDown: () => commands.shift(1),
        ArrowRight: () => commands.indent(),
        ArrowLeft: () => commands.outdent(),
      };
      const move = moves[event.key];
      if (move) {
        event.preventDefault();
        event.stopPropagation();
        if (!state.selection.includes(focus)) dispatch({ type: 'select', ids: [focus], anchor: focus });
        move();
      }
      return;
    }
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        if (at < order.length - 1) moveFocus(order[at + 1], event);
        break;
      case 'ArrowUp':
        event.preventDefault();
        if (at > 0) moveFocus(order[at - 1], event);
        break;
      case 'ArrowRight': {
        event.preventDefault();
        const node = findNode(tree, focus);
        if (node?.children[0]) moveFocus(node.children[0].id, event);
        break;
      }
      case 'ArrowLeft': {
        event.preventDefault();
        const place = locate(tree, focus);
        if (place) moveFocus(place.parent.id, event);
        break;
      }
      case 'Home':
        event.preventDefault();
        moveFocus(order[0], event);
        break;
      case 'End':
        event.preventDefault();
        moveFocus(order[order.length - 1], event);
        break;
      case ' ':
      case 'Enter':
        event.preventDefault();
        commands.select(focus, { toggle: event.ctrlKey || event.metaKey, extend: event.shiftKey });
        break;
    }
  };

  const onClick = (id: string) => (event: MouseEvent) => {
    event.stopPropagation();
    setFocusId(id);
    commands.select(id, { toggle: event.ctrlKey || event.metaKey, extend: event.shiftKey });
  };

  const item = (node: Node, level: number, index: number, count: number) => {
    const selected = state.selection.includes(node.id);
    const bad = problems.some((p) => p.nodeId === node.id);
    return (
      <li
        key={node.id}
        id={itemId(node.id)}
        role="treeitem"
        aria-level={level}
        aria-posinset={index + 1}
        aria-setsize={count}
        aria-selected={selected}
        aria-expanded={node.children.length ? true : undefined}
        tabIndex={node.id === focus ? 0 : -1}
        data-node-id={node.id}
        data-component={node.component}
        className={`outline-item${selected ? ' outline-selected' : ''}`}
        onClick={onClick(node.id)}
      >
        <span className="outline-label">
          {nodeLabel(library, node)}
          {bad && <span className="badge-problem"> (has problems)</span>}
        </span>
        {node.children.length > 0 && (
          <ul role="group">{node.children.map((c, i) => item(c, level + 1, i, node.children.length))}</ul>
        )}
      </li>
    );
  };

  return (
    <section aria-labelledby="outline-heading" className="panel">
      <h2 id="outline-heading">Outline</h2>
      <p className="hint" id="outline-help">
        Arrows move, Shift+arrows extend, Alt+↑/↓ reorder, Alt+→ moves into the node above, Alt+← moves out.
      </p>
      <ul
        ref={treeRef}
        role="tree"
        aria-labelledby="outline-heading"
        aria-describedby="outline-help"
        aria-multiselectable="true"
        className="outline"
        onKeyDown={onKeyDown}
        onFocus={() => (hasFocus.current = true)}
        onBlur={(e) => {
          const next = e.relatedTarget as Element | null;
          if (next) {
            if (!treeRef.current?.contains(next)) hasFocus.current = false;
            return;
          }
          // Focus went nowhere: an item re-mounted (keep it) or a click
          // on something that takes no focus (let go).
          const left = e.target as Element;
          requestAnimationFrame(() => {
            if (left.isConnected) hasFocus.current = false;
          });
        }}
      >
        {item(tree, 1, 0, 1)}
      </ul>
    </section>
  );
}
