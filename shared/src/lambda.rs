//! What every function's `main` is: [`function_main!`] finds the function's
//! entry in the route table by the binary's own name at compile time, then
//! [`start`] reads the settings and builds the ports it declares once (the
//! cold start) and hands each invocation to its handler.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use tracing_subscriber::filter::LevelFilter;

use crate::config::Backend;
use crate::insights::emf::Emf;
use crate::insights::rollup::Rollup;
use crate::requests::{self, Both, Observer};
use crate::routes::{ApiRoute, Function, Trigger, WorkerRoute, shim};
use crate::services::Services;

/// The error a function's main returns.
pub type Error = lambda_runtime::Error;

/// The whole of a `functions/` binary: `shared::function_main!();`. The
/// binary's name picks its entry of the route table at compile time, so a
/// name that is no function does not compile, and the binary links only its
/// own handler and the adapters of its own ports.
#[macro_export]
macro_rules! function_main {
    () => {
        fn main() -> Result<(), $crate::lambda::Error> {
            const FUNCTION: $crate::routes::Function =
                $crate::routes::function(env!("CARGO_BIN_NAME"));
            const PORTS: u8 = $crate::services::PortSet::of(FUNCTION.ports()).bits();
            $crate::lambda::start::<PORTS>(FUNCTION)
        }
    };
}

/// Runs one function of the table on a Lambda runtime until it is shut down;
/// `PORTS` are its ports' [`crate::services::PortSet`] bits.
pub fn start<const PORTS: u8>(function: Function) -> Result<(), Error> {
    // Lambda hands a function one event at a time: one thread serves it, and
    // starting no worker pool keeps the cold start short.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match function {
            Function::Api(route) => run_api::<PORTS>(route).await,
            Function::Worker(worker) => run_worker::<PORTS>(worker).await,
        }
    })
}

/// Logs as Lambda asks (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`), the
/// way lambda_runtime's default subscriber does, but filtered by level only:
/// its `EnvFilter` links a regex engine whose tables cost the cold start
/// thousands of relocations.
fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// How often a Lambda container writes its request counters to the table,
/// at most: a flush costs a read and a write per counter, added to the
/// invocation that makes it (a frozen container runs nothing after it).
const ROLLUP_EVERY: Duration = Duration::from_secs(60);

/// Runs an API function. Every request writes its EMF lines to stdout
/// after it; with the table among its ports, the function also keeps the
/// request counters of the metrics route and writes them at most once a
/// minute (docs/decisions.md).
pub async fn run_api<const PORTS: u8>(route: ApiRoute) -> Result<(), Error> {
    init_logging();
    let services = Arc::new(Services::build::<PORTS>(&Backend::from_env()?).await?);
    let emf = Arc::new(Emf::install(None)?);
    let rollup = services.table().is_ok().then(|| Arc::new(Rollup::new()));
    let observer: Arc<dyn Observer> = match &rollup {
        Some(rollup) => Arc::new(Both(emf.clone(), rollup.clone())),
        None => emf.clone(),
    };
    requests::install(observer);
    let flushed = Arc::new(Mutex::new(Instant::now()));
    lambda_http::run(lambda_http::service_fn(move |request| {
        let services = Arc::clone(&services);
        let (emf, rollup, flushed) = (emf.clone(), rollup.clone(), flushed.clone());
        async move {
            let response = shim::invoke(&route, Arc::clone(&services), request).await;
            if let Err(error) = emf.flush(std::io::stdout().lock()) {
                tracing::warn!(%error, "request metrics not written");
            }
            if let Some(rollup) = rollup {
                let due = {
                    let mut last = flushed.lock().unwrap_or_else(|p| p.into_inner());
                    let due = last.elapsed() >= ROLLUP_EVERY;
                    if due {
                        *last = Instant::now();
                    }
                    due
                };
                if let (true, Ok(table)) = (due, services.table())
                    && let Err(error) = rollup.flush(table).await
                {
                    tracing::warn!(%error, "request counters kept for the next flush");
                }
            }
            Ok::<_, Infallible>(response)
        }
    }))
    .await
}

/// Runs a worker function.
pub async fn run_worker<const PORTS: u8>(worker: WorkerRoute) -> Result<(), Error> {
    init_logging();
    let services = Arc::new(Services::build::<PORTS>(&Backend::from_env()?).await?);
    match worker.trigger {
        Trigger::Queue { handler, .. } => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
                let services = Arc::clone(&services);
                async move { Ok::<_, Infallible>(handler(services, event.payload).await) }
            }))
            .await
        }
        Trigger::TableStream { handler, .. } => {
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
                    let services = Arc::clone(&services);
                    async move { Ok::<_, Infallible>(handler(services, event.payload).await) }
                },
            ))
            .await
        }
        Trigger::PreSignUp { handler } => {
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<CognitoEventUserPoolsPreSignup>| {
                    let services = Arc::clone(&services);
                    async move { handler(services, event.payload).await.map_err(Error::from) }
                },
            ))
            .await
        }
        Trigger::Schedule { handler, .. } => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| {
                let services = Arc::clone(&services);
                async move { handler(services, event.payload).await.map_err(Error::from) }
            }))
            .await
        }
        Trigger::Authorizer { handler } => {
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| {
                    let services = Arc::clone(&services);
                    async move {
                        // Always through: the guarded function refuses what
                        // the context says is refused, with its own problem.
                        let mut response: ApiGatewayV2CustomAuthorizerSimpleResponse<
                            HashMap<String, serde_json::Value>,
                        > = Default::default();
                        response.is_authorized = true;
                        response.context = handler(services, event.payload).await;
                        Ok::<_, Infallible>(response)
                    }
                },
            ))
            .await
        }
    }
}
