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

use crate::http::FieldError;

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

/// The closed schema of [`Children`], as serde reads it (utoipa leaves an
/// adjacently tagged enum's variants open and `only`'s list unbounded).
pub fn children_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    children_schemas(false)
}

/// [`children_schema`], or `null`.
pub fn children_or_null() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    children_schemas(true)
}

fn children_schemas(nullable: bool) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let mut variants = vec![
        json!({
            "type": "object",
            "properties": {"kind": {"type": "string", "enum": ["none", "any"]}},
            "required": ["kind"],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": ["only"]},
                "components": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_ALLOWED,
                    "items": {"type": "string", "pattern": "^[A-Za-z0-9_:]{1,100}$"},
                },
            },
            "required": ["kind", "components"],
            "additionalProperties": false,
        }),
    ];
    if nullable {
        variants.push(json!({"type": "null"}));
    }
    serde_json::from_value(json!({
        "oneOf": variants,
        "description": "The children a component allows: none, any, or only the components listed",
    }))
    .unwrap_or_else(|_| utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::default()))
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
    #[schema(schema_with = children_schema)]
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
/// Most props a custom component states.
pub const MAX_PROPS: usize = 50;
/// Most choices a choice prop offers.
pub const MAX_CHOICES: usize = 100;
/// Most components a custom component's children may be chosen from.
pub const MAX_ALLOWED: usize = 50;
/// The prefix of a custom component's kind: `custom:<id>`.
pub const CUSTOM: &str = "custom:";

fn prop_name_ok(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn kind_ok(kind: &str) -> bool {
    // As `children_schema`'s pattern says.
    !kind.is_empty()
        && kind.len() <= 100
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Checks the props a builder states for a custom component: names unique
/// and well formed, choices only (and always) on a choice prop, bounds only
/// on text and numbers and in order, at most one table binding (the one a
/// node's field bindings resolve against). Each refusal names its path.
pub fn check_props(props: &[PropDef], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if props.len() > MAX_PROPS {
        errors.push(FieldError::new(path, format!("are at most {MAX_PROPS}")));
        return errors;
    }
    let mut names = std::collections::HashSet::new();
    for (i, prop) in props.iter().enumerate() {
        let at = |what: &str| format!("{path}[{i}].{what}");
        if !prop_name_ok(&prop.name) {
            errors.push(FieldError::new(
                at("name"),
                "is a lower-case letter, then letters, digits or _, at most 64",
            ));
        } else if !names.insert(prop.name.as_str()) {
            errors.push(FieldError::new(at("name"), "is the name of another prop"));
        }
        match (&prop.choices, prop.kind) {
            (None, PropType::Choice) => {
                errors.push(FieldError::new(at("choices"), "are required on a choice"))
            }
            (Some(choices), PropType::Choice) => {
                let distinct: std::collections::HashSet<&String> = choices.iter().collect();
                let ok = !choices.is_empty()
                    && choices.len() <= MAX_CHOICES
                    && distinct.len() == choices.len()
                    && choices
                        .iter()
                        .all(|c| !c.is_empty() && c.chars().count() <= 100);
                if !ok {
                    errors.push(FieldError::new(
                        at("choices"),
                        format!("are 1 to {MAX_CHOICES} distinct texts of 1 to 100 characters"),
                    ));
                }
            }
            (Some(_), _) => errors.push(FieldError::new(at("choices"), "are only for a choice")),
            (None, _) => {}
        }
        let bounded = matches!(
            prop.kind,
            PropType::String | PropType::Number | PropType::Integer
        );
        for (bound, value) in [("min", prop.min), ("max", prop.max)] {
            let Some(value) = value else { continue };
            if !bounded {
                errors.push(FieldError::new(at(bound), "is only for text and numbers"));
            } else if prop.kind == PropType::String && !(0.0..=MAX_TEXT_PROP).contains(&value) {
                errors.push(FieldError::new(
                    at(bound),
                    format!("is a length from 0 to {MAX_TEXT_PROP}"),
                ));
            } else if !value.is_finite() {
                errors.push(FieldError::new(at(bound), "is a finite number"));
            }
        }
        if let (Some(min), Some(max)) = (prop.min, prop.max)
            && min > max
        {
            errors.push(FieldError::new(at("max"), "is at least min"));
        }
    }
    if props.iter().filter(|p| p.kind == PropType::Table).count() > 1 {
        errors.push(FieldError::new(path, "bind at most one table"));
    }
    errors
}

/// Checks a custom component's children rule: the kinds it names are
/// well formed (whether they exist is checked where a page uses them).
pub fn check_children(children: &Children, path: &str) -> Vec<FieldError> {
    let Children::Only(kinds) = children else {
        return Vec::new();
    };
    if kinds.is_empty() || kinds.len() > MAX_ALLOWED || !kinds.iter().all(|k| kind_ok(k)) {
        return vec![FieldError::new(
            format!("{path}.components"),
            format!("are 1 to {MAX_ALLOWED} component kinds"),
        )];
    }
    Vec::new()
}

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
    fn the_built_in_props_pass_the_custom_check() {
        for c in builtin() {
            assert_eq!(check_props(&c.props, "props"), vec![], "{}", c.kind);
            assert_eq!(
                check_children(&c.children, "children"),
                vec![],
                "{}",
                c.kind
            );
        }
    }

    #[test]
    fn custom_props_are_refused_with_their_path() {
        let mut bad_choice = prop("size", PropType::Choice);
        bad_choice.choices = Some(vec!["s".into(), "s".into()]);
        let props = vec![
            prop("Title", PropType::String),
            bounded(prop("count", PropType::Integer), 5.0, 1.0),
            bad_choice,
            bounded(prop("on", PropType::Boolean), 0.0, 1.0),
            prop("count", PropType::Table),
            prop("other", PropType::Table),
        ];
        let paths: Vec<String> = check_props(&props, "props")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            paths,
            [
                "props[0].name",
                "props[1].max",
                "props[2].choices",
                "props[3].min",
                "props[3].max",
                "props[4].name",
                "props",
            ]
        );
        assert_eq!(check_children(&Children::Only(vec![]), "children").len(), 1);
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
