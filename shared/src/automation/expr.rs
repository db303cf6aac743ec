//! Workflow expressions and templates, in a sandboxed language with no I/O.
//!
//! The language is Jinja's expression language, through `minijinja`:
//! `{{ trigger.record.email }}`, `{{ steps.fetch.body.items[0].id }}`,
//! `{{ vars.total * 1.2 | round(2) }}`, `{{ "a" ~ "b" }}`, comparisons,
//! `and`/`or`/`not`, filters (`lower`, `length`, `default`, `tojson` …).
//! docs/expressions.md describes it. It has no I/O (no loader, no
//! includes), its work is bounded by fuel and its results by size, and
//! a name that is not there is an error when printed or looked into (but
//! false when tested), so a typo fails the step instead of sending "".
//!
//! A step's configuration is JSON in which any string may hold templates.
//! A string that is one `{{ … }}` and nothing else gives the expression's
//! own value (a number stays a number, an object an object); any other
//! string with `{{` renders as text.
//!
//! The names a workflow's expressions may use: `trigger` (what started the
//! execution), `steps.<id>` (a step's output), `vars` (what `set_variable`
//! steps set), `execution` (`id`, `started_at`), `workflow` (`id`,
//! `name`), and in an event trigger's condition `event`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// Work one evaluation may do (roughly instructions; about 64 bytes of
/// memory each).
const FUEL: u64 = 100_000;
/// The largest value or text an evaluation may give, as JSON.
pub const MAX_RESULT: usize = 1024 * 1024;
/// The longest expression or template text.
pub const MAX_SOURCE: usize = 10_000;

/// The names expressions of a step may start with.
pub const STEP_ROOTS: &[&str] = &["trigger", "steps", "vars", "execution", "workflow"];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(50);
        env
    })
}

/// The expression a text holds: the inside of a text that is one
/// `{{ … }}`, or the text itself.
fn expression_of(text: &str) -> &str {
    let trimmed = text.trim();
    match trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
    {
        Some(inner) if !inner.contains("{{") && !inner.contains("}}") => inner.trim(),
        _ => trimmed,
    }
}

/// Whether a text is one `{{ … }}` and nothing else.
fn is_single(text: &str) -> bool {
    let trimmed = text.trim();
    trimmed.starts_with("{{")
        && trimmed.ends_with("}}")
        && trimmed[2..trimmed.len() - 2].find("{{").is_none()
        && trimmed[2..trimmed.len() - 2].find("}}").is_none()
}

/// A name an expression reads: its root (`steps`) and the next segment
/// (`fetch` of `steps.fetch.body`), if any.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// The first name.
    pub root: String,
    /// The name after it, when the expression looks one up.
    pub member: Option<String>,
}

fn references(names: impl IntoIterator<Item = String>) -> BTreeSet<Reference> {
    names
        .into_iter()
        .map(|name| {
            let mut parts = name.split('.');
            Reference {
                root: parts.next().unwrap_or_default().to_string(),
                member: parts.next().map(str::to_string),
            }
        })
        .collect()
}

/// Checks an expression (bare, or in one `{{ … }}`): the names it reads,
/// or why it does not compile.
pub fn check_expression(text: &str) -> Result<BTreeSet<Reference>, String> {
    if text.len() > MAX_SOURCE {
        return Err(format!("is longer than {MAX_SOURCE} bytes"));
    }
    let expr = env().compile_expression(expression_of(text)).map_err(|e| {
        format!(
            "is not an expression: {}",
            e.detail().unwrap_or("syntax error")
        )
    })?;
    Ok(references(expr.undeclared_variables(true)))
}

/// Checks a template text: the names it reads, or why it does not compile.
pub fn check_template(text: &str) -> Result<BTreeSet<Reference>, String> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(BTreeSet::new());
    }
    if is_single(text) {
        return check_expression(text);
    }
    if text.len() > MAX_SOURCE {
        return Err(format!("is longer than {MAX_SOURCE} bytes"));
    }
    let template = env().template_from_str(text).map_err(|e| {
        format!(
            "is not a template: {}",
            e.detail().unwrap_or("syntax error")
        )
    })?;
    Ok(references(template.undeclared_variables(true)))
}

/// Checks every template in a JSON value; each refusal names its path
/// under `path`. Gives the names they read, with the path of each.
pub fn check_value(
    value: &Value,
    path: &str,
    errors: &mut Vec<crate::http::FieldError>,
) -> Vec<(String, Reference)> {
    let mut found = Vec::new();
    walk(value, path, &mut |text, at| match check_template(text) {
        Ok(refs) => found.extend(refs.into_iter().map(|r| (at.to_string(), r))),
        Err(why) => errors.push(crate::http::FieldError::new(at, why)),
    });
    found
}

fn walk(value: &Value, path: &str, visit: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::String(text) => visit(text, path),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), visit);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                walk(item, &format!("{path}.{key}"), visit);
            }
        }
        _ => {}
    }
}

fn to_json(value: &minijinja::Value) -> Result<Value, String> {
    if value.is_undefined() {
        return Ok(Value::Null);
    }
    let json = serde_json::to_value(value).map_err(|e| format!("gives no JSON value: {e}"))?;
    if serde_json::to_vec(&json).map_or(0, |b| b.len()) > MAX_RESULT {
        return Err(format!("gives more than {MAX_RESULT} bytes"));
    }
    Ok(json)
}

fn failed(error: minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

/// Evaluates an expression (bare, or in one `{{ … }}`) over `context`.
pub fn eval(text: &str, context: &Value) -> Result<Value, String> {
    let expr = env()
        .compile_expression(expression_of(text))
        .map_err(failed)?;
    let value = expr
        .eval(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(failed)?;
    to_json(&value)
}

/// Whether an expression holds over `context` (Jinja's truth: false,
/// none, 0, "" and empty lists and objects are false; so is a name that
/// is not there).
pub fn holds(text: &str, context: &Value) -> Result<bool, String> {
    let expr = env()
        .compile_expression(expression_of(text))
        .map_err(failed)?;
    let value = expr
        .eval(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(failed)?;
    Ok(value.is_true())
}

/// Renders a text: the value of a single `{{ … }}`, else the text with
/// its templates rendered.
pub fn render_text(text: &str, context: &Value) -> Result<Value, String> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(Value::String(text.to_string()));
    }
    if is_single(text) {
        return eval(text, context);
    }
    let template = env().template_from_str(text).map_err(failed)?;
    let rendered = template
        .render(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(failed)?;
    if rendered.len() > MAX_RESULT {
        return Err(format!("gives more than {MAX_RESULT} bytes"));
    }
    Ok(Value::String(rendered))
}

/// Renders every template of a JSON value over `context`; an error names
/// the path of the template that failed.
pub fn render(value: &Value, context: &Value) -> Result<Value, String> {
    render_at(value, context, "")
}

fn render_at(value: &Value, context: &Value, path: &str) -> Result<Value, String> {
    let at = |why: String| {
        if path.is_empty() {
            why
        } else {
            format!("{path}: {why}")
        }
    };
    Ok(match value {
        Value::String(text) => render_text(text, context).map_err(at)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| render_at(v, context, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let inner = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    Ok((k.clone(), render_at(v, context, &inner)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A rendered value as text (a string as it is; anything else as JSON).
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Value {
        json!({
            "trigger": {"record": {"email": "ada@example.com", "total": 12}},
            "steps": {"fetch": {"status": 200, "body": {"items": [{"id": "i1"}]}}},
            "vars": {"n": 7}
        })
    }

    #[test]
    fn a_single_expression_keeps_its_type_and_text_renders() {
        let c = context();
        assert_eq!(render_text("{{ trigger.record.total }}", &c), Ok(json!(12)));
        assert_eq!(
            render_text("{{ steps.fetch.body.items[0].id }}", &c),
            Ok(json!("i1"))
        );
        assert_eq!(
            render_text("Hi {{ trigger.record.email }}!", &c),
            Ok(json!("Hi ada@example.com!"))
        );
        assert_eq!(render_text("plain", &c), Ok(json!("plain")));
        assert_eq!(
            render(&json!({"a": ["{{ vars.n * 2 }}", 1]}), &c),
            Ok(json!({"a": [14, 1]}))
        );
        assert_eq!(holds("{{ vars.n > 5 }}", &c), Ok(true));
        assert_eq!(holds("vars.missing", &c), Ok(false));
    }

    #[test]
    fn a_missing_name_fails_where_it_is_used() {
        let c = context();
        assert!(render_text("{{ trigger.nope.deeper }}", &c).is_err());
        let error = render(&json!({"to": "{{ trigger.nope.x }}"}), &c).unwrap_err();
        assert!(error.starts_with("to:"), "{error}");
    }

    #[test]
    fn references_name_the_steps_read() -> Result<(), String> {
        let refs = check_template("{{ steps.fetch.body.id }} and {{ vars.x }}")?;
        assert!(refs.contains(&Reference {
            root: "steps".into(),
            member: Some("fetch".into())
        }));
        assert!(refs.iter().any(|r| r.root == "vars"));
        assert!(check_expression("{{ a + }}").is_err());
        assert!(check_template("{{ unclosed").is_err());
        Ok(())
    }

    #[test]
    fn work_and_size_are_bounded() {
        let c = context();
        // A loop that would run for ever runs out of fuel.
        let endless = "{% for i in range(100000000) %}{{ i }}{% endfor %}";
        assert!(render_text(endless, &c).is_err());
        // A value too large to keep is refused.
        assert!(eval("'x' * 2000000", &c).is_err());
    }
}
