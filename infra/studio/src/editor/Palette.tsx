// The component palette: every component of the project's library but the
// page. Drag one onto the canvas, or press Enter (or click) to add it at
// the selection; Space picks it up for a keyboard drag.

import { useDraggable } from '@dnd-kit/core';
import type { Component } from '../tree/types';
import { useEditor } from './context';
import type { DragData } from './dnd';

function PaletteItem({ component }: { component: Component }) {
  const { commands } = useEditor();
  const data: DragData = { kind: 'palette', ref: component.kind, label: component.title };
  const { setNodeRef, listeners, attributes } = useDraggable({ id: `palette:${component.kind}`, data });
  return (
    <li>
      <button
        type="button"
        ref={setNodeRef}
        className="palette-item"
        data-component={component.kind}
        {...attributes}
        {...listeners}
        onClick={() => commands.insert(component.kind)}
      >
        <span className="palette-title">{component.title}</span>
        <span className="palette-desc">{component.description}</span>
      </button>
    </li>
  );
}

export function Palette() {
  const { library } = useEditor();
  return (
    <section aria-labelledby="palette-heading" className="panel">
      <h2 id="palette-heading">Components</h2>
      <p className="hint" id="palette-help">
        Drag onto the page, or press Enter to add at the selection. Space picks one up; arrows move it; Space drops.
      </p>
      <ul className="palette" aria-describedby="palette-help">
        {library
          .filter((c) => c.kind !== 'page')
          .map((c) => (
            <PaletteItem key={c.kind} component={c} />
          ))}
      </ul>
    </section>
  );
}
