//! The component library: what a page may be built of. Each component
//! states its props (name, type, whether required, bounds, choices) and the
//! children it allows; the library publishes each one's props as a JSON
//! Schema, and [`super::tree`] checks a page against it. Plain values, no
//! I/O.
//!
//! Props are described in this small vocabulary rather than in arbitrary
//! JSON Schema so that a page can be checked without a schema engine and a
//! builder's custom component can say no more than a built-in one can.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What a prop holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropType {
    /// Text.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// True or false.
    Boolean,
    /// One of the prop's choices.
    Choice,
    /// A web address (`http`, `https`) or a path (`/…`).
    Url,
    /// A table of the project (its id): a binding.
    Table,
    /// A field of the node's bound table (its id): a binding.
    Field,
    /// A workflow of the project (its id): a binding, checked once
    /// workflows exist.
    Workflow,
}

impl PropType {
    /// Whether the prop binds the node to something of the project.
    pub fn is_binding(self) -> bool {
        matches!(self, PropType::Table | PropType::Field | PropType::Workflow)
    }
}

/// One prop of a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropDef {
    /// Its name in a node's `props`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub name: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub kind: PropType,
    /// Every node of the component sets it.
    #[serde(default)]
    pub required: bool,
    /// Least value (numbers) or length (text).
    #[serde(default)]
    pub min: Option<f64>,
    /// Greatest value (numbers) or length (text).
    #[serde(default)]
    pub max: Option<f64>,
    /// The values of a choice prop.
    #[serde(default)]
    pub choices: Option<Vec<String>>,
}

/// Which children a component's nodes may have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "components", rename_all = "snake_case")]
pub enum Children {
    /// None.
    None,
    /// Any component.
    Any,
    /// Only these components.
    Only(Vec<String>),
}

impl Children {
    /// Whether a child of `component` is allowed.
    pub fn allows(&self, component: &str) -> bool {
        match self {
            Children::None => false,
            Children::Any => true,
            Children::Only(kinds) => kinds.iter().any(|k| k == component),
        }
    }
}

/// A component of the library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Component {
    /// What a node names to be one: `heading`, or `custom:<id>`.
    pub kind: String,
    /// Its name for people.
    pub title: String,
    /// What it is for.
    pub description: String,
    /// Its props.
    pub props: Vec<PropDef>,
    /// The children it allows.
    pub children: Children,
}

impl Component {
    /// The prop called `name`.
    pub fn prop(&self, name: &str) -> Option<&PropDef> {
        self.props.iter().find(|p| p.name == name)
    }

    /// Its props as a JSON Schema (the library publishes it).
    pub fn props_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for prop in &self.props {
            let mut schema = match prop.kind {
                PropType::Number => json!({"type": "number"}),
                PropType::Integer => json!({"type": "integer"}),
                PropType::Boolean => json!({"type": "boolean"}),
                PropType::Choice => json!({"type": "string", "enum": prop.choices}),
                PropType::Url => json!({"type": "string", "pattern": "^(https?://|/)"}),
                PropType::Table | PropType::Field | PropType::Workflow => {
                    json!({"type": "string", "description": format!("the id of a {:?}", prop.kind).to_lowercase()})
                }
                PropType::String => json!({"type": "string"}),
            };
            let numeric = matches!(prop.kind, PropType::Number | PropType::Integer);
            let (low, high) = if numeric {
                ("minimum", "maximum")
            } else {
                ("minLength", "maxLength")
            };
            if let Some(min) = prop.min {
                schema[low] = json!(min);
            }
            if let Some(max) = prop.max {
                schema[high] = json!(max);
            }
            properties.insert(prop.name.clone(), schema);
            if prop.required {
                required.push(prop.name.clone());
            }
        }
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

/// A component as the library shows it: with its props' JSON Schema.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ComponentView {
    /// The component.
    #[serde(flatten)]
    pub component: Component,
    /// Its props as a JSON Schema.
    #[schema(value_type = Object)]
    pub props_schema: Value,
}

/// The library's answer: every component, in the editor's order.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Library {
    /// The components.
    pub items: Vec<ComponentView>,
}

/// `GET /studio/components/`: the built-in library (any signed-in user).
pub async fn list(
    _services: std::sync::Arc<crate::services::Services>,
    _request: lambda_http::Request,
) -> crate::http::HandlerResult {
    let items = builtin()
        .into_iter()
        .map(|component| ComponentView {
            props_schema: component.props_schema(),
            component,
        })
        .collect();
    crate::http::json(lambda_http::http::StatusCode::OK, &Library { items })
}

fn prop(name: &str, kind: PropType) -> PropDef {
    PropDef {
        name: name.into(),
        kind,
        required: false,
        min: None,
        max: None,
        choices: None,
    }
}

fn required(mut p: PropDef) -> PropDef {
    p.required = true;
    p
}

fn bounded(mut p: PropDef, min: f64, max: f64) -> PropDef {
    p.min = Some(min);
    p.max = Some(max);
    p
}

fn choice(name: &str, choices: &[&str]) -> PropDef {
    PropDef {
        choices: Some(choices.iter().map(|c| c.to_string()).collect()),
        ..prop(name, PropType::Choice)
    }
}

fn component(
    kind: &str,
    title: &str,
    description: &str,
    props: Vec<PropDef>,
    children: Children,
) -> Component {
    Component {
        kind: kind.into(),
        title: title.into(),
        description: description.into(),
        props,
        children,
    }
}

fn only(kinds: &[&str]) -> Children {
    Children::Only(kinds.iter().map(|k| k.to_string()).collect())
}

/// The longest text a text prop holds.
pub const MAX_TEXT_PROP: f64 = 10_000.0;

/// The built-in components, in the order the editor lists them.
pub fn builtin() -> Vec<Component> {
    use PropType::*;
    let text = |name: &str| bounded(prop(name, String), 0.0, MAX_TEXT_PROP);
    vec![
        component(
            "page",
            "Page",
            "The root of every page.",
            vec![text("title")],
            Children::Any,
        ),
        component(
            "heading",
            "Heading",
            "A title of a section.",
            vec![
                required(text("content")),
                bounded(prop("level", Integer), 1.0, 6.0),
            ],
            Children::None,
        ),
        component(
            "text",
            "Text",
            "A paragraph.",
            vec![required(text("content"))],
            Children::None,
        ),
        component(
            "image",
            "Image",
            "A picture from a web address.",
            vec![required(prop("src", Url)), text("alt")],
            Children::None,
        ),
        component(
            "button",
            "Button",
            "Runs a workflow when pressed.",
            vec![
                required(bounded(prop("label", String), 1.0, 100.0)),
                choice("variant", &["primary", "secondary", "link"]),
                prop("workflow", Workflow),
            ],
            Children::None,
        ),
        component(
            "link",
            "Link",
            "Goes to another page or site.",
            vec![
                required(bounded(prop("label", String), 1.0, 100.0)),
                required(prop("href", Url)),
            ],
            Children::None,
        ),
        component(
            "container",
            "Container",
            "Groups what it holds.",
            vec![bounded(prop("padding", Integer), 0.0, 64.0)],
            Children::Any,
        ),
        component(
            "row",
            "Row",
            "Columns side by side.",
            vec![bounded(prop("gap", Integer), 0.0, 64.0)],
            only(&["column"]),
        ),
        component(
            "column",
            "Column",
            "One column of a row.",
            vec![bounded(prop("span", Integer), 1.0, 12.0)],
            Children::Any,
        ),
        component(
            "form",
            "Form",
            "Creates or edits a record of its table.",
            vec![required(prop("table", Table)), prop("workflow", Workflow)],
            only(&[
                "input",
                "button",
                "text",
                "heading",
                "row",
                "column",
                "container",
            ]),
        ),
        component(
            "input",
            "Input",
            "Edits one field of its form's table.",
            vec![
                required(prop("field", Field)),
                bounded(prop("label", String), 0.0, 100.0),
                bounded(prop("placeholder", String), 0.0, 100.0),
            ],
            Children::None,
        ),
        component(
            "table",
            "Table",
            "Shows a table's records in rows.",
            vec![
                required(prop("table", Table)),
                bounded(prop("page_size", Integer), 1.0, 100.0),
            ],
            Children::None,
        ),
        component(
            "list",
            "List",
            "Repeats what it holds for each record.",
            vec![required(prop("table", Table))],
            Children::Any,
        ),
        component(
            "field_value",
            "Field value",
            "One field of the record around it.",
            vec![required(prop("field", Field))],
            Children::None,
        ),
        component(
            "chart",
            "Chart",
            "Plots a table's records.",
            vec![
                required(prop("table", Table)),
                required(prop("x", Field)),
                prop("y", Field),
                choice("kind", &["bar", "line", "pie"]),
            ],
            Children::None,
        ),
        component(
            "divider",
            "Divider",
            "A line between parts.",
            vec![],
            Children::None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_names_each_component_once_and_children_exist() {
        let library = builtin();
        let kinds: Vec<&str> = library.iter().map(|c| c.kind.as_str()).collect();
        let mut unique = kinds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), kinds.len());
        for c in &library {
            if let Children::Only(allowed) = &c.children {
                for child in allowed {
                    assert!(
                        kinds.contains(&child.as_str()),
                        "{} allows unknown {child}",
                        c.kind
                    );
                }
            }
        }
    }

    #[test]
    fn props_publish_as_a_json_schema() -> Result<(), &'static str> {
        let heading = builtin()
            .into_iter()
            .find(|c| c.kind == "heading")
            .ok_or("no heading")?;
        let schema = heading.props_schema();
        assert_eq!(schema["required"], json!(["content"]));
        assert_eq!(schema["properties"]["level"]["maximum"], json!(6.0));
        assert_eq!(schema["additionalProperties"], json!(false));
        Ok(())
    }
}
