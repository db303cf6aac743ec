// Drag and drop on the canvas. Drop targets are slots (the gaps between a
// container's children, `slot:<parent>:<index>`) and container bodies
// (`into:<id>`). With a pointer, the innermost container under it picks
// its slot nearest the pointer; with the keyboard, the arrow keys step
// through the slots in reading order.

import {
  closestCenter,
  pointerWithin,
  type ClientRect,
  type CollisionDetection,
  type KeyboardCoordinateGetter,
  type UniqueIdentifier,
} from '@dnd-kit/core';

export interface SlotData {
  kind: 'slot';
  parent: string;
  index: number;
  /** For announcements: "in Container, position 2". */
  label: string;
}

export interface IntoData {
  kind: 'into';
  parent: string;
}

export type DropData = SlotData | IntoData;

export interface DragData {
  kind: 'palette' | 'node';
  /** The component kind (palette) or node id (node). */
  ref: string;
  label: string;
}

export const slotId = (parent: string, index: number) => `slot:${parent}:${index}`;
export const intoId = (parent: string) => `into:${parent}`;

const area = (r: ClientRect) => r.width * r.height;
const center = (r: ClientRect) => ({ x: r.left + r.width / 2, y: r.top + r.height / 2 });

export const collide: CollisionDetection = (args) => {
  const { pointerCoordinates, droppableContainers, droppableRects } = args;
  const slots = droppableContainers.filter((c) => (c.data.current as DropData | undefined)?.kind === 'slot');
  if (!pointerCoordinates) {
    // Keyboard: the slot the dragged item's centre sits on.
    return closestCenter({ ...args, droppableContainers: slots });
  }
  const hits = pointerWithin(args);
  if (hits.length === 0) return [];
  const rect = (id: UniqueIdentifier) => droppableRects.get(id);
  // A slot right under the pointer wins; else the innermost container's
  // slot nearest the pointer.
  const slotHit = hits.find((h) => String(h.id).startsWith('slot:'));
  if (slotHit) return [slotHit];
  const containers = hits
    .filter((h) => String(h.id).startsWith('into:'))
    .sort((a, b) => area(rect(a.id)!) - area(rect(b.id)!));
  for (const hit of containers) {
    const parent = (droppableContainers.find((c) => c.id === hit.id)?.data.current as IntoData).parent;
    let best: { id: UniqueIdentifier; d: number } | undefined;
    for (const s of slots) {
      if ((s.data.current as SlotData).parent !== parent) continue;
      const r = rect(s.id);
      if (!r) continue;
      const c = center(r);
      const d = Math.hypot(c.x - pointerCoordinates.x, c.y - pointerCoordinates.y);
      if (!best || d < best.d) best = { id: s.id, d };
    }
    if (best) return [{ id: best.id, data: { droppableContainer: droppableContainers.find((c) => c.id === best!.id), value: best.d } }];
  }
  return [];
};

const STEP: Record<string, -1 | 1> = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };

/** Arrow keys move the dragged item to the next or previous slot. */
export const slotKeyboard: KeyboardCoordinateGetter = (event, { context, currentCoordinates }) => {
  const step = STEP[event.code];
  if (!step) return undefined;
  event.preventDefault();
  const { droppableContainers, droppableRects, collisionRect, over } = context;
  if (!collisionRect) return undefined;
  const slots = droppableContainers
    .getEnabled()
    .filter((c) => (c.data.current as DropData | undefined)?.kind === 'slot')
    .map((c) => ({ id: c.id, rect: droppableRects.get(c.id) }))
    .filter((s): s is { id: UniqueIdentifier; rect: ClientRect } => !!s.rect)
    .sort((a, b) => a.rect.top - b.rect.top || a.rect.left - b.rect.left);
  if (slots.length === 0) return undefined;
  const here = center(collisionRect);
  let index = over ? slots.findIndex((s) => s.id === over.id) : -1;
  if (index < 0) {
    // Not on a slot yet: the first one past the item in the key's direction.
    const ahead = slots.map((s, i) => ({ i, y: center(s.rect).y })).filter((s) => (step > 0 ? s.y > here.y : s.y < here.y));
    index = ahead.length ? (step > 0 ? ahead[0].i : ahead[ahead.length - 1].i) : step > 0 ? slots.length - 1 : 0;
  } else {
    index = Math.max(0, Math.min(slots.length - 1, index + step));
  }
  const target = center(slots[index].rect);
  return { x: currentCoordinates.x + (target.x - here.x), y: currentCoordinates.y + (target.y - here.y) };
};
