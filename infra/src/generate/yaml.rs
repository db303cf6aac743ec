//! Building CloudFormation YAML in order: [`map!`] and [`seq!`] build
//! `serde_yaml_ng` values whose keys keep the order they are written in, and
//! the intrinsic helpers write the long forms (`Ref:`, `Fn::GetAtt:`,
//! `Fn::Sub:`), which any YAML parser reads without CloudFormation's tags.

pub use serde_yaml_ng::{Mapping, Value};

/// A mapping, keys in the order written: `map! { "Type" => "AWS::SQS::Queue" }`.
macro_rules! map {
    ($($key:expr => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut mapping = $crate::generate::yaml::Mapping::new();
        $(mapping.insert($crate::generate::yaml::Value::from($key), $crate::generate::yaml::Value::from($value));)*
        $crate::generate::yaml::Value::Mapping(mapping)
    }};
}
pub(crate) use map;

/// A sequence: `seq!["a", "b"]`.
macro_rules! seq {
    ($($item:expr),* $(,)?) => {
        $crate::generate::yaml::Value::Sequence(vec![$($crate::generate::yaml::Value::from($item)),*])
    };
}
pub(crate) use seq;

/// `Ref: <name>`.
pub fn r#ref(name: &str) -> Value {
    map! { "Ref" => name }
}

/// `Fn::GetAtt: [<resource>, <attribute>]`.
pub fn get_att(resource: &str, attribute: &str) -> Value {
    map! { "Fn::GetAtt" => seq![resource, attribute] }
}

/// `Fn::Sub: <text>`.
pub fn sub(text: impl Into<String>) -> Value {
    map! { "Fn::Sub" => text.into() }
}

/// Adds `key: value` to a mapping value (a no-op on anything else).
pub fn insert(target: &mut Value, key: &str, value: Value) {
    if let Value::Mapping(mapping) = target {
        mapping.insert(Value::from(key), value);
    }
}

/// `insights-ingest` → `InsightsIngest`: how logical names become logical ids.
pub fn camel(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The YAML text of a document, after its header comment.
pub fn document(header: &str, value: &Value) -> String {
    let body = serde_yaml_ng::to_string(value).unwrap_or_default();
    let mut text = String::new();
    for line in header.lines() {
        text.push_str(if line.is_empty() { "#" } else { "# " });
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&body);
    text
}
