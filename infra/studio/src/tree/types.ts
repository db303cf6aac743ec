// The shapes the page editor works on. They mirror the server's
// (shared/src/studio/tree.rs and components.rs): a page is a tree of nodes,
// each an instance of a component of the project's library.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One node of a page's tree. */
export interface Node {
  id: string;
  component: string;
  props: Record<string, Json>;
  children: Node[];
}

export type PropType =
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'choice'
  | 'url'
  | 'table'
  | 'field'
  | 'workflow';

export interface PropDef {
  name: string;
  type: PropType;
  required?: boolean;
  min?: number | null;
  max?: number | null;
  choices?: string[] | null;
}

export type ChildrenRule =
  | { kind: 'none' }
  | { kind: 'any' }
  | { kind: 'only'; components: string[] };

/** A JSON Schema of a component's props, as the library publishes it. */
export interface PropsSchema {
  type: 'object';
  properties: Record<string, PropSchema>;
  required?: string[];
  additionalProperties?: boolean;
}

export interface PropSchema {
  type: 'string' | 'number' | 'integer' | 'boolean';
  enum?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  description?: string;
}

/** A component of the library. */
export interface Component {
  kind: string;
  title: string;
  description: string;
  props: PropDef[];
  children: ChildrenRule;
  props_schema?: PropsSchema;
}

/** What bindings are checked against: table id → its field ids and names. */
export interface TableInfo {
  id: string;
  name: string;
  fields: { id: string; name: string; type: string }[];
}

/** Limits the server enforces (shared/src/studio/tree.rs). */
export const MAX_DEPTH = 32;
export const MAX_NODES = 2000;
export const MAX_NODE_ID = 64;
