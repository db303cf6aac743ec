// The API's shapes the studio reads (see GET /api/openapi.json).

import type { Json, Node } from '../tree/types';

export interface User {
  id: string;
  email?: string;
  first_name?: string;
  last_name?: string;
}

export interface Session {
  access: string;
  refresh: string | null;
  id_token: string;
  user: User;
}

export interface Organization {
  id: string;
  name: string;
  description?: string | null;
  role?: string;
  version: number;
}

export interface Project {
  id: string;
  organization_id: string;
  name: string;
  description?: string | null;
  status: string;
  tables: number;
  pages: number;
  version: number;
}

export type FieldType =
  | 'text'
  | 'long_text'
  | 'integer'
  | 'decimal'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'email'
  | 'url'
  | 'single_select'
  | 'multi_select'
  | 'json'
  | 'relation'
  | 'file';

export const FIELD_TYPES: { value: FieldType; label: string }[] = [
  { value: 'text', label: 'Text' },
  { value: 'long_text', label: 'Long text' },
  { value: 'integer', label: 'Integer' },
  { value: 'decimal', label: 'Decimal' },
  { value: 'boolean', label: 'Boolean' },
  { value: 'date', label: 'Date' },
  { value: 'datetime', label: 'Date and time' },
  { value: 'email', label: 'E-mail' },
  { value: 'url', label: 'URL' },
  { value: 'single_select', label: 'Single select' },
  { value: 'multi_select', label: 'Multi select' },
  { value: 'json', label: 'JSON' },
  { value: 'relation', label: 'Relation' },
  { value: 'file', label: 'File' },
];

export interface FieldSpec {
  name: string;
  type: FieldType;
  required?: boolean;
  unique?: boolean;
  indexed?: boolean;
  default?: Json;
  min?: number | null;
  max?: number | null;
  pattern?: string | null;
  choices?: string[] | null;
  relation?: { table_id: string; many?: boolean } | null;
  /** A file field's largest size, in bytes. */
  max_size?: number | null;
  /** A file field's accepted media types. */
  accept?: string[] | null;
}

export interface Field extends Required<Omit<FieldSpec, 'default' | 'relation' | 'max_size' | 'accept'>> {
  id: string;
  default: Json;
  relation: { table_id: string; many: boolean } | null;
  max_size?: number | null;
  accept?: string[] | null;
}

export interface Table {
  id: string;
  project_id: string;
  name: string;
  description?: string | null;
  fields: Field[];
  schema_version: number;
  version: number;
}

export type SchemaChange =
  | { op: 'add_field'; field: FieldSpec }
  | { op: 'rename_field'; field_id: string; name: string }
  | { op: 'remove_field'; field_id: string }
  | { op: 'change_field'; field_id: string; field: FieldSpec };

export interface PageSummary {
  id: string;
  project_id: string;
  name: string;
  path: string;
  size: number;
  updated_by: string;
  updated_at: string;
  version: number;
}

export interface PageView extends PageSummary {
  tree: Node;
}

export interface PageList {
  items: PageSummary[];
  next: string | null;
}

export interface SaveSummary {
  page_id: string;
  version: number;
  size: number;
  saved_by: string;
  saved_at: string;
  restored_from?: number | null;
}

export interface SaveView extends SaveSummary {
  tree: Node;
}

export interface RecordView {
  id: string;
  created_at: string;
  updated_at: string;
  created_by: string;
  version: number;
  [field: string]: Json;
}

export interface RecordPage {
  items: RecordView[];
  next: string | null;
  total?: number;
}
