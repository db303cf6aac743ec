//! An app's manifest: everything a generated app needs to run, as one JSON
//! document — its pages with their trees, the project's custom components,
//! the schema of every table, and the record endpoints that serve them.
//! Plain values, no I/O ([`super::drafts`] reads the project and stores
//! the result).
//!
//! The manifest is a pure function of the project's current state: the
//! same project always gives the same bytes, so its SHA-256 names it. A
//! draft whose hash is unchanged is not written again, and a deploy of an
//! unchanged draft is the version already made.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::studio::custom::CustomComponent;
use crate::studio::pages::PageSummary;
use crate::studio::projects::Project;
use crate::studio::tables::DataTable;
use crate::studio::tree::Node;

/// What every manifest's `format` says.
pub const FORMAT: &str = "nocode.app.manifest";
/// The format's version.
pub const FORMAT_VERSION: u32 = 1;
/// The largest manifest an app deploys: its public URL is served by a
/// function, whose answer holds 6 MB.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;

/// The app a manifest describes.
#[derive(Debug, Serialize)]
pub struct AppPart<'a> {
    /// The app's id.
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// What it is for.
    pub description: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct ProjectPart<'a> {
    id: &'a str,
    name: &'a str,
    slug: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Endpoints {
    records: String,
    record: String,
    batch: String,
    files: String,
}

#[derive(Debug, Serialize)]
struct TablePart<'a> {
    id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    fields: Vec<Value>,
    endpoints: Endpoints,
}

#[derive(Debug, Serialize)]
struct ComponentPart<'a> {
    kind: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    props: &'a [crate::studio::components::PropDef],
    children: &'a crate::studio::components::Children,
}

#[derive(Debug, Serialize)]
struct PagePart<'a> {
    id: &'a str,
    name: &'a str,
    path: &'a str,
    tree: &'a Node,
}

#[derive(Debug, Serialize)]
struct Manifest<'a> {
    format: &'static str,
    format_version: u32,
    app: AppPart<'a>,
    project: ProjectPart<'a>,
    tables: Vec<TablePart<'a>>,
    components: Vec<ComponentPart<'a>>,
    pages: Vec<PagePart<'a>>,
}

/// What a manifest is made of: the project's state as studio holds it.
pub struct Sources<'a> {
    /// The project.
    pub project: &'a Project,
    /// Its tables, in creation order.
    pub tables: &'a [DataTable],
    /// Its custom components, in creation order.
    pub components: &'a [CustomComponent],
    /// Its pages with their current trees, in creation order.
    pub pages: &'a [(PageSummary, Node)],
}

/// A field as an app sees it: its spec, without the index's inner state
/// (which moves while an index fills and means nothing to an app).
fn field_part(field: &crate::studio::schema::Field) -> Value {
    let mut value = serde_json::to_value(field).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("index_generation");
        map.remove("index_ready");
        map.retain(|_, v| !v.is_null());
    }
    value
}

fn endpoints(project_id: &str, table_id: &str) -> Endpoints {
    let records = format!("/api/v1/runtime/projects/{project_id}/tables/{table_id}/records");
    Endpoints {
        record: format!("{records}/{{record_id}}"),
        batch: format!("{records}/batch"),
        files: format!("/api/v1/runtime/projects/{project_id}/tables/{table_id}/files"),
        records,
    }
}

/// A built manifest: its bytes and their SHA-256 (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// Compact JSON.
    pub bytes: Vec<u8>,
    /// Its SHA-256, lower-case hex.
    pub hash: String,
}

/// The manifest of `app` over `sources`.
pub fn build(app: AppPart<'_>, sources: &Sources<'_>) -> Built {
    let project = sources.project;
    let manifest = Manifest {
        format: FORMAT,
        format_version: FORMAT_VERSION,
        app,
        project: ProjectPart {
            id: &project.id,
            name: &project.name,
            slug: project.slug.as_deref(),
        },
        tables: sources
            .tables
            .iter()
            .map(|t| TablePart {
                id: &t.id,
                name: &t.name,
                description: t.description.as_deref(),
                fields: t.fields.iter().map(field_part).collect(),
                endpoints: endpoints(&project.id, &t.id),
            })
            .collect(),
        components: sources
            .components
            .iter()
            .map(|c| ComponentPart {
                kind: &c.kind,
                title: &c.title,
                description: c.description.as_deref(),
                props: &c.props,
                children: &c.children,
            })
            .collect(),
        pages: sources
            .pages
            .iter()
            .map(|(page, tree)| PagePart {
                id: &page.id,
                name: &page.name,
                path: &page.path,
                tree,
            })
            .collect(),
    };
    // Structs and maps of strings and numbers always serialize.
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let hash = hex(&Sha256::digest(&bytes));
    Built { bytes, hash }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a manifest of `hash` is kept: named by its content, so a
/// retried write writes the same bytes and nothing stored ever changes.
pub fn blob_key(app_id: &str, hash: &str) -> String {
    format!("{}{hash}.json", blob_prefix(app_id))
}

/// The prefix of every manifest of an app.
pub fn blob_prefix(app_id: &str) -> String {
    format!("apps/{app_id}/manifests/")
}

/// The manifest's document as a JSON value (for the draft route).
pub fn parse(bytes: &[u8]) -> Result<Map<String, Value>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::projects::ProjectStatus;
    use crate::studio::schema::{Field, FieldType};

    fn project() -> Project {
        Project {
            id: "p1".into(),
            organization_id: "o1".into(),
            name: "Shop".into(),
            description: None,
            slug: Some("shop".into()),
            status: ProjectStatus::Active,
            created_by: "u1".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            tables: 1,
            components: 0,
            pages: 1,
            version: 3,
        }
    }

    fn table(indexed_ready: bool) -> DataTable {
        DataTable {
            id: "t1".into(),
            project_id: "p1".into(),
            organization_id: "o1".into(),
            name: "Orders".into(),
            description: None,
            fields: vec![Field {
                id: "fld_1".into(),
                name: "total".into(),
                kind: FieldType::Decimal,
                required: true,
                unique: false,
                indexed: true,
                default: None,
                min: Some(0.0),
                max: None,
                pattern: None,
                choices: None,
                relation: None,
                max_size: None,
                accept: None,
                index_generation: 2,
                index_ready: indexed_ready,
            }],
            schema_version: 4,
            created_by: "u1".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            version: 7,
        }
    }

    fn page(title: &str) -> (PageSummary, Node) {
        let tree: Node = serde_json::from_value(serde_json::json!({
            "id": "root", "component": "page",
            "children": [{"id": "h", "component": "heading", "props": {"content": title}}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let summary: PageSummary = serde_json::from_value(serde_json::json!({
            "id": "pg1", "project_id": "p1", "organization_id": "o1", "name": "Home",
            "path": "/", "size": 10, "uses": [], "created_by": "u1", "updated_by": "u1",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "version": 1
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        (summary, tree)
    }

    fn built(indexed_ready: bool, title: &str) -> Built {
        let project = project();
        let tables = [table(indexed_ready)];
        let pages = [page(title)];
        let app = AppPart {
            id: "a1",
            name: "Shop app",
            description: None,
        };
        build(
            app,
            &Sources {
                project: &project,
                tables: &tables,
                components: &[],
                pages: &pages,
            },
        )
    }

    #[test]
    fn the_same_project_gives_the_same_bytes_and_a_change_another_hash() {
        let a = built(true, "Hello");
        assert_eq!(a, built(true, "Hello"));
        assert_eq!(a.hash, hex(&Sha256::digest(&a.bytes)));
        assert_ne!(a.hash, built(true, "Hello!").hash);
        // An index filling changes nothing an app sees.
        assert_eq!(a, built(false, "Hello"));
    }

    #[test]
    fn a_manifest_names_its_pages_schema_and_endpoints() {
        let doc = parse(&built(true, "Hello").bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc["format"], FORMAT);
        assert_eq!(doc["app"]["id"], "a1");
        assert_eq!(
            doc["pages"][0]["tree"]["children"][0]["props"]["content"],
            "Hello"
        );
        let table = &doc["tables"][0];
        assert_eq!(table["fields"][0]["name"], "total");
        assert!(table["fields"][0].get("index_ready").is_none());
        assert_eq!(
            table["endpoints"]["records"],
            "/api/v1/runtime/projects/p1/tables/t1/records"
        );
        assert_eq!(blob_key("a1", "ff"), "apps/a1/manifests/ff.json");
    }
}
