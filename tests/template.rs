//! The SAM templates, held to the code. `template.yaml`, the nested stacks
//! of `infra/stacks/` and the `functions/` binaries are generated from the
//! route table (`cargo run -- generate`): the first test fails when a
//! committed file differs from the generator's output, the rest check that
//! the output is *this platform's* stack, and SAM's own translator proves
//! every stack stays below CloudFormation's resource limit, for today's
//! table and for a table of 200 routes. cfn-lint (run by `infra/test`)
//! checks every stack is valid CloudFormation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;

use nocode::generate::stacks::{API_5XX_RATE_PERCENT, STACKS_DIR, function_id, latency_alarm_id};
use nocode::generate::yaml::camel;
use nocode::generate::{self, File};
use serde_yaml_ng::Value;
use shared::http::HandlerResult;
use shared::insights::metric_names::{
    DIMENSION_MODULE, ERRORS, LATENCY, METRICS_NAMESPACE, REQUESTS,
};
use shared::resources::{BUCKETS, PASSWORD_POLICY, QUEUES, RULES, dead_letter_name};
use shared::routes::{
    Access, ApiRoute, BoxFuture, Handler, MODULES, Module, Trigger, WorkerRoute, api, workers,
};
use shared::services::{Port, Services};
use shared::tenancy::Role;

/// CloudFormation refuses 500; the tests keep a margin.
const MAX_RESOURCES: usize = 400;

static FILES: LazyLock<Vec<File>> = LazyLock::new(|| generate::files(MODULES));

/// Every stack as YAML: the root first.
static STACKS: LazyLock<Vec<(String, Value)>> = LazyLock::new(|| {
    FILES
        .iter()
        .filter(|f| f.path.ends_with(".yaml"))
        .map(|f| {
            let value = serde_yaml_ng::from_str(&f.text).expect("plain YAML");
            (f.path.clone(), value)
        })
        .collect()
});

fn root() -> &'static Value {
    &STACKS[0].1
}

/// A resource of any stack, with the stack's path.
fn find(id: &str) -> Option<(&'static str, &'static Value)> {
    STACKS.iter().find_map(|(path, stack)| {
        let resource = &stack["Resources"][id];
        (!resource.is_null()).then_some((path.as_str(), resource))
    })
}

fn resource(id: &str) -> &'static Value {
    find(id)
        .unwrap_or_else(|| panic!("no stack has a resource `{id}`"))
        .1
}

fn props(id: &str) -> &'static Value {
    &resource(id)["Properties"]
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// ------------------------------------------------------------- generated

#[test]
fn the_committed_templates_and_binaries_are_the_generated_ones() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let differences = generate::differences(root, MODULES);
    assert!(
        differences.is_empty(),
        "run `cargo run -- generate`: {differences:?}"
    );
}

#[test]
fn every_function_of_the_table_is_a_binary_and_nothing_else_is() {
    let manifest: toml::Table = FILES
        .iter()
        .find(|f| f.path == "functions/Cargo.toml")
        .map(|f| toml::from_str(&f.text).expect("a manifest"))
        .expect("the manifest");
    let bins: BTreeSet<String> = manifest["bin"]
        .as_array()
        .expect("bins")
        .iter()
        .map(|b| b["name"].as_str().expect("a name").to_string())
        .collect();
    let table: BTreeSet<String> = api()
        .map(|r| r.function.to_string())
        .chain(workers().map(|w| w.function.to_string()))
        .collect();
    assert_eq!(bins, table);
    for name in &bins {
        let body = FILES
            .iter()
            .find(|f| f.path == format!("functions/src/bin/{name}.rs"))
            .expect("its source");
        // The binary's name is its route: the body names none.
        assert!(body.text.ends_with("shared::function_main!();\n"), "{name}");
    }
}

// ---------------------------------------------------------------- scale

/// Runs SAM's translator (in the test venv that infra/test sets up) over
/// templates and gives each one's resource count after the transform.
fn translated(paths: &[&Path]) -> BTreeMap<String, usize> {
    let python = std::env::var("NOCODE_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("NOCODE_TEST_PYTHON is not set: run the suite with infra/test");
    let script = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/sam-translate"
    ));
    let output = Command::new(python)
        .arg(script)
        .args(paths)
        .output()
        .expect("run the SAM translator");
    assert!(
        output.status.success(),
        "the SAM translator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("counts as JSON")
}

fn written(dir: &Path, files: &[File]) -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    for file in files.iter().filter(|f| f.path.ends_with(".yaml")) {
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
        std::fs::write(&path, &file.text).expect("write");
        paths.push(path);
    }
    paths
}

fn assert_within_limit(counts: &BTreeMap<String, usize>, stacks: usize) {
    assert_eq!(counts.len(), stacks, "{counts:?}");
    for (stack, count) in counts {
        assert!(
            *count <= MAX_RESOURCES,
            "{stack}: {count} resources after SAM's transform"
        );
    }
}

#[test]
fn every_stack_expands_to_at_most_400_resources() {
    let dir = tempfile::tempdir().expect("folder");
    let paths = written(dir.path(), &FILES);
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let counts = translated(&refs);
    assert_within_limit(&counts, paths.len());
    eprintln!("resources per stack after SAM's transform: {counts:?}");
}

fn synthetic_handler(
    _: std::sync::Arc<Services>,
    _: lambda_http::Request,
) -> BoxFuture<HandlerResult> {
    Box::pin(async { shared::http::no_content() })
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// A table of `per_module` API routes in each of five modules, with a mix
/// of accesses and ports, plus a queue worker each.
fn synthetic(per_module: usize) -> Vec<Module> {
    let names = ["foundation", "studio", "runtime", "automation", "insights"];
    let port_sets: [&'static [Port]; 4] = [
        &[Port::Table],
        &[Port::Table, Port::Events],
        &[Port::Table, Port::Blobs, Port::Queue],
        &[Port::Identity],
    ];
    names
        .iter()
        .map(|module| {
            let api: Vec<ApiRoute> = (0..per_module)
                .map(|i| ApiRoute {
                    function: leak(format!("{module}-route-{i}")),
                    method: ["GET", "POST", "PATCH", "DELETE"][i % 4],
                    path: leak(format!("/api/v1/{module}/things{i}/{{id}}")),
                    access: match i % 3 {
                        0 => Access::Public,
                        1 => Access::SignedIn,
                        _ => Access::project("id", Role::Editor),
                    },
                    ports: port_sets[i % port_sets.len()],
                    summary: "A synthetic route",
                    request: None,
                    query: &[],
                    response: None,
                    status: 204,
                    refusals: &[],
                    handler: Handler::Plain(synthetic_handler),
                })
                .collect();
            let workers = vec![WorkerRoute {
                function: leak(format!("{module}-worker")),
                trigger: Trigger::Queue {
                    queue: "event-triggers",
                    handler: |_, _| Box::pin(async { Default::default() }),
                },
                ports: &[Port::Table],
                summary: "A synthetic worker",
                timeout_secs: None,
            }];
            Module {
                name: module,
                api: Box::leak(api.into_boxed_slice()),
                workers: Box::leak(workers.into_boxed_slice()),
            }
        })
        .collect()
}

#[test]
fn a_table_of_200_routes_in_five_modules_stays_within_400_resources_a_stack() {
    let modules = synthetic(40);
    assert_eq!(modules.iter().map(|m| m.api.len()).sum::<usize>(), 200);
    let dir = tempfile::tempdir().expect("folder");
    let paths = written(dir.path(), &generate::files(&modules));
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let counts = translated(&refs);
    // The root and one nested stack per module.
    assert_within_limit(&counts, 6);
    eprintln!("200 routes, resources per stack: {counts:?}");
}

#[test]
fn a_module_too_large_for_one_stack_is_split_into_parts() {
    let modules = synthetic(120);
    let files = generate::files(&modules);
    let studio: Vec<&str> = files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.starts_with(&format!("{STACKS_DIR}/studio")))
        .collect();
    assert_eq!(
        studio,
        [
            "infra/stacks/studio.yaml",
            "infra/stacks/studio-2.yaml",
            "infra/stacks/studio-3.yaml"
        ]
    );
    let dir = tempfile::tempdir().expect("folder");
    let paths = written(dir.path(), &files);
    let studio_paths: Vec<&Path> = paths
        .iter()
        .map(|p| p.as_path())
        .filter(|p| p.to_string_lossy().contains("/studio"))
        .collect();
    assert_within_limit(&translated(&studio_paths), 3);
}

// ------------------------------------------------------------ API routes

#[test]
fn every_api_route_is_two_api_gateway_routes_to_its_own_function() {
    for route in api() {
        let base = camel(route.function);
        let (stack, _) = find(&function_id(route.function)).expect("its function");
        assert_ne!(
            stack, "template.yaml",
            "{}: in a module's stack",
            route.function
        );
        for (id, path) in [
            (format!("{base}Route"), route.path.to_string()),
            (
                format!("{base}RouteTrailingSlash"),
                format!("{}/", route.path),
            ),
        ] {
            let (route_stack, _) = find(&id).expect("the route");
            assert_eq!(route_stack, stack, "{id}");
            let p = props(&id);
            assert_eq!(p["RouteKey"], format!("{} {path}", route.method), "{id}");
            assert_eq!(
                p["Target"]["Fn::Sub"],
                format!("integrations/${{{base}Integration}}")
            );
            let (kind, authorizer) = if route.access.accepts_keys() {
                ("CUSTOM", Some("KeyAuthorizerId"))
            } else if route.access.needs_token() {
                ("JWT", Some("AuthorizerId"))
            } else {
                ("NONE", None)
            };
            assert_eq!(p["AuthorizationType"], kind, "{id}");
            match authorizer {
                Some(parameter) => assert_eq!(p["AuthorizerId"]["Ref"], parameter, "{id}"),
                None => assert!(p["AuthorizerId"].is_null(), "{id}"),
            }
        }
        let integration = props(&format!("{base}Integration"));
        assert_eq!(integration["IntegrationType"], "AWS_PROXY");
        assert_eq!(integration["PayloadFormatVersion"], "2.0");
        assert_eq!(
            integration["IntegrationUri"]["Fn::GetAtt"][0],
            function_id(route.function).as_str()
        );
        let permission = props(&format!("{base}Permission"));
        assert_eq!(permission["Principal"], "apigateway.amazonaws.com");
        let source = permission["SourceArn"]["Fn::Sub"].as_str().expect("an ARN");
        assert!(
            source.contains(&format!("/*/{}/api/v1/", route.method)),
            "{source}"
        );
    }
}

#[test]
fn the_api_checks_cognito_access_tokens_on_its_default_stage() {
    let authorizer = props("HttpApiAuthorizer");
    assert_eq!(authorizer["AuthorizerType"], "JWT");
    assert_eq!(
        strings(&authorizer["IdentitySource"]),
        ["$request.header.Authorization"]
    );
    assert_eq!(
        authorizer["JwtConfiguration"]["Audience"][0]["Ref"],
        "UserPoolClient"
    );
    let stage = props("HttpApiStage");
    assert_eq!(stage["StageName"], "$default");
    assert_eq!(stage["AutoDeploy"], true);
}

// --------------------------------------------------------------- workers

#[test]
fn every_worker_has_its_trigger() {
    for worker in workers() {
        let id = function_id(worker.function);
        let events = &props(&id)["Events"];
        match worker.trigger {
            Trigger::Queue { queue, .. } => {
                let event = &events["Queue"];
                assert_eq!(event["Type"], "SQS", "{id}");
                let arn = format!("{}QueueArn", camel(queue));
                assert_eq!(event["Properties"]["Queue"]["Ref"], arn.as_str());
                // A queue's batch as declared (one receive when it declares none).
                let spec = shared::resources::queue(queue);
                let batch_size = spec.map_or(10, |q| q.batch_size);
                let window = spec.map_or(0, |q| q.batching_window.as_secs());
                assert_eq!(event["Properties"]["BatchSize"], batch_size, "{id}");
                let declared = &event["Properties"]["MaximumBatchingWindowInSeconds"];
                if window == 0 {
                    assert!(declared.is_null(), "{id}");
                } else {
                    assert_eq!(*declared, window, "{id}");
                }
                assert_eq!(
                    strings(&event["Properties"]["FunctionResponseTypes"]),
                    ["ReportBatchItemFailures"]
                );
                // Lambda refuses a trigger on a queue that hides a message
                // for less time than the function may run.
                let timeout = match worker.timeout_secs {
                    Some(seconds) => {
                        assert_eq!(props(&id)["Timeout"], u64::from(seconds), "{id}");
                        u64::from(seconds)
                    }
                    None => root()["Globals"]["Function"]["Timeout"]
                        .as_u64()
                        .expect("a timeout"),
                };
                let visibility = match shared::resources::queue(queue) {
                    Some(spec) => spec.visibility_timeout,
                    // A dead-letter queue keeps SQS's default, 30 s.
                    None => std::time::Duration::from_secs(30),
                };
                assert!(visibility.as_secs() >= timeout, "{queue}");
            }
            Trigger::Schedule { expression, .. } => {
                let event = &events["Schedule"];
                assert_eq!(event["Type"], "ScheduleV2", "{id}");
                assert_eq!(event["Properties"]["ScheduleExpression"], expression);
                let input: serde_json::Value =
                    serde_json::from_str(event["Properties"]["Input"].as_str().expect("an input"))
                        .expect("JSON");
                assert_eq!(input["detail-type"], "Scheduled Event");
            }
            Trigger::TableStream { key_prefix, .. } => {
                let event = &events["Stream"];
                assert_eq!(event["Type"], "DynamoDB", "{id}");
                let p = &event["Properties"];
                assert_eq!(p["Stream"]["Ref"], "TableStreamArn");
                assert_eq!(p["StartingPosition"], "TRIM_HORIZON");
                assert_eq!(
                    strings(&p["FunctionResponseTypes"]),
                    ["ReportBatchItemFailures"]
                );
                let pattern: serde_json::Value = serde_json::from_str(
                    p["FilterCriteria"]["Filters"][0]["Pattern"]
                        .as_str()
                        .expect("a pattern"),
                )
                .expect("JSON");
                assert_eq!(
                    pattern["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"],
                    key_prefix
                );
                assert_eq!(pattern["eventName"][0], "INSERT");
                // What outlives its retries is named on the alarm topic.
                assert_eq!(
                    p["DestinationConfig"]["OnFailure"]["Destination"]["Ref"],
                    "AlarmTopicArn"
                );
                let table = props("Table");
                assert_eq!(table["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
            }
            Trigger::PreSignUp { .. } => {
                // The pool invokes it, only when the stack auto-confirms.
                let (stack, _) = find(&id).expect("its function");
                assert_eq!(stack, "template.yaml");
                let hook = &props("UserPool")["LambdaConfig"]["PreSignUp"]["Fn::If"];
                assert_eq!(hook[0], "AutoConfirmSignUps");
                assert_eq!(hook[1]["Fn::GetAtt"][0], id.as_str());
                let permission = resource(&format!("{}Permission", camel(worker.function)));
                assert_eq!(permission["Condition"], "AutoConfirmSignUps");
                assert_eq!(
                    permission["Properties"]["Principal"],
                    "cognito-idp.amazonaws.com"
                );
            }
            Trigger::Authorizer { .. } => {
                // The API invokes it before every route that takes keys,
                // uncached, so a revoked key fails at once.
                let (stack, _) = find(&id).expect("its function");
                assert_eq!(stack, "template.yaml");
                let authorizer = props("KeyAuthorizer");
                assert_eq!(authorizer["AuthorizerType"], "REQUEST");
                assert_eq!(authorizer["EnableSimpleResponses"], true);
                assert_eq!(authorizer["AuthorizerResultTtlInSeconds"], 0);
                assert_eq!(authorizer["AuthorizerPayloadFormatVersion"], "2.0");
                let uri = serde_json::to_string(&authorizer["AuthorizerUri"]).expect("JSON");
                assert!(uri.contains(&format!("{id}.Arn")), "{uri}");
                let permission = resource(&format!("{}Permission", camel(worker.function)));
                assert_eq!(
                    permission["Properties"]["Principal"],
                    "apigateway.amazonaws.com"
                );
                let variables = &props(&id)["Environment"]["Variables"];
                assert_eq!(variables["NOCODE_TABLE_NAME"]["Ref"], "Table");
                assert_eq!(variables["NOCODE_USER_POOL_ID"]["Ref"], "UserPool");
            }
        }
    }
}

// ------------------------------------------------------------------- IAM

fn sids(ports: &[Port]) -> Vec<&'static str> {
    let mut sids = Vec::new();
    for port in ports {
        match port {
            Port::Table => sids.push("Table"),
            Port::Blobs => sids.extend(["BlobObjects", "BlobBuckets"]),
            Port::Queue => sids.push("Queues"),
            Port::Events => sids.push("Events"),
            Port::Identity => {}
            Port::Mail => sids.push("Mail"),
        }
    }
    sids
}

#[test]
fn every_function_gets_exactly_the_iam_statements_of_its_ports() {
    let functions = api()
        .map(|r| (r.function, r.ports))
        .chain(workers().map(|w| (w.function, w.ports)));
    for (function, ports) in functions {
        let policies = &props(&function_id(function))["Policies"];
        let statements: Vec<String> = policies
            .as_sequence()
            .map(|p| {
                p.iter()
                    .flat_map(|doc| doc["Statement"].as_sequence().cloned().unwrap_or_default())
                    .map(|s| s["Sid"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(statements, sids(ports), "{function}");
    }
}

// ------------------------------------------------------------- resources

#[test]
fn every_queue_has_its_dead_letter_queue_redrive_and_alarm() {
    for queue in QUEUES {
        let id = format!("{}Queue", camel(queue.name));
        let dead = format!("{}Queue", camel(&dead_letter_name(queue.name)));
        let p = props(&id);
        assert_eq!(p["VisibilityTimeout"], queue.visibility_timeout.as_secs());
        assert_eq!(p["RedrivePolicy"]["maxReceiveCount"], queue.max_receives);
        assert_eq!(
            p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0],
            dead.as_str()
        );
        assert_eq!(props(&dead)["MessageRetentionPeriod"], 1_209_600);
        let alarm = props(&format!("{}DlqAlarm", camel(queue.name)));
        assert_eq!(
            alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0],
            dead.as_str()
        );
    }
}

#[test]
fn every_rule_sends_its_pattern_to_its_queue_and_only_it_may_send() {
    for rule in RULES {
        let id = format!("{}Rule", camel(rule.name));
        let p = props(&id);
        let pattern: serde_json::Value =
            serde_yaml_ng::from_value(p["EventPattern"].clone()).expect("a pattern");
        let declared: serde_json::Value =
            serde_json::from_str(&rule.event_pattern()).expect("JSON");
        assert_eq!(pattern, declared, "{id}");
        let target = format!("{}Queue", camel(rule.target_queue));
        assert_eq!(p["Targets"][0]["Arn"]["Fn::GetAtt"][0], target.as_str());
        let statements = props(&format!("{target}Policy"))["PolicyDocument"]["Statement"]
            .as_sequence()
            .cloned()
            .expect("statements");
        // One statement per rule that targets the queue, and no other.
        let senders: Vec<&str> = statements
            .iter()
            .filter_map(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0].as_str())
            .collect();
        assert!(senders.contains(&id.as_str()), "{id}: {senders:?}");
        let targeting = RULES
            .iter()
            .filter(|r| r.target_queue == rule.target_queue)
            .count();
        assert_eq!(senders.len(), targeting, "{target}");
    }
}

#[test]
fn every_bucket_is_private_encrypted_and_tls_only() {
    for bucket in BUCKETS {
        let id = format!("{}Bucket", camel(bucket));
        let p = props(&id);
        assert_eq!(
            p["PublicAccessBlockConfiguration"]["BlockPublicPolicy"],
            true
        );
        assert!(!p["BucketEncryption"].is_null());
        assert_eq!(resource(&id)["DeletionPolicy"], "Retain");
        let deny = &props(&format!("{id}Policy"))["PolicyDocument"]["Statement"][0];
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }
}

#[test]
fn the_table_has_the_keys_and_indexes_the_adapters_use() {
    let p = props("Table");
    assert_eq!(p["KeySchema"][0]["AttributeName"], "pk");
    assert_eq!(p["KeySchema"][1]["AttributeName"], "sk");
    let indexes: Vec<&str> = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes")
        .iter()
        .filter_map(|i| i["IndexName"].as_str())
        .collect();
    assert_eq!(indexes, ["gsi1", "gsi2"]);
    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], "expires_at");
    assert_eq!(resource("Table")["DeletionPolicy"], "Retain");
}

#[test]
fn the_user_pool_signs_in_by_email_with_the_password_policy() {
    let p = props("UserPool");
    assert_eq!(strings(&p["UsernameAttributes"]), ["email"]);
    let policy = &p["Policies"]["PasswordPolicy"];
    assert_eq!(policy["MinimumLength"], PASSWORD_POLICY.min_length as u64);
    assert_eq!(
        policy["RequireUppercase"],
        PASSWORD_POLICY.require_uppercase
    );
    assert_eq!(
        policy["RequireLowercase"],
        PASSWORD_POLICY.require_lowercase
    );
    assert_eq!(policy["RequireNumbers"], PASSWORD_POLICY.require_numbers);
    assert_eq!(policy["RequireSymbols"], PASSWORD_POLICY.require_symbols);
    let client = props("UserPoolClient");
    assert_eq!(client["GenerateSecret"], false);
}

#[test]
fn every_function_finds_every_resource_through_its_environment() {
    for (path, stack) in STACKS.iter().skip(1) {
        let variables = stack["Globals"]["Function"]["Environment"]["Variables"]
            .as_mapping()
            .expect("variables");
        let names: BTreeSet<String> = variables
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        let settings = shared::config::AwsSettings::from_lookup(|name| {
            names.contains(name).then(|| format!("value-of-{name}"))
        });
        assert!(settings.table_name.is_some(), "{path}");
        assert!(settings.event_bus.is_some(), "{path}");
        assert!(settings.user_pool_id.is_some(), "{path}");
        assert!(settings.user_pool_client_id.is_some(), "{path}");
        for bucket in BUCKETS {
            assert!(settings.buckets.contains_key(*bucket), "{path}: {bucket}");
        }
        for queue in QUEUES {
            let dead = dead_letter_name(queue.name);
            for name in [queue.name.to_string(), dead] {
                assert!(settings.queue_urls.contains_key(&name), "{path}: {name}");
            }
        }
        // Every parameter a variable names is one the root passes in.
        let nested = root()["Resources"]
            .as_mapping()
            .expect("resources")
            .values()
            .find(|r| r["Type"] == "AWS::Serverless::Application")
            .expect("a nested stack");
        for value in variables.values() {
            if let Some(name) = value["Ref"].as_str() {
                assert!(
                    !nested["Properties"]["Parameters"][name].is_null(),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn every_function_logs_json_to_its_own_log_group_with_the_retention() {
    for (_, stack) in STACKS.iter() {
        assert_eq!(
            stack["Globals"]["Function"]["LoggingConfig"]["LogFormat"],
            "JSON"
        );
    }
    for function in api()
        .map(|r| r.function)
        .chain(workers().map(|w| w.function))
    {
        let group = format!("{}LogGroup", camel(function));
        assert_eq!(
            props(&function_id(function))["LoggingConfig"]["LogGroup"]["Ref"],
            group.as_str()
        );
        assert_eq!(props(&group)["RetentionInDays"]["Ref"], "LogRetentionDays");
        assert_eq!(
            props(&function_id(function))["CodeUri"]
                .as_str()
                .map(|c| c.ends_with(&format!("target/lambda/{function}/"))),
            Some(true)
        );
    }
}

#[test]
fn every_function_resource_of_every_stack_logs_to_a_group_of_its_stack_with_the_retention() {
    let mut functions = 0;
    for (path, stack) in STACKS.iter() {
        let resources = stack["Resources"].as_mapping().expect("resources");
        for (id, resource) in resources {
            let id = id.as_str().expect("an id");
            match resource["Type"].as_str() {
                Some("AWS::Serverless::Function") => {
                    functions += 1;
                    let group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{path}: {id} names no log group"));
                    assert_eq!(
                        stack["Resources"][group]["Type"], "AWS::Logs::LogGroup",
                        "{path}: {id}"
                    );
                }
                // Every group, the API's access log too, keeps the logs as
                // long as the stack's parameter says.
                Some("AWS::Logs::LogGroup") => assert_eq!(
                    resource["Properties"]["RetentionInDays"]["Ref"], "LogRetentionDays",
                    "{path}: {id}"
                ),
                _ => {}
            }
        }
        assert_eq!(
            stack["Parameters"]["LogRetentionDays"]["Type"], "Number",
            "{path}"
        );
    }
    // No function of the table is missing, and none is there twice.
    assert_eq!(functions, api().count() + workers().count());
}

#[test]
fn the_stack_tells_a_client_where_the_api_and_the_user_pool_are() {
    let outputs = &root()["Outputs"];
    for name in [
        "ApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "AlarmTopicArn",
        "DashboardUrl",
    ] {
        assert!(!outputs[name].is_null(), "{name}");
    }
}

#[test]
fn every_nested_stack_is_in_the_root_with_its_template() {
    let mut nested: Vec<String> = root()["Resources"]
        .as_mapping()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Application")
        .map(|r| {
            r["Properties"]["Location"]
                .as_str()
                .expect("a location")
                .to_string()
        })
        .collect();
    nested.sort();
    let mut files: Vec<String> = STACKS.iter().skip(1).map(|(p, _)| p.clone()).collect();
    files.sort();
    assert_eq!(nested, files);
}

#[test]
fn the_studio_is_a_private_bucket_behind_cloudfront_with_the_api_on_its_origin() {
    let bucket = props("StudioBucket");
    assert_eq!(
        bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"],
        true
    );
    let control = props("StudioOriginAccessControl");
    assert_eq!(
        control["OriginAccessControlConfig"]["OriginAccessControlOriginType"],
        "s3"
    );
    let config = &props("StudioDistribution")["DistributionConfig"];
    let origins = config["Origins"].as_sequence().expect("origins");
    let studio = origins
        .iter()
        .find(|o| o["Id"] == "studio")
        .expect("the bucket");
    assert_eq!(
        studio["OriginAccessControlId"]["Fn::GetAtt"][0],
        "StudioOriginAccessControl"
    );
    let api = origins.iter().find(|o| o["Id"] == "api").expect("the API");
    assert!(
        api["DomainName"]["Fn::Sub"]
            .as_str()
            .is_some_and(|d| d.contains("${HttpApi}")),
        "{api:?}"
    );
    let behaviors = config["CacheBehaviors"].as_sequence().expect("behaviors");
    assert_eq!(behaviors[0]["PathPattern"], "/api/*");
    assert_eq!(behaviors[0]["TargetOriginId"], "api");
    assert_eq!(
        config["DefaultCacheBehavior"]["FunctionAssociations"][0]["FunctionARN"]["Fn::GetAtt"][0],
        "StudioSpaFunction"
    );
    // Extension-less paths are the app's page; files stay themselves.
    let code = props("StudioSpaFunction")["FunctionCode"]
        .as_str()
        .expect("code")
        .to_string();
    assert!(code.contains("/studio/index.html") && code.contains("indexOf('.')"));
    // Only the distribution reads the bucket.
    let statements = props("StudioBucketPolicy")["PolicyDocument"]["Statement"]
        .as_sequence()
        .cloned()
        .expect("statements");
    let reads = statements
        .iter()
        .find(|s| s["Sid"] == "StudioDistributionReads")
        .expect("the distribution's reads");
    assert_eq!(reads["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert!(
        reads["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
            .as_str()
            .is_some_and(|arn| arn.contains("${StudioDistribution}"))
    );
}

// ------------------------------------------------------------ operations

/// The root's alarms, by logical id.
fn alarms() -> Vec<(&'static str, &'static Value)> {
    root()["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, r)| (id.as_str().expect("an id"), r))
        .collect()
}

/// The modules whose API functions write the request metrics.
fn api_modules() -> impl Iterator<Item = &'static Module> {
    MODULES.iter().filter(|m| !m.api.is_empty())
}

#[test]
fn every_alarm_notifies_the_alarm_topic_and_no_data_is_no_alarm() {
    assert!(!alarms().is_empty());
    for (id, alarm) in alarms() {
        let p = &alarm["Properties"];
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(p[actions][0]["Ref"], "AlarmTopic", "{id}");
        }
        assert_eq!(p["TreatMissingData"], "notBreaching", "{id}");
    }
}

#[test]
fn the_5xx_alarm_is_a_rate_of_the_apis_requests_in_metric_math() {
    let p = props("HttpApi5xxRateAlarm");
    assert!(p["MetricName"].is_null() && p["Statistic"].is_null());
    let metrics = p["Metrics"].as_sequence().expect("metric math");
    let mut ids = BTreeMap::new();
    for metric in metrics.iter().filter(|m| !m["MetricStat"].is_null()) {
        let stat = &metric["MetricStat"];
        assert_eq!(stat["Metric"]["Namespace"], "AWS/ApiGateway");
        assert_eq!(stat["Metric"]["Dimensions"][0]["Name"], "ApiId");
        assert_eq!(stat["Metric"]["Dimensions"][0]["Value"]["Ref"], "HttpApi");
        assert_eq!(stat["Stat"], "Sum");
        assert_eq!(stat["Period"], 300);
        assert_eq!(metric["ReturnData"], false);
        let name = stat["Metric"]["MetricName"].as_str().expect("a metric");
        ids.insert(name, metric["Id"].as_str().expect("an id"));
    }
    let returned: Vec<&Value> = metrics.iter().filter(|m| m["ReturnData"] == true).collect();
    assert_eq!(returned.len(), 1);
    let expression = returned[0]["Expression"].as_str().expect("an expression");
    // 5xx over all requests, in percent.
    let errors = ids["5xx"];
    let requests = ids["Count"];
    assert!(
        expression.contains(&format!("100 * FILL({errors}, 0) / {requests}")),
        "{expression}"
    );
    assert_eq!(p["Threshold"], API_5XX_RATE_PERCENT);
    assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
}

#[test]
fn every_module_with_routes_has_one_p99_latency_alarm_on_its_module_dimension() {
    let parameter = &root()["Parameters"]["LatencyP99AlarmMs"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(parameter["Default"], 1000);
    for module in api_modules() {
        let id = latency_alarm_id(module.name);
        let p = props(&id);
        assert_eq!(p["Namespace"], METRICS_NAMESPACE, "{id}");
        assert_eq!(p["MetricName"], LATENCY, "{id}");
        assert_eq!(p["ExtendedStatistic"], "p99", "{id}");
        assert!(p["Statistic"].is_null(), "{id}");
        let dimensions = p["Dimensions"].as_sequence().expect("dimensions");
        assert_eq!(dimensions.len(), 1, "{id}");
        assert_eq!(dimensions[0]["Name"], DIMENSION_MODULE, "{id}");
        assert_eq!(dimensions[0]["Value"], module.name, "{id}");
        assert_eq!(p["Threshold"]["Ref"], "LatencyP99AlarmMs", "{id}");
    }
    let latency: Vec<&str> = alarms()
        .into_iter()
        .filter(|(_, a)| a["Properties"]["MetricName"] == LATENCY)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(latency.len(), api_modules().count(), "{latency:?}");
}

#[test]
fn one_alarm_watches_the_throttles_of_every_lambda_function() {
    let p = props("LambdaThrottlesAlarm");
    assert_eq!(p["Namespace"], "AWS/Lambda");
    assert_eq!(p["MetricName"], "Throttles");
    assert_eq!(p["Statistic"], "Sum");
    // Without dimensions: the aggregate over every function.
    assert!(p["Dimensions"].is_null());
    assert_eq!(p["Threshold"], 0);
}

/// The `${…}` names of an `Fn::Sub` text.
fn substitutions(text: &str) -> Vec<&str> {
    text.split("${")
        .skip(1)
        .map(|rest| rest.split('}').next().expect("a closing brace"))
        .collect()
}

#[test]
fn the_dashboard_shows_requests_latency_per_module_dead_letters_throttles_and_the_outbox() {
    let p = props("Dashboard");
    let text = p["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("a body to substitute");
    let body: serde_json::Value = serde_json::from_str(text).expect("JSON");
    let widgets = body["widgets"].as_array().expect("widgets");
    for widget in widgets {
        let right = widget["x"].as_u64().expect("x") + widget["width"].as_u64().expect("width");
        assert!(right <= 24, "{widget}");
    }
    // Every metric line of every graph, as its namespace, metric,
    // dimensions and options.
    let lines: Vec<&Vec<serde_json::Value>> = widgets
        .iter()
        .filter(|w| w["type"] == "metric")
        .flat_map(|w| w["properties"]["metrics"].as_array().expect("metrics"))
        .map(|line| line.as_array().expect("a line"))
        .collect();
    let has = |namespace: &str, metric: &str, dimension: &[&str], stat: Option<&str>| {
        lines.iter().any(|line| {
            line[0] == namespace
                && line[1] == metric
                && line
                    .get(2..2 + dimension.len())
                    .is_some_and(|d| d == dimension)
                && stat.is_none_or(|s| line.last().is_some_and(|o| o["stat"] == s))
        })
    };
    for module in api_modules() {
        for stat in ["p50", "p95", "p99"] {
            assert!(
                has(
                    METRICS_NAMESPACE,
                    LATENCY,
                    &[DIMENSION_MODULE, module.name],
                    Some(stat)
                ),
                "{}: {stat}",
                module.name
            );
        }
        for metric in [REQUESTS, ERRORS] {
            assert!(
                has(
                    METRICS_NAMESPACE,
                    metric,
                    &[DIMENSION_MODULE, module.name],
                    None
                ),
                "{}: {metric}",
                module.name
            );
        }
    }
    for queue in QUEUES {
        let dead = format!(
            "${{{}Queue.QueueName}}",
            camel(&dead_letter_name(queue.name))
        );
        assert!(
            has(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                &["QueueName", &dead],
                None
            ),
            "{dead}"
        );
    }
    for metric in ["Count", "5xx"] {
        assert!(
            has("AWS/ApiGateway", metric, &["ApiId", "${HttpApi}"], None),
            "{metric}"
        );
    }
    let rate = lines
        .iter()
        .find_map(|line| line[0]["expression"].as_str())
        .expect("the 5xx rate");
    assert!(rate.contains("/"), "{rate}");
    for metric in ["Throttles", "Errors"] {
        assert!(has("AWS/Lambda", metric, &[], None), "{metric}");
    }
    // The outbox's lag, by the name its nested stack gives back.
    for worker in workers().filter(|w| matches!(w.trigger, Trigger::TableStream { .. })) {
        let (stack, _) = find(&function_id(worker.function)).expect("its function");
        let output = format!("{}Name", function_id(worker.function));
        let nested = &STACKS
            .iter()
            .find(|(p, _)| p == stack)
            .expect("its stack")
            .1;
        assert_eq!(
            nested["Outputs"][&output]["Value"]["Ref"],
            function_id(worker.function)
        );
        assert!(
            lines
                .iter()
                .any(|line| line.get(1).is_some_and(|m| m == "IteratorAge")
                    && line
                        .get(3)
                        .and_then(|n| n.as_str())
                        .is_some_and(|n| n.ends_with(&format!(".Outputs.{output}}}")))),
            "{}",
            worker.function
        );
    }
    // Every alarm's state is on it.
    let shown: BTreeSet<&str> = widgets
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().expect("alarms"))
        .filter_map(|a| a.as_str())
        .collect();
    for (id, _) in alarms() {
        assert!(shown.contains(format!("${{{id}.Arn}}").as_str()), "{id}");
    }
    // Every name it substitutes is the region or one of the root's resources
    // (a nested stack's output: one that stack has).
    for name in substitutions(text) {
        if name.starts_with("AWS::") {
            assert_eq!(name, "AWS::Region");
            continue;
        }
        let mut parts = name.split('.');
        let id = parts.next().expect("an id");
        let resource = &root()["Resources"][id];
        assert!(!resource.is_null(), "{name}");
        if parts.next() == Some("Outputs") {
            let output = parts.next().expect("an output");
            let location = resource["Properties"]["Location"]
                .as_str()
                .expect("a nested stack");
            let nested = &STACKS
                .iter()
                .find(|(p, _)| p == location)
                .expect("its stack")
                .1;
            assert!(!nested["Outputs"][output].is_null(), "{name}");
        }
    }
    assert_eq!(p["DashboardName"]["Fn::Sub"], "${AWS::StackName}");
}
