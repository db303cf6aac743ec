//! What every function's `main` is: [`function_main!`] finds the function's
//! entry in the route table by the binary's own name at compile time, then
//! [`start`] reads the settings and builds the ports it declares once (the
//! cold start) and hands each invocation to its handler.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::config::Backend;
use crate::routes::{ApiRoute, Function, Trigger, WorkerRoute, shim};
use crate::services::Services;

/// The error a function's main returns.
pub type Error = lambda_runtime::Error;

/// The whole of a `functions/` binary: `shared::function_main!();`. The
/// binary's name picks its entry of the route table at compile time, so a
/// name that is no function does not compile, and the binary links only its
/// own handler.
#[macro_export]
macro_rules! function_main {
    () => {
        fn main() -> Result<(), $crate::lambda::Error> {
            const FUNCTION: $crate::routes::Function =
                $crate::routes::function(env!("CARGO_BIN_NAME"));
            $crate::lambda::start(FUNCTION)
        }
    };
}

/// Runs one function of the table on a Lambda runtime until it is shut down.
pub fn start(function: Function) -> Result<(), Error> {
    // Lambda hands a function one event at a time: one thread serves it, and
    // starting no worker pool keeps the cold start short.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match function {
            Function::Api(route) => run_api(route).await,
            Function::Worker(worker) => run_worker(worker).await,
        }
    })
}

/// Runs an API function.
pub async fn run_api(route: ApiRoute) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let services = Arc::new(Services::build(&Backend::from_env()?, route.ports).await?);
    lambda_http::run(lambda_http::service_fn(move |request| {
        let services = Arc::clone(&services);
        async move { Ok::<_, Infallible>(shim::invoke(&route, services, request).await) }
    }))
    .await
}

/// Runs a worker function.
pub async fn run_worker(worker: WorkerRoute) -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let services = Arc::new(Services::build(&Backend::from_env()?, worker.ports).await?);
    match worker.trigger {
        Trigger::Queue { handler, .. } => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
                let services = Arc::clone(&services);
                async move { Ok::<_, Infallible>(handler(services, event.payload).await) }
            }))
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
    }
}
