//! A page's tree and its check: every node a known component, its props
//! those the component states with values of their type, its children ones
//! the component allows, and its bindings to tables and fields of the
//! project. A refusal names the JSON path of the node at fault
//! (`tree.children[2].props.label`). Plain values, no I/O.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::components::{Component, PropDef, PropType};
use crate::http::FieldError;

/// Deepest a tree goes.
pub const MAX_DEPTH: usize = 32;
/// Most nodes a page holds.
pub const MAX_NODES: usize = 2000;
/// Longest node id.
pub const MAX_NODE_ID: usize = 64;

/// One node of a page: an instance of a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique in the page: letters, digits, `_` and `-`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub id: String,
    /// The component it is (`heading`, `custom:<id>` …).
    pub component: String,
    /// Its props, as the component states them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub props: Map<String, Value>,
    /// The nodes it holds, in order.
    #[serde(default)]
    #[schema(no_recursion)]
    pub children: Vec<Node>,
}

/// What a tree is checked against: the components it may use and the
/// project's tables with their fields' ids.
pub struct Context<'a> {
    /// The built-in and the project's own components.
    pub components: &'a [Component],
    /// Table id → its field ids.
    pub tables: &'a HashMap<String, HashSet<String>>,
}

fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_NODE_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn url_ok(text: &str) -> bool {
    text.starts_with('/')
        || url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

struct Checker<'a> {
    context: &'a Context<'a>,
    ids: HashSet<String>,
    nodes: usize,
    errors: Vec<FieldError>,
}

impl Checker<'_> {
    fn fail(&mut self, path: String, why: impl Into<String>) {
        self.errors.push(FieldError::new(path, why));
    }

    fn value(&mut self, path: String, def: &PropDef, value: &Value, table: Option<&str>) {
        let in_range = |n: f64| def.min.is_none_or(|m| n >= m) && def.max.is_none_or(|m| n <= m);
        let ok = match (def.kind, value) {
            (PropType::String, Value::String(s)) => in_range(s.chars().count() as f64),
            (PropType::Number, Value::Number(n)) => n.as_f64().is_some_and(in_range),
            (PropType::Integer, Value::Number(n)) => n.as_i64().is_some_and(|n| in_range(n as f64)),
            (PropType::Boolean, Value::Bool(_)) => true,
            (PropType::Choice, Value::String(s)) => {
                def.choices.as_deref().unwrap_or_default().contains(s)
            }
            (PropType::Url, Value::String(s)) => url_ok(s),
            (PropType::Table, Value::String(id)) => {
                if !self.context.tables.contains_key(id) {
                    return self.fail(path, "is no table of this project");
                }
                true
            }
            (PropType::Field, Value::String(id)) => {
                let Some(table) = table else {
                    return self.fail(path, "binds a field, but no table is bound around it");
                };
                let known = self
                    .context
                    .tables
                    .get(table)
                    .is_some_and(|f| f.contains(id));
                if !known {
                    return self.fail(path, "is no field of the table bound around it");
                }
                true
            }
            (PropType::Workflow, Value::String(id)) => !id.is_empty(),
            _ => false,
        };
        if !ok {
            self.fail(
                path,
                format!("is not a valid {:?} for this prop", def.kind).to_lowercase(),
            );
        }
    }

    fn node(&mut self, node: &Node, path: &str, depth: usize, table: Option<&str>) {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            if self.nodes == MAX_NODES + 1 {
                self.fail(
                    path.into(),
                    format!("a page holds at most {MAX_NODES} nodes"),
                );
            }
            return;
        }
        if depth > MAX_DEPTH {
            return self.fail(
                path.into(),
                format!("a page is at most {MAX_DEPTH} levels deep"),
            );
        }
        if !id_ok(&node.id) {
            self.fail(format!("{path}.id"), "is 1 to 64 letters, digits, _ or -");
        } else if !self.ids.insert(node.id.clone()) {
            self.fail(format!("{path}.id"), "is the id of another node");
        }
        let Some(component) = self
            .context
            .components
            .iter()
            .find(|c| c.kind == node.component)
        else {
            return self.fail(
                format!("{path}.component"),
                "is no component of this project",
            );
        };
        // A node's own table binding, else the one around it.
        let own = component
            .props
            .iter()
            .find(|p| p.kind == PropType::Table)
            .and_then(|p| node.props.get(&p.name))
            .and_then(Value::as_str)
            .filter(|id| self.context.tables.contains_key(*id));
        let table = own.or(table);
        for (name, value) in &node.props {
            let at = format!("{path}.props.{name}");
            match component.prop(name) {
                None => self.fail(at, "is no prop of this component"),
                Some(def) => self.value(at, def, value, table),
            }
        }
        for def in component.props.iter().filter(|p| p.required) {
            if !node.props.contains_key(&def.name) {
                self.fail(format!("{path}.props.{}", def.name), "is required");
            }
        }
        for (i, child) in node.children.iter().enumerate() {
            let at = format!("{path}.children[{i}]");
            if !component.children.allows(&child.component) {
                self.fail(
                    format!("{at}.component"),
                    format!("a {} holds no {}", component.kind, child.component),
                );
            }
            self.node(child, &at, depth + 1, table);
        }
    }
}

/// Checks a page's tree; the root is a `page`.
pub fn check(root: &Node, context: &Context<'_>) -> Result<(), Vec<FieldError>> {
    let mut checker = Checker {
        context,
        ids: HashSet::new(),
        nodes: 0,
        errors: Vec::new(),
    };
    if root.component != "page" {
        checker.fail("tree.component".into(), "the root of a page is a `page`");
    }
    checker.node(root, "tree", 1, None);
    if checker.errors.is_empty() {
        Ok(())
    } else {
        Err(checker.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::super::components::{Children, builtin};
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn tables() -> HashMap<String, HashSet<String>> {
        HashMap::from([(
            "t1".to_string(),
            HashSet::from(["f1".to_string(), "f2".to_string()]),
        )])
    }

    /// A small deterministic generator, so proptest shrinks seeds.
    struct Dice(u64);

    impl Dice {
        fn roll(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn valid_value(def: &PropDef) -> Value {
        match def.kind {
            PropType::String => json!("hello"),
            PropType::Number => json!(def.min.unwrap_or(0.0)),
            PropType::Integer => json!(def.min.unwrap_or(1.0) as i64),
            PropType::Boolean => json!(true),
            PropType::Choice => json!(def.choices.as_ref().and_then(|c| c.first())),
            PropType::Url => json!("https://example.com/a.png"),
            PropType::Table => json!("t1"),
            PropType::Field => json!("f1"),
            PropType::Workflow => json!("wf1"),
        }
    }

    /// A valid tree: every node's required props set, a table bound at
    /// the top so field bindings always have one around them.
    fn valid_tree(dice: &mut Dice, library: &[Component]) -> Option<Node> {
        let mut next_id = 0;
        fn grow(
            kind: &Component,
            dice: &mut Dice,
            library: &[Component],
            depth: usize,
            next_id: &mut usize,
            bound: bool,
        ) -> Node {
            let binds = |c: &Component, kind: PropType| c.props.iter().any(|p| p.kind == kind);
            let bound = bound || binds(kind, PropType::Table);
            *next_id += 1;
            let id = format!("n{next_id}");
            let mut props = Map::new();
            for def in &kind.props {
                if def.required || dice.roll(2) == 0 {
                    props.insert(def.name.clone(), valid_value(def));
                }
            }
            let mut children = Vec::new();
            if depth < 5 && kind.children != Children::None {
                for _ in 0..dice.roll(4) {
                    // A field binding needs a table bound around it.
                    let allowed: Vec<&Component> = library
                        .iter()
                        .filter(|c| c.kind != "page" && kind.children.allows(&c.kind))
                        .filter(|c| {
                            bound || !binds(c, PropType::Field) || binds(c, PropType::Table)
                        })
                        .collect();
                    let child = allowed[dice.roll(allowed.len())];
                    children.push(grow(child, dice, library, depth + 1, next_id, bound));
                }
            }
            Node {
                id,
                component: kind.kind.clone(),
                props,
                children,
            }
        }
        let list = library.iter().find(|c| c.kind == "list")?;
        let page = library.iter().find(|c| c.kind == "page")?;
        let mut root = grow(page, dice, library, 1, &mut next_id, false);
        root.children
            .insert(0, grow(list, dice, library, 2, &mut next_id, false));
        Some(root)
    }

    /// Every node with its path, in preorder.
    fn nodes<'a>(node: &'a Node, path: String, out: &mut Vec<(String, &'a Node)>) {
        out.push((path.clone(), node));
        for (i, child) in node.children.iter().enumerate() {
            nodes(child, format!("{path}.children[{i}]"), out);
        }
    }

    fn node_at<'a>(root: &'a mut Node, path: &str) -> Option<&'a mut Node> {
        let mut node = root;
        for part in path.split(".children[").skip(1) {
            let i: usize = part.trim_end_matches(']').parse().ok()?;
            node = node.children.get_mut(i)?;
        }
        Some(node)
    }

    fn missing(what: &str) -> TestCaseError {
        TestCaseError::fail(format!("no {what}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn a_valid_tree_is_accepted(seed in 1u64..u64::MAX) {
            let library = builtin();
            let tables = tables();
            let context = Context { components: &library, tables: &tables };
            let tree = valid_tree(&mut Dice(seed), &library).ok_or_else(|| missing("tree"))?;
            prop_assert_eq!(check(&tree, &context), Ok(()));
        }

        #[test]
        fn one_breaking_change_is_refused_at_its_path(seed in 1u64..u64::MAX, pick in 0usize..1000, how in 0usize..5) {
            let library = builtin();
            let tables = tables();
            let context = Context { components: &library, tables: &tables };
            let mut dice = Dice(seed);
            let mut tree = valid_tree(&mut dice, &library).ok_or_else(|| missing("tree"))?;
            let mut all = Vec::new();
            nodes(&tree, "tree".into(), &mut all);
            let (path, _) = all[pick % all.len()].clone();
            let path = path.to_string();
            let target = node_at(&mut tree, &path).ok_or_else(|| missing("node"))?;
            let component = library
                .iter()
                .find(|c| c.kind == target.component)
                .ok_or_else(|| missing("component"))?
                .clone();
            let expected = match how {
                0 if path != "tree" => {
                    target.component = "no_such_component".into();
                    format!("{path}.component")
                }
                1 if component.props.iter().any(|p| p.required) => {
                    let name = component
                        .props
                        .iter()
                        .find(|p| p.required)
                        .map(|p| p.name.clone())
                        .unwrap_or_default();
                    target.props.remove(&name);
                    format!("{path}.props.{name}")
                }
                2 if !component.props.is_empty() => {
                    let name = component.props[0].name.clone();
                    target.props.insert(name.clone(), json!({"not": "a prop value"}));
                    format!("{path}.props.{name}")
                }
                3 => {
                    target.props.insert("unknown_prop".into(), json!(1));
                    format!("{path}.props.unknown_prop")
                }
                _ => {
                    target.id = "bad id!".into();
                    format!("{path}.id")
                }
            };
            let errors = check(&tree, &context).err().unwrap_or_default();
            prop_assert!(
                errors.iter().any(|e| e.field == expected),
                "expected {} among {:?}", expected, errors
            );
        }
    }

    #[test]
    fn bindings_point_at_the_projects_tables_and_their_fields() -> serde_json::Result<()> {
        let library = builtin();
        let tables = tables();
        let context = Context {
            components: &library,
            tables: &tables,
        };
        let tree: Node = serde_json::from_value(json!({
            "id": "root", "component": "page", "children": [
                {"id": "f", "component": "form", "props": {"table": "t9"}, "children": [
                    {"id": "i", "component": "input", "props": {"field": "f1"}}
                ]},
                {"id": "v", "component": "field_value", "props": {"field": "f1"}},
                {"id": "r", "component": "row", "children": [
                    {"id": "x", "component": "text", "props": {"content": "no"}}
                ]},
                {"id": "r", "component": "divider"}
            ]
        }))?;
        let fields: Vec<String> = check(&tree, &context)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "tree.children[0].props.table",
                "tree.children[0].children[0].props.field",
                "tree.children[1].props.field",
                "tree.children[2].children[0].component",
                "tree.children[3].id",
            ]
        );
        Ok(())
    }
}
