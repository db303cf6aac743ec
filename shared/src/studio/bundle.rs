//! The export bundle: one JSON document holding a project's tables,
//! custom components and pages, versioned by `format_version`. Its check
//! (everything an import would refuse, before anything is written) and its
//! id remapping (every id new, every reference kept) are plain functions;
//! [`super::exports`] does the I/O. The format's JSON Schema is published
//! by [`json_schema`].

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::components::{self, CUSTOM, Children, Component, PropDef, PropType};
use super::error::MAX_TABLES;
use super::pages::{self, MAX_PAGES, MAX_TREE_BYTES};
use super::schema::{self, Field, FieldSpec, SchemaError};
use super::tree::{self, Context, Node};
use crate::http::FieldError;
use crate::http::schema as text;

/// What every bundle's `format` says.
pub const FORMAT: &str = "nocode.studio.bundle";
/// The format version this platform writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A project, exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always `nocode.studio.bundle`.
    #[schema(pattern = "^nocode\\.studio\\.bundle$")]
    pub format: String,
    /// The format's version; only 1 exists, and a bundle of another is refused.
    #[schema(minimum = 1, maximum = 1)]
    pub format_version: u32,
    /// The project.
    pub project: BundleProject,
    /// Its data tables, in creation order.
    #[serde(default)]
    pub tables: Vec<BundleTable>,
    /// Its custom components, in creation order.
    #[serde(default)]
    pub components: Vec<BundleComponent>,
    /// Its pages with their current trees, in creation order.
    #[serde(default)]
    pub pages: Vec<BundlePage>,
}

/// The project's own settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleProject {
    /// Display name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Its slug, if it has one.
    #[serde(default)]
    pub slug: Option<String>,
}

/// A data table with its fields; relations name tables of the bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleTable {
    /// Its id in the bundle.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it holds.
    #[serde(default)]
    pub description: Option<String>,
    /// Its fields, with their ids in the bundle.
    pub fields: Vec<Field>,
}

/// A custom component; pages name it `custom:<id>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleComponent {
    /// Its id in the bundle.
    pub id: String,
    /// Its name in the palette.
    pub title: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Its props.
    pub props: Vec<PropDef>,
    /// The children it allows.
    #[schema(schema_with = components::children_schema)]
    pub children: Children,
}

/// A page with its tree; bindings name tables and fields of the bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundlePage {
    /// Its id in the bundle.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Where the app serves it.
    pub path: String,
    /// Its tree.
    pub tree: Node,
}

impl BundleComponent {
    fn component(&self) -> Component {
        Component {
            kind: format!("{CUSTOM}{}", self.id),
            title: self.title.clone(),
            description: self.description.clone().unwrap_or_default(),
            props: self.props.clone(),
            children: self.children.clone(),
        }
    }
}

/// The format as a standalone JSON Schema (draft 2020-12).
pub fn json_schema() -> Value {
    use utoipa::{PartialSchema, ToSchema};
    let mut nested = Vec::new();
    <Bundle as ToSchema>::schemas(&mut nested);
    let defs: serde_json::Map<String, Value> = nested
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();
    let mut schema = serde_json::to_value(<Bundle as PartialSchema>::schema()).unwrap_or(json!({}));
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["$id"] = json!(format!("urn:nocode:studio:bundle:{FORMAT_VERSION}"));
    schema["title"] = json!("NoCode studio project bundle");
    schema["$defs"] = Value::Object(defs);
    let text = schema
        .to_string()
        .replace("#/components/schemas/", "#/$defs/");
    serde_json::from_str(&text).unwrap_or(schema)
}

fn distinct<'a>(
    ids: impl Iterator<Item = &'a str>,
    path: &str,
    what: &str,
    errors: &mut Vec<FieldError>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if id.is_empty() || id.len() > 64 {
            errors.push(FieldError::new(
                format!("{path}[{i}].{what}"),
                "is 1 to 64 characters",
            ));
        } else if !seen.insert(id) {
            errors.push(FieldError::new(
                format!("{path}[{i}].{what}"),
                format!("is the {what} of another one"),
            ));
        }
    }
    seen
}

fn too_many(errors: &mut Vec<FieldError>, path: &str, len: usize, max: u32) -> bool {
    if len > max as usize {
        errors.push(FieldError::new(path, format!("are at most {max}")));
        return true;
    }
    false
}

/// Everything an import would refuse, each with its path in the request
/// (`bundle.tables[1].fields[0].relation.table_id`); nothing else is
/// refused once this passes, but for limits of the organization's state
/// (a taken slug).
pub fn check(bundle: &Bundle) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if bundle.format != FORMAT {
        errors.push(FieldError::new("bundle.format", format!("is `{FORMAT}`")));
    }
    if bundle.format_version != FORMAT_VERSION {
        errors.push(FieldError::new(
            "bundle.format_version",
            format!("is an unknown format version; this platform reads {FORMAT_VERSION}"),
        ));
        return Err(errors);
    }
    text::take_name("bundle.project.name", &bundle.project.name, &mut errors);
    if let Err(why) = text::check_description(bundle.project.description.as_deref()) {
        errors.push(FieldError::new("bundle.project.description", why));
    }
    if let Some(slug) = &bundle.project.slug
        && let Err(why) = super::projects::check_slug(slug)
    {
        errors.push(FieldError::new("bundle.project.slug", why));
    }
    if too_many(
        &mut errors,
        "bundle.tables",
        bundle.tables.len(),
        MAX_TABLES,
    ) || too_many(
        &mut errors,
        "bundle.components",
        bundle.components.len(),
        super::custom::MAX_COMPONENTS,
    ) || too_many(&mut errors, "bundle.pages", bundle.pages.len(), MAX_PAGES)
    {
        return Err(errors);
    }
    let table_ids = distinct(
        bundle.tables.iter().map(|t| t.id.as_str()),
        "bundle.tables",
        "id",
        &mut errors,
    );
    let mut names = HashSet::new();
    let mut field_ids = HashSet::new();
    for (i, table) in bundle.tables.iter().enumerate() {
        let at = format!("bundle.tables[{i}]");
        if text::take_name(&format!("{at}.name"), &table.name, &mut errors).is_some()
            && !names.insert(table.name.to_lowercase())
        {
            errors.push(FieldError::new(
                format!("{at}.name"),
                "is the name of another table",
            ));
        }
        if let Err(why) = text::check_description(table.description.as_deref()) {
            errors.push(FieldError::new(format!("{at}.description"), why));
        }
        let specs: Vec<FieldSpec> = table.fields.iter().map(FieldSpec::from).collect();
        match schema::fields_at(&specs, &format!("{at}.fields")) {
            Ok(_) => {}
            Err(SchemaError::Invalid(e)) => errors.extend(e),
            Err(SchemaError::TooManyFields) => errors.push(FieldError::new(
                format!("{at}.fields"),
                format!("are at most {}", schema::MAX_FIELDS),
            )),
            Err(SchemaError::TooManyKeyedFields) => errors.push(FieldError::new(
                format!("{at}.fields"),
                format!(
                    "keep at most {} keys (each unique field one, each indexed field one)",
                    schema::MAX_KEYED_FIELDS
                ),
            )),
        }
        for (j, field) in table.fields.iter().enumerate() {
            if field.id.is_empty() || field.id.len() > 64 || !field_ids.insert(field.id.as_str()) {
                errors.push(FieldError::new(
                    format!("{at}.fields[{j}].id"),
                    "is 1 to 64 characters, unique in the bundle",
                ));
            }
            if let Some(relation) = &field.relation
                && !table_ids.contains(relation.table_id.as_str())
            {
                errors.push(FieldError::new(
                    format!("{at}.fields[{j}].relation.table_id"),
                    "is no table of the bundle",
                ));
            }
        }
    }
    distinct(
        bundle.components.iter().map(|c| c.id.as_str()),
        "bundle.components",
        "id",
        &mut errors,
    );
    for (i, component) in bundle.components.iter().enumerate() {
        let at = format!("bundle.components[{i}]");
        text::take_name(&format!("{at}.title"), &component.title, &mut errors);
        if let Err(why) = text::check_description(component.description.as_deref()) {
            errors.push(FieldError::new(format!("{at}.description"), why));
        }
        errors.extend(components::check_props(
            &component.props,
            &format!("{at}.props"),
        ));
        errors.extend(components::check_children(
            &component.children,
            &format!("{at}.children"),
        ));
    }
    distinct(
        bundle.pages.iter().map(|p| p.id.as_str()),
        "bundle.pages",
        "id",
        &mut errors,
    );
    distinct(
        bundle.pages.iter().map(|p| p.path.as_str()),
        "bundle.pages",
        "path",
        &mut errors,
    );
    let library = library(bundle);
    let tables: HashMap<String, HashSet<String>> = bundle
        .tables
        .iter()
        .map(|t| {
            (
                t.id.clone(),
                t.fields.iter().map(|f| f.id.clone()).collect(),
            )
        })
        .collect();
    let context = Context {
        components: &library,
        tables: &tables,
    };
    for (i, page) in bundle.pages.iter().enumerate() {
        let at = format!("bundle.pages[{i}]");
        text::take_name(&format!("{at}.name"), &page.name, &mut errors);
        if let Err(why) = pages::check_path(&page.path) {
            errors.push(FieldError::new(format!("{at}.path"), why));
        }
        let size = serde_json::to_string(&page.tree).map_or(usize::MAX, |t| t.len());
        if size > MAX_TREE_BYTES {
            errors.push(FieldError::new(
                format!("{at}.tree"),
                format!("is at most {MAX_TREE_BYTES} bytes as compact JSON"),
            ));
        } else if let Err(e) = tree::check(&page.tree, &context) {
            errors.extend(
                e.into_iter()
                    .map(|e| FieldError::new(format!("{at}.{}", e.field), e.message)),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn library(bundle: &Bundle) -> Vec<Component> {
    let mut all = components::builtin();
    all.extend(bundle.components.iter().map(BundleComponent::component));
    all
}

/// What kind of id a remapping asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A table's.
    Table,
    /// A field's.
    Field,
    /// A custom component's.
    Component,
    /// A page's.
    Page,
}

/// The bundle with every id new (from `fresh`, called in bundle order) and
/// every reference to one rewritten: relations, children rules, the
/// custom components a node is, and its table and field bindings. Node ids
/// are the page's own and stay.
pub fn remap(bundle: &Bundle, fresh: &mut dyn FnMut(IdKind) -> String) -> Bundle {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut fields: HashMap<String, String> = HashMap::new();
    for table in &bundle.tables {
        ids.insert(table.id.clone(), fresh(IdKind::Table));
        for field in &table.fields {
            fields.insert(field.id.clone(), fresh(IdKind::Field));
        }
    }
    let mut kinds: HashMap<String, String> = HashMap::new();
    for component in &bundle.components {
        kinds.insert(
            format!("{CUSTOM}{}", component.id),
            format!("{CUSTOM}{}", fresh(IdKind::Component)),
        );
    }
    let table_id = |id: &String| ids.get(id).cloned().unwrap_or_else(|| id.clone());
    let kind = |k: &String| kinds.get(k).cloned().unwrap_or_else(|| k.clone());
    let library = library(bundle);
    let tables = bundle
        .tables
        .iter()
        .map(|t| BundleTable {
            id: table_id(&t.id),
            fields: t
                .fields
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    f.id = fields.get(&f.id).cloned().unwrap_or(f.id);
                    if let Some(relation) = &mut f.relation {
                        relation.table_id = table_id(&relation.table_id);
                    }
                    f
                })
                .collect(),
            ..t.clone()
        })
        .collect();
    let components = bundle
        .components
        .iter()
        .map(|c| BundleComponent {
            id: kind(&format!("{CUSTOM}{}", c.id))
                .trim_start_matches(CUSTOM)
                .to_string(),
            children: match &c.children {
                Children::Only(allowed) => Children::Only(allowed.iter().map(kind).collect()),
                other => other.clone(),
            },
            ..c.clone()
        })
        .collect();
    let pages = bundle
        .pages
        .iter()
        .map(|p| BundlePage {
            id: fresh(IdKind::Page),
            tree: remap_node(
                &p.tree,
                &library,
                &|id: &String, binding: PropType| match binding {
                    PropType::Table => table_id(id),
                    PropType::Field => fields.get(id).cloned().unwrap_or_else(|| id.clone()),
                    _ => id.clone(),
                },
                &kind,
            ),
            ..p.clone()
        })
        .collect();
    Bundle {
        format: bundle.format.clone(),
        format_version: bundle.format_version,
        project: bundle.project.clone(),
        tables,
        components,
        pages,
    }
}

fn remap_node(
    node: &Node,
    library: &[Component],
    binding: &dyn Fn(&String, PropType) -> String,
    kind: &dyn Fn(&String) -> String,
) -> Node {
    let component = library.iter().find(|c| c.kind == node.component);
    let props = node
        .props
        .iter()
        .map(|(name, value)| {
            let def = component.and_then(|c| c.prop(name));
            let value = match (def.map(|d| d.kind), value) {
                (Some(k @ (PropType::Table | PropType::Field)), Value::String(id)) => {
                    Value::String(binding(id, k))
                }
                _ => value.clone(),
            };
            (name.clone(), value)
        })
        .collect();
    Node {
        id: node.id.clone(),
        component: kind(&node.component),
        props,
        children: node
            .children
            .iter()
            .map(|c| remap_node(c, library, binding, kind))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Result<Bundle, serde_json::Error> {
        serde_json::from_value(json!({
            "format": FORMAT,
            "format_version": 1,
            "project": {"name": "Shop", "slug": "shop"},
            "tables": [
                {"id": "t1", "name": "Customers", "fields": [
                    {"id": "f1", "name": "name", "type": "text", "required": true, "unique": false,
                     "indexed": false, "default": null, "min": null, "max": null, "pattern": null,
                     "choices": null, "relation": null}
                ]},
                {"id": "t2", "name": "Orders", "fields": [
                    {"id": "f2", "name": "customer", "type": "relation", "required": false, "unique": false,
                     "indexed": false, "default": null, "min": null, "max": null, "pattern": null,
                     "choices": null, "relation": {"table_id": "t1", "many": false}}
                ]}
            ],
            "components": [
                {"id": "c1", "title": "Card", "props": [{"name": "table", "type": "table"}],
                 "children": {"kind": "only", "components": ["text", "custom:c1"]}}
            ],
            "pages": [
                {"id": "p1", "name": "Home", "path": "/", "tree": {
                    "id": "root", "component": "page", "children": [
                        {"id": "form", "component": "form", "props": {"table": "t1"}, "children": [
                            {"id": "in", "component": "input", "props": {"field": "f1"}}
                        ]},
                        {"id": "card", "component": "custom:c1", "props": {"table": "t2"}}
                    ]
                }}
            ]
        }))
    }

    #[test]
    fn a_consistent_bundle_passes_and_remaps_every_reference() -> Result<(), serde_json::Error> {
        let bundle = sample()?;
        assert_eq!(check(&bundle), Ok(()));
        let mut n = 0;
        let remapped = remap(&bundle, &mut |kind| {
            n += 1;
            format!("{kind:?}{n}").to_lowercase()
        });
        assert_eq!(check(&remapped), Ok(()));
        let text = serde_json::to_string(&remapped)?;
        for old in [
            "\"t1\"",
            "\"t2\"",
            "\"f1\"",
            "\"f2\"",
            "custom:c1",
            "\"p1\"",
        ] {
            assert!(!text.contains(old), "{old} is left in {text}");
        }
        assert_eq!(
            remapped.tables[1].fields[0]
                .relation
                .as_ref()
                .map(|r| r.table_id.as_str()),
            Some("table1")
        );
        let card = &remapped.pages[0].tree.children[1];
        assert_eq!(card.component, "custom:component5");
        assert_eq!(card.props["table"], json!("table3"));
        assert_eq!(
            remapped.pages[0].tree.children[0].children[0].props["field"],
            json!("field2")
        );
        assert_eq!(
            remapped.components[0].children,
            Children::Only(vec!["text".into(), "custom:component5".into()])
        );
        Ok(())
    }

    #[test]
    fn an_unknown_version_or_a_broken_reference_is_refused_with_its_path()
    -> Result<(), serde_json::Error> {
        let mut future = sample()?;
        future.format_version = 2;
        let errors = check(&future).err().unwrap_or_default();
        assert_eq!(errors[0].field, "bundle.format_version");

        let mut broken = sample()?;
        if let Some(r) = broken.tables[1].fields[0].relation.as_mut() {
            r.table_id = "nope".into();
        }
        broken.pages[0].tree.children[0].children[0]
            .props
            .insert("field".into(), json!("f2"));
        broken.pages[0].tree.children[1].component = "custom:gone".into();
        let paths: Vec<String> = check(&broken)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            paths,
            [
                "bundle.tables[1].fields[0].relation.table_id",
                "bundle.pages[0].tree.children[0].children[0].props.field",
                "bundle.pages[0].tree.children[1].component",
            ]
        );
        Ok(())
    }

    #[test]
    fn the_published_schema_is_standalone() {
        let schema = json_schema();
        let text = schema.to_string();
        assert!(!text.contains("#/components/"));
        for name in ["BundleTable", "Field", "Node", "PropDef"] {
            assert!(
                schema["$defs"].get(name).is_some(),
                "{name} is not in $defs"
            );
        }
    }
}
