//! template.yaml held to the code, in both directions: every function of the
//! route table is a function of the template with its events and exactly the
//! IAM statements of its ports, every queue, bucket and rule of
//! `shared::resources` is a resource of the template, and the template holds
//! nothing the code does not know. `functions/Cargo.toml` is held to the same
//! table. cfn-lint (run by `infra/test`) checks the template is valid
//! CloudFormation; these tests check it is *this platform's* template.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};
use shared::config::{Backend, env_suffix};
use shared::ports::table::{Index, PK, SK};
use shared::resources::{BUCKETS, PASSWORD_POLICY, QUEUES, RULES, dead_letter_name};
use shared::routes::{Trigger, api, workers};
use shared::services::Port;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

static TEMPLATE_TEXT: LazyLock<String> = LazyLock::new(|| read("template.yaml"));

static TEMPLATE: LazyLock<Value> =
    LazyLock::new(|| serde_yaml_ng::from_str(&TEMPLATE_TEXT).expect("template.yaml is plain YAML"));

// ----------------------------------------------------------------- naming

/// `insights-ingest` → `InsightsIngest`: how logical names become logical ids.
fn camel(name: &str) -> String {
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

fn function_id(function: &str) -> String {
    format!("{}Function", camel(function))
}

fn queue_id(queue: &str) -> String {
    format!("{}Queue", camel(queue))
}

fn bucket_id(bucket: &str) -> String {
    format!("{}Bucket", camel(bucket))
}

fn rule_id(rule: &str) -> String {
    format!("{}Rule", camel(rule))
}

/// Every queue's logical name, dead-letter queues included.
fn all_queues() -> Vec<String> {
    QUEUES
        .iter()
        .flat_map(|q| [q.name.to_string(), dead_letter_name(q.name)])
        .collect()
}

// ------------------------------------------------------------- intrinsics

fn r#ref(id: &str) -> Value {
    json!({ "Ref": id })
}

fn arn(id: &str) -> Value {
    json!({ "Fn::GetAtt": [id, "Arn"] })
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

// ------------------------------------------------------------ the template

fn resources() -> &'static serde_json::Map<String, Value> {
    TEMPLATE["Resources"]
        .as_object()
        .expect("the template has Resources")
}

fn resource(id: &str) -> &'static Value {
    resources()
        .get(id)
        .unwrap_or_else(|| panic!("template.yaml has no resource `{id}`"))
}

fn props(id: &str) -> &'static Value {
    &resource(id)["Properties"]
}

fn ids_of_type(kind: &str) -> BTreeSet<String> {
    resources()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, _)| id.clone())
        .collect()
}

fn globals() -> &'static Value {
    &TEMPLATE["Globals"]["Function"]
}

fn environment() -> &'static serde_json::Map<String, Value> {
    globals()["Environment"]["Variables"]
        .as_object()
        .expect("Globals give every function its environment")
}

/// A function's events as (name, type, properties).
fn events(id: &str) -> Vec<(&'static str, &'static str, &'static Value)> {
    props(id)["Events"]
        .as_object()
        .map(|events| {
            events
                .iter()
                .map(|(name, e)| {
                    let kind = e["Type"].as_str().unwrap_or_default();
                    (name.as_str(), kind, &e["Properties"])
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A list or a single value, as IAM allows, as a set of JSON texts.
fn set_of(value: &Value) -> BTreeSet<String> {
    match value {
        Value::Array(items) => items.iter().map(Value::to_string).collect(),
        other => BTreeSet::from([other.to_string()]),
    }
}

fn route_functions() -> BTreeSet<String> {
    api()
        .map(|r| r.function)
        .chain(workers().map(|w| w.function))
        .map(str::to_string)
        .collect()
}

// ------------------------------------------------------------ API routes

#[test]
fn every_route_of_the_table_is_a_function_of_the_template() {
    for route in api() {
        let id = function_id(route.function);
        assert_eq!(resource(&id)["Type"], "AWS::Serverless::Function", "{id}");
        let routes: BTreeSet<(String, String)> = events(&id)
            .into_iter()
            .map(|(name, kind, p)| {
                assert_eq!(kind, "HttpApi", "{id}: event {name} of an API function");
                assert_eq!(
                    p["ApiId"],
                    r#ref("HttpApi"),
                    "{id}: {name} is on the HTTP API"
                );
                let auth = &p["Auth"];
                match route.access.needs_token() {
                    false => assert_eq!(
                        *auth,
                        json!({ "Authorizer": "NONE" }),
                        "{id}: {name} is public"
                    ),
                    // The API's default authorizer applies.
                    true => assert!(auth.is_null(), "{id}: {name} overrides auth"),
                }
                let method = p["Method"].as_str().unwrap_or_default().to_string();
                let path = p["Path"].as_str().unwrap_or_default().to_string();
                (method, path)
            })
            .collect();
        let expected = BTreeSet::from([
            (route.method.to_string(), route.path.to_string()),
            (route.method.to_string(), format!("{}/", route.path)),
        ]);
        assert_eq!(routes, expected, "{id}: with and without trailing slash");
        assert_eq!(events(&id).len(), 2, "{id}: one event per route");
    }
}

#[test]
fn every_http_route_of_the_template_is_a_route_of_the_table() {
    for id in ids_of_type("AWS::Serverless::Function") {
        for (name, kind, p) in events(&id) {
            if kind != "HttpApi" {
                continue;
            }
            let method = p["Method"].as_str().unwrap_or_default();
            let path = p["Path"].as_str().unwrap_or_default();
            let bare = path.strip_suffix('/').unwrap_or(path);
            let route = api()
                .find(|r| r.method == method && r.path == bare)
                .unwrap_or_else(|| {
                    panic!("{id}.{name}: {method} {path} is not in the route table")
                });
            assert_eq!(function_id(route.function), id, "{method} {path}");
        }
    }
}

#[test]
fn every_function_of_the_template_is_a_function_of_the_route_table() {
    let expected: BTreeSet<String> = route_functions().iter().map(|f| function_id(f)).collect();
    assert_eq!(ids_of_type("AWS::Serverless::Function"), expected);
}

#[test]
fn every_function_runs_its_own_prebuilt_binary() {
    for function in route_functions() {
        let id = function_id(&function);
        assert_eq!(
            props(&id)["CodeUri"],
            format!("target/lambda/{function}/"),
            "{id}: cargo lambda build puts the binary there"
        );
        assert_eq!(resource(&id)["Metadata"]["SkipBuild"], true, "{id}");
    }
    let globals = globals();
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], json!(["arm64"]));
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["MemorySize"], 128);
}

#[test]
fn the_api_checks_cognito_access_tokens_unless_a_route_is_public() {
    assert_eq!(resource("HttpApi")["Type"], "AWS::Serverless::HttpApi");
    let auth = &props("HttpApi")["Auth"];
    let default = auth["DefaultAuthorizer"]
        .as_str()
        .expect("a default authorizer");
    let authorizer = &auth["Authorizers"][default];
    assert_eq!(
        authorizer["IdentitySource"],
        "$request.header.Authorization"
    );
    let jwt = &authorizer["JwtConfiguration"];
    assert_eq!(
        jwt["issuer"],
        sub("https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}")
    );
    assert_eq!(jwt["audience"], json!([r#ref("UserPoolClient")]));
    // The $default stage: the API's paths are the contract's, no prefix.
    assert!(props("HttpApi")["StageName"].is_null());
}

// --------------------------------------------------------------- workers

#[test]
fn every_queue_worker_reads_its_queue_and_reports_partial_failures() {
    for worker in workers() {
        let Trigger::Queue { queue, .. } = worker.trigger else {
            continue;
        };
        let id = function_id(worker.function);
        let events = events(&id);
        assert_eq!(events.len(), 1, "{id}: one trigger");
        let (_, kind, p) = events[0];
        assert_eq!(kind, "SQS", "{id}");
        assert_eq!(p["Queue"], arn(&queue_id(queue)), "{id}");
        assert_eq!(
            p["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"]),
            "{id}"
        );
        let batch = p["BatchSize"].as_u64().expect("a batch size");
        assert!((1..=10).contains(&batch), "{id}: batch of {batch}");
    }
}

#[test]
fn a_queue_worker_finishes_before_its_messages_reappear() {
    let default_timeout = globals()["Timeout"].as_u64().expect("a global timeout");
    for worker in workers() {
        let Trigger::Queue { queue, .. } = worker.trigger else {
            continue;
        };
        let id = function_id(worker.function);
        let timeout = props(&id)["Timeout"].as_u64().unwrap_or(default_timeout);
        let visibility = props(&queue_id(queue))["VisibilityTimeout"]
            .as_u64()
            .expect("a visibility timeout");
        // Lambda refuses an SQS trigger otherwise, and a message would be
        // handled twice at once.
        assert!(timeout <= visibility, "{id}: {timeout}s > {visibility}s");
    }
}

/// The scheduler's placeholders as it fills them in events/schedule/tick.json.
fn fill_scheduler_placeholders(input: &str, tick: &EventBridgeEvent<Value>) -> String {
    let time = tick
        .time
        .expect("the tick has a time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let resources = tick.resources.clone().unwrap_or_default();
    input
        .replace(
            "<aws.scheduler.execution-id>",
            tick.id.as_deref().unwrap_or_default(),
        )
        .replace("<aws.scheduler.scheduled-time>", &time)
        .replace(
            "<aws.scheduler.schedule-arn>",
            resources.first().map(String::as_str).unwrap_or_default(),
        )
}

#[test]
fn every_scheduled_worker_runs_on_its_expression_with_an_event_it_can_read() {
    let tick: EventBridgeEvent<Value> =
        serde_json::from_str(&read("events/schedule/tick.json")).expect("tick.json");
    for worker in workers() {
        let Trigger::Schedule { expression, .. } = worker.trigger else {
            continue;
        };
        let id = function_id(worker.function);
        let events = events(&id);
        assert_eq!(events.len(), 1, "{id}: one trigger");
        let (_, kind, p) = events[0];
        assert_eq!(kind, "ScheduleV2", "{id}");
        assert_eq!(p["ScheduleExpression"], expression, "{id}");
        // The scheduler sends the Input as it is, placeholders filled; the
        // worker's handler takes an EventBridge event.
        let input = p["Input"].as_str().expect("the schedule sends an input");
        let sent = fill_scheduler_placeholders(input, &tick);
        let parsed: EventBridgeEvent<Value> =
            serde_json::from_str(&sent).expect("the input is an EventBridge event");
        assert_eq!(
            parsed, tick,
            "{id}: events/schedule/tick.json is what it sends"
        );
    }
}

// -------------------------------------------------------------- policies

/// One IAM statement: its actions and resources, as sets.
#[derive(Debug, PartialEq, Eq)]
struct Statement {
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
}

fn statement(actions: &[&str], resources: Vec<Value>) -> Statement {
    Statement {
        actions: actions
            .iter()
            .map(|a| Value::from(*a).to_string())
            .collect(),
        resources: resources.iter().map(Value::to_string).collect(),
    }
}

/// What a function using `ports` may do, by statement id.
fn expected_statements(ports: &[Port]) -> BTreeMap<String, Statement> {
    let mut expected = BTreeMap::new();
    for port in ports {
        match port {
            Port::Table => {
                expected.insert(
                    "Table".into(),
                    statement(
                        &[
                            "dynamodb:GetItem",
                            "dynamodb:BatchGetItem",
                            "dynamodb:Query",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:DeleteItem",
                            "dynamodb:ConditionCheckItem",
                        ],
                        vec![arn("Table"), sub("${Table.Arn}/index/*")],
                    ),
                );
            }
            Port::Blobs => {
                let objects = BUCKETS
                    .iter()
                    .map(|b| sub(&format!("${{{}.Arn}}/*", bucket_id(b))))
                    .collect();
                expected.insert(
                    "BlobObjects".into(),
                    statement(
                        &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                        objects,
                    ),
                );
                let buckets = BUCKETS.iter().map(|b| arn(&bucket_id(b))).collect();
                expected.insert("BlobBuckets".into(), statement(&["s3:ListBucket"], buckets));
            }
            Port::Queue => {
                let queues = all_queues().iter().map(|q| arn(&queue_id(q))).collect();
                expected.insert(
                    "Queues".into(),
                    statement(
                        &[
                            "sqs:SendMessage",
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:ChangeMessageVisibility",
                            "sqs:GetQueueAttributes",
                        ],
                        queues,
                    ),
                );
            }
            Port::Events => {
                expected.insert(
                    "Events".into(),
                    statement(
                        &["events:PutEvents", "events:DescribeEventBus"],
                        vec![arn("EventBus")],
                    ),
                );
            }
            // Cognito's public client calls (sign-up, InitiateAuth, GetUser
            // with the user's token …) are authorised by the app client id
            // or the user's token, not by IAM.
            Port::Identity => {}
        }
    }
    expected
}

/// The statements a function's role gets from its `Policies`.
fn actual_statements(id: &str) -> BTreeMap<String, Statement> {
    assert!(props(id)["Role"].is_null(), "{id}: SAM builds its role");
    let policies = &props(id)["Policies"];
    let documents = match policies {
        Value::Null => return BTreeMap::new(),
        Value::Array(documents) => documents,
        other => panic!("{id}: Policies is {other}"),
    };
    // One inline document: no managed policies or SAM policy templates,
    // whose grants this test could not see.
    assert_eq!(documents.len(), 1, "{id}: one inline policy document");
    let statements = documents[0]["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("{id}: the policy is an inline document"));
    let mut actual = BTreeMap::new();
    for s in statements {
        let sid = s["Sid"].as_str().expect("every statement has a Sid");
        assert_eq!(s["Effect"], "Allow", "{id}.{sid}");
        let statement = Statement {
            actions: set_of(&s["Action"]),
            resources: set_of(&s["Resource"]),
        };
        assert!(
            actual.insert(sid.to_string(), statement).is_none(),
            "{id}: {sid} twice"
        );
    }
    actual
}

#[test]
fn every_function_gets_exactly_the_iam_statements_of_its_ports() {
    let functions = api()
        .map(|r| (r.function, r.ports))
        .chain(workers().map(|w| (w.function, w.ports)));
    for (function, ports) in functions {
        let id = function_id(function);
        assert_eq!(
            actual_statements(&id),
            expected_statements(ports),
            "{id} uses {ports:?}"
        );
    }
}

// ------------------------------------------------------------- resources

#[test]
fn every_queue_has_its_dead_letter_queue_and_redrive_policy() {
    for spec in QUEUES {
        let id = queue_id(spec.name);
        let dlq = queue_id(&spec.dead_letter_name());
        assert_eq!(resource(&id)["Type"], "AWS::SQS::Queue");
        assert_eq!(resource(&dlq)["Type"], "AWS::SQS::Queue");
        let queue = props(&id);
        assert_eq!(
            queue["VisibilityTimeout"],
            spec.visibility_timeout.as_secs(),
            "{id}"
        );
        assert_eq!(
            queue["RedrivePolicy"],
            json!({ "deadLetterTargetArn": arn(&dlq), "maxReceiveCount": spec.max_receives }),
            "{id}"
        );
        assert!(props(&dlq)["RedrivePolicy"].is_null(), "{dlq} is the end");
        // SQS's default retention is 4 days; a dead letter waits longer.
        let retention = |q: &Value| q["MessageRetentionPeriod"].as_u64().unwrap_or(345_600);
        assert!(
            retention(props(&dlq)) > retention(queue),
            "{dlq} keeps longer"
        );
    }
}

#[test]
fn every_queue_of_the_template_is_a_declared_queue() {
    let expected: BTreeSet<String> = all_queues().iter().map(|q| queue_id(q)).collect();
    assert_eq!(ids_of_type("AWS::SQS::Queue"), expected);
}

fn alarms() -> Vec<&'static Value> {
    resources()
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|r| &r["Properties"])
        .collect()
}

fn assert_alarms_when_above_zero(alarm: &Value, what: &str) {
    assert_eq!(alarm["Threshold"], 0, "{what}");
    assert_eq!(
        alarm["ComparisonOperator"], "GreaterThanThreshold",
        "{what}"
    );
    assert_eq!(
        alarm["AlarmActions"],
        json!([r#ref("AlarmTopic")]),
        "{what}"
    );
}

#[test]
fn a_dead_letter_in_any_queue_raises_an_alarm() {
    for spec in QUEUES {
        let dlq = queue_id(&spec.dead_letter_name());
        let dimension = json!([{
            "Name": "QueueName",
            "Value": { "Fn::GetAtt": [dlq, "QueueName"] },
        }]);
        let alarm = alarms()
            .into_iter()
            .find(|a| a["Dimensions"] == dimension)
            .unwrap_or_else(|| panic!("no alarm watches {dlq}"));
        assert_eq!(alarm["Namespace"], "AWS/SQS");
        assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
        assert_alarms_when_above_zero(alarm, &dlq);
    }
}

#[test]
fn an_api_5xx_raises_an_alarm() {
    let alarm = alarms()
        .into_iter()
        .find(|a| a["Namespace"] == "AWS/ApiGateway" && a["MetricName"] == "5xx")
        .expect("an alarm on the API's 5xx");
    assert_eq!(
        alarm["Dimensions"],
        json!([{ "Name": "ApiId", "Value": r#ref("HttpApi") }])
    );
    assert_alarms_when_above_zero(alarm, "5xx");
}

#[test]
fn every_bucket_is_private_and_encrypted() {
    for bucket in BUCKETS {
        let id = bucket_id(bucket);
        assert_eq!(resource(&id)["Type"], "AWS::S3::Bucket");
        let p = props(&id);
        for block in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(p["PublicAccessBlockConfiguration"][block], true, "{id}");
        }
        let rules = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"];
        assert!(
            rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"].is_string(),
            "{id}"
        );
        assert!(p["BucketName"].is_null(), "{id}: CloudFormation names it");
    }
    let expected: BTreeSet<String> = BUCKETS.iter().map(|b| bucket_id(b)).collect();
    assert_eq!(ids_of_type("AWS::S3::Bucket"), expected);
}

#[test]
fn every_rule_sends_its_pattern_to_its_queue_and_only_it_may_send() {
    for rule in RULES {
        let id = rule_id(rule.name);
        let queue = queue_id(rule.target_queue);
        assert_eq!(resource(&id)["Type"], "AWS::Events::Rule");
        let p = props(&id);
        assert_eq!(p["EventBusName"], r#ref("EventBus"), "{id}");
        let pattern: Value = serde_json::from_str(&rule.event_pattern()).expect("a JSON pattern");
        assert_eq!(p["EventPattern"], pattern, "{id}");
        assert_eq!(p["State"], "ENABLED", "{id}");
        let targets = p["Targets"].as_array().expect("targets");
        assert_eq!(targets.len(), 1, "{id}");
        assert_eq!(targets[0]["Arn"], arn(&queue), "{id}");

        // The target queue's policy lets this rule, and only it, send.
        let policy = resources()
            .values()
            .filter(|r| r["Type"] == "AWS::SQS::QueuePolicy")
            .map(|r| &r["Properties"])
            .find(|p| p["Queues"] == json!([r#ref(&queue)]))
            .unwrap_or_else(|| panic!("{queue} has no queue policy"));
        let statements = policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        let grant = statements
            .iter()
            .find(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"] == arn(&id))
            .unwrap_or_else(|| panic!("{queue} does not let {id} send"));
        assert_eq!(grant["Effect"], "Allow");
        assert_eq!(
            grant["Principal"],
            json!({ "Service": "events.amazonaws.com" })
        );
        assert_eq!(grant["Action"], "sqs:SendMessage");
        assert_eq!(grant["Resource"], arn(&queue));
        assert_eq!(statements.len(), 1, "{queue}: no other sender");
    }
    let expected: BTreeSet<String> = RULES.iter().map(|r| rule_id(r.name)).collect();
    assert_eq!(ids_of_type("AWS::Events::Rule"), expected);
    assert_eq!(resource("EventBus")["Type"], "AWS::Events::EventBus");
}

#[test]
fn every_function_finds_every_resource_through_its_environment() {
    let env = environment();
    assert_eq!(env["NOCODE_BACKEND"], "aws");
    let mut wanted = BTreeMap::from([
        ("NOCODE_TABLE_NAME".to_string(), r#ref("Table")),
        ("NOCODE_EVENT_BUS".to_string(), r#ref("EventBus")),
        ("NOCODE_USER_POOL_ID".to_string(), r#ref("UserPool")),
        (
            "NOCODE_USER_POOL_CLIENT_ID".to_string(),
            r#ref("UserPoolClient"),
        ),
    ]);
    for bucket in BUCKETS {
        wanted.insert(
            format!("NOCODE_BUCKET_{}", env_suffix(bucket)),
            r#ref(&bucket_id(bucket)),
        );
    }
    for queue in all_queues() {
        // The Ref of a queue is its URL.
        wanted.insert(
            format!("NOCODE_QUEUE_URL_{}", env_suffix(&queue)),
            r#ref(&queue_id(&queue)),
        );
    }
    for (name, value) in &wanted {
        assert_eq!(env.get(name), Some(value), "{name}");
    }

    // And shared::config reads every one of them.
    let lookup = |name: &str| {
        env.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let Ok(Backend::Aws(settings)) = Backend::from_lookup(lookup) else {
        panic!("the environment selects the AWS backend");
    };
    assert!(settings.table_name.is_some());
    assert!(settings.event_bus.is_some());
    assert!(settings.user_pool_id.is_some() && settings.user_pool_client_id.is_some());
    let buckets: BTreeSet<&str> = settings.buckets.keys().map(String::as_str).collect();
    assert_eq!(buckets, BUCKETS.iter().copied().collect());
    let queues: BTreeSet<String> = settings.queue_urls.keys().cloned().collect();
    assert_eq!(queues, all_queues().into_iter().collect());
    assert_eq!(settings.endpoint_url, None, "real AWS endpoints");
}

#[test]
fn the_table_has_the_keys_and_indexes_the_adapters_use() {
    let p = props("Table");
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["KeySchema"],
        json!([
            { "AttributeName": PK, "KeyType": "HASH" },
            { "AttributeName": SK, "KeyType": "RANGE" },
        ])
    );
    let mut attributes = vec![PK, SK];
    let mut indexes = Vec::new();
    for index in Index::ALL {
        attributes.extend([index.partition_attr(), index.sort_attr()]);
        indexes.push(json!({
            "IndexName": index.name(),
            "KeySchema": [
                { "AttributeName": index.partition_attr(), "KeyType": "HASH" },
                { "AttributeName": index.sort_attr(), "KeyType": "RANGE" },
            ],
            "Projection": { "ProjectionType": "ALL" },
        }));
    }
    let definitions: Vec<Value> = attributes
        .iter()
        .map(|a| json!({ "AttributeName": a, "AttributeType": "S" }))
        .collect();
    assert_eq!(p["AttributeDefinitions"], json!(definitions));
    assert_eq!(p["GlobalSecondaryIndexes"], json!(indexes));
    // The insights worker's markers carry `expires_at` (epoch seconds).
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({ "AttributeName": "expires_at", "Enabled": true })
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(resource("Table")["DeletionPolicy"], "Retain");
}

#[test]
fn the_user_pool_signs_in_by_email_with_the_password_policy() {
    let pool = props("UserPool");
    assert_eq!(pool["UsernameAttributes"], json!(["email"]));
    assert_eq!(pool["AutoVerifiedAttributes"], json!(["email"]));
    assert_eq!(pool["UsernameConfiguration"]["CaseSensitive"], false);
    let policy = &pool["Policies"]["PasswordPolicy"];
    assert_eq!(policy["MinimumLength"], PASSWORD_POLICY.min_length);
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
    assert_eq!(client["UserPoolId"], r#ref("UserPool"));
    assert_eq!(client["GenerateSecret"], false, "a public client");
    assert_eq!(
        client["ExplicitAuthFlows"],
        json!(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    );
}

#[test]
fn every_function_logs_json_to_its_own_log_group() {
    assert_eq!(globals()["LoggingConfig"]["LogFormat"], "JSON");
    for function in route_functions() {
        let id = function_id(&function);
        let group = format!("{}LogGroup", camel(&function));
        assert_eq!(
            props(&id)["LoggingConfig"]["LogGroup"],
            r#ref(&group),
            "{id}"
        );
        assert_eq!(resource(&group)["Type"], "AWS::Logs::LogGroup");
        assert_eq!(
            props(&group)["RetentionInDays"],
            r#ref("LogRetentionDays"),
            "{group}"
        );
    }
}

#[test]
fn the_stack_tells_a_client_where_the_api_and_the_user_pool_are() {
    let outputs = &TEMPLATE["Outputs"];
    assert_eq!(
        outputs["ApiUrl"]["Value"],
        sub("https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}")
    );
    assert_eq!(outputs["UserPoolId"]["Value"], r#ref("UserPool"));
    assert_eq!(
        outputs["UserPoolClientId"]["Value"],
        r#ref("UserPoolClient")
    );
}

#[test]
fn the_template_uses_only_long_form_intrinsics() {
    // Short tags (`!Ref`) need a CloudFormation-aware YAML reader; this test
    // and any other tool read the template as plain YAML.
    for (number, line) in TEMPLATE_TEXT.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or_default();
        let tag = code
            .split_whitespace()
            .find(|word| word.starts_with('!') && word.len() > 1);
        assert!(tag.is_none(), "template.yaml:{}: {line}", number + 1);
    }
    assert_eq!(TEMPLATE["Transform"], "AWS::Serverless-2016-10-31");
}

// -------------------------------------------------------------- binaries

#[test]
fn the_function_binaries_are_the_functions_of_the_route_table() {
    let manifest: toml::Table = read("functions/Cargo.toml")
        .parse()
        .expect("functions/Cargo.toml is TOML");
    let bins = manifest["bin"].as_array().expect("[[bin]] entries");
    let mut names = BTreeSet::new();
    for bin in bins {
        let name = bin["name"].as_str().expect("a bin name");
        assert!(names.insert(name.to_string()), "{name} twice");
        // Tests never link a function binary (DESIGN §8).
        assert_eq!(
            bin.get("test").and_then(toml::Value::as_bool),
            Some(false),
            "{name}"
        );
        let path = bin["path"].as_str().expect("a bin path");
        assert!(
            std::path::Path::new(ROOT)
                .join("functions")
                .join(path)
                .is_file(),
            "{name}: {path}"
        );
    }
    assert_eq!(names, route_functions());
}

#[test]
fn the_pre_sign_up_worker_is_the_pools_trigger_only_when_the_stack_auto_confirms() {
    for worker in workers() {
        let Trigger::PreSignUp { .. } = worker.trigger else {
            continue;
        };
        let id = function_id(worker.function);
        assert!(
            events(&id).is_empty(),
            "{id}: invoked by the pool, not by events"
        );
        assert_eq!(
            props("UserPool")["LambdaConfig"]["PreSignUp"],
            json!({"Fn::If": ["AutoConfirmSignUps", arn(&id), r#ref("AWS::NoValue")]})
        );
        let permission = resources()
            .values()
            .find(|r| {
                r["Type"] == "AWS::Lambda::Permission"
                    && r["Properties"]["FunctionName"] == arn(&id)
            })
            .expect("a permission for the pool to invoke it");
        assert_eq!(permission["Condition"], "AutoConfirmSignUps");
        assert_eq!(
            permission["Properties"]["Principal"],
            "cognito-idp.amazonaws.com"
        );
        assert_eq!(permission["Properties"]["SourceArn"], arn("UserPool"));
    }
}
