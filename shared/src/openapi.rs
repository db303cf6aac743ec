//! The OpenAPI 3.1 document, generated from the route table, so it lists
//! exactly the routes the gateway and the template serve.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Info, OpenApi, OpenApiBuilder, Paths, Ref, Required};

use crate::VERSION;
use crate::http::problem::CONTENT_TYPE as PROBLEM;
use crate::routes::{ApiRoute, MODULES};

const BEARER: &str = "bearer";

fn method(route: &ApiRoute) -> HttpMethod {
    match route.method {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn problem_schema() -> Schema {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    Schema::Object(
        ObjectBuilder::new()
            .description(Some("RFC 9457 problem details"))
            .property("type", string())
            .property("title", string())
            .property("status", ObjectBuilder::new().schema_type(Type::Integer))
            .property("code", string())
            .property("detail", string())
            .property("request_id", string())
            .property(
                "current_version",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .description(Some("a 412's current version of the resource")),
            )
            .property(
                "errors",
                utoipa::openapi::schema::ArrayBuilder::new().items(
                    ObjectBuilder::new()
                        .property("field", string())
                        .property("message", string())
                        .property(
                            "position",
                            ObjectBuilder::new()
                                .description(Some("where in the field's text: byte offsets"))
                                .property(
                                    "start",
                                    ObjectBuilder::new()
                                        .schema_type(Type::Integer)
                                        .minimum(Some(0)),
                                )
                                .property(
                                    "end",
                                    ObjectBuilder::new()
                                        .schema_type(Type::Integer)
                                        .minimum(Some(0)),
                                )
                                .required("start")
                                .required("end"),
                        ),
                ),
            )
            .required("type")
            .required("status")
            .required("code")
            .build(),
    )
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}

/// Every status a route may answer besides success, in order.
fn statuses(route: &ApiRoute) -> Vec<u16> {
    let mut statuses = vec![400, 404, 422, 429, 500];
    if route.request.is_some() {
        statuses.push(413);
    }
    if route.access.needs_token() {
        statuses.push(401);
    }
    if route.access.scope().is_some() {
        statuses.push(403);
    }
    statuses.extend(route.refusals);
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn meaning(status: u16) -> &'static str {
    match status {
        400 => "Malformed request",
        401 => "Not signed in, or invalid credentials",
        403 => "Not allowed (the role, or an unconfirmed account)",
        404 => "Not found, or not yours",
        409 => "Conflicts with the current state (see the code)",
        412 => "Stale version: read again and retry",
        413 => "Body too large",
        422 => "Invalid input (see errors)",
        429 => "Too many requests",
        503 => "A port is down",
        _ => "Internal error",
    }
}

/// Path parameter names of a template, in order.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// The document for every route of the table.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    let mut components = ComponentsBuilder::new()
        .schema("Problem", problem_schema())
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    let mut nested = Vec::new();
    for (module, route) in MODULES
        .iter()
        .flat_map(|m| m.api.iter().map(move |r| (m.name, r)))
    {
        let mut operation = OperationBuilder::new()
            .operation_id(Some(route.function))
            .summary(Some(route.summary))
            .tag(module);
        for name in path_params(route.path) {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        for param in route.query {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(param.name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(param.description))
                    .schema(Some((param.schema)())),
            );
        }
        if let Some(body) = route.request {
            let name = (body.name)();
            components = components.schema(name.to_string(), (body.schema)());
            (body.nested)(&mut nested);
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name(name))),
                    )
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        let success = match route.response {
            Some(body) => {
                let name = (body.name)();
                components = components.schema(name.to_string(), (body.schema)());
                (body.nested)(&mut nested);
                ResponseBuilder::new()
                    .description("Success")
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name(name))),
                    )
                    .build()
            }
            None => ResponseBuilder::new().description("Success").build(),
        };
        // A degraded health report is still the report, with 503.
        if route.refusals.contains(&503) {
            operation = operation.response("503", success.clone());
        }
        operation = operation.response(route.status.to_string(), success);
        for status in statuses(route).into_iter().filter(|s| *s != 503) {
            operation = operation.response(status.to_string(), problem_response(meaning(status)));
        }
        if route.access.needs_token() {
            operation = operation.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
        }
        paths.add_path_operation(route.path, vec![method(route)], operation.build());
    }
    for (name, schema) in nested {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(Info::new("NoCode platform API", VERSION))
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// The document as JSON text.
pub fn json() -> String {
    document().to_json().unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() -> Result<(), serde_json::Error> {
        let doc: serde_json::Value = serde_json::from_str(&json())?;
        let text = doc.to_string();
        let schemas = &doc["components"]["schemas"];
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                schemas.get(name).is_some(),
                "{name} is referred to, not defined"
            );
        }
        Ok(())
    }

    /// Two types of one name would share one component, the last one
    /// winning: every name must mean one schema.
    #[test]
    fn each_component_name_is_one_schema() {
        let mut all = Vec::new();
        for route in crate::routes::api() {
            for body in [route.request, route.response].into_iter().flatten() {
                all.push(((body.name)().to_string(), (body.schema)()));
                (body.nested)(&mut all);
            }
        }
        let mut seen = std::collections::HashMap::new();
        for (name, schema) in all {
            let text = serde_json::to_string(&schema).unwrap_or_default();
            if let Some(before) = seen.insert(name.clone(), text.clone()) {
                assert!(before == text, "two schemas are named {name}");
            }
        }
    }

    #[test]
    fn every_route_is_documented_once_with_its_method() {
        let doc: serde_json::Value = serde_json::from_str(&json()).expect("json");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let route = crate::routes::api()
                    .find(|r| r.path == path && r.method.eq_ignore_ascii_case(method))
                    .unwrap_or_else(|| panic!("{method} {path} is not in the table"));
                assert_eq!(op["operationId"], route.function);
                operations += 1;
            }
        }
        assert_eq!(operations, crate::routes::api().count());
        assert!(doc["components"]["schemas"]["Health"].is_object());
        // A paged answer comes with its page's parameters.
        for route in crate::routes::api() {
            let Some(body) = route.response else { continue };
            if (body.name)().ends_with("Page") {
                let names: Vec<&str> = route.query.iter().map(|q| q.name).collect();
                assert!(
                    names.starts_with(&["limit", "next"]),
                    "{} answers a page but documents {names:?}",
                    route.function
                );
            }
        }
        assert!(doc["components"]["schemas"]["PortStatus"].is_object());
    }
}
