// What the editor's parts share: the state, its dispatch, the library and
// tables the tree is checked against, and the commands.

import { createContext, useContext, type Dispatch } from 'react';
import type { Component, Node, TableInfo } from '../tree/types';
import type { Problem } from '../tree/validate';
import type { Action, EditorState } from './state';

export interface Commands {
  select: (id: string, how?: { toggle?: boolean; extend?: boolean }) => void;
  insert: (kind: string, at?: { parent: string; index: number }) => void;
  move: (ids: string[], parent: string, slot: number) => void;
  remove: () => void;
  duplicate: () => void;
  copy: () => void;
  cut: () => void;
  paste: () => void;
  shift: (direction: -1 | 1) => void;
  indent: () => void;
  outdent: () => void;
  setProp: (id: string, name: string, value: Node['props'][string] | undefined) => void;
  undo: () => void;
  redo: () => void;
  saveNow: () => void;
}

export interface EditorContextValue {
  state: EditorState;
  dispatch: Dispatch<Action>;
  library: Component[];
  tables: TableInfo[];
  problems: Problem[];
  commands: Commands;
}

export const EditorContext = createContext<EditorContextValue | null>(null);

export function useEditor(): EditorContextValue {
  const value = useContext(EditorContext);
  if (!value) throw new Error('useEditor outside the editor');
  return value;
}

/** A node's name for people: its component's title and a hint of its text. */
export function nodeLabel(library: Component[], node: Node): string {
  const title = library.find((c) => c.kind === node.component)?.title ?? node.component;
  const text = node.props.content ?? node.props.label ?? node.props.title ?? node.props.alt;
  if (typeof text === 'string' && text.trim()) {
    const short = text.length > 28 ? `${text.slice(0, 27)}…` : text;
    return `${title}: ${short}`;
  }
  return title;
}
