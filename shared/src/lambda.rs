//! What every function's `main` calls: read the settings and build the ports
//! the route needs once (the cold start), then hand each invocation to the
//! route's handler.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::config::Backend;
use crate::routes::{self, Trigger};
use crate::services::Services;

/// The error a function's main returns.
pub type Error = lambda_runtime::Error;

/// Runs the API function `function` of the route table.
pub async fn run_api(function: &str) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let route = routes::api_route(function)
        .ok_or_else(|| format!("`{function}` is not an API function of the route table"))?;
    let services = Arc::new(Services::build(&Backend::from_env()?, route.ports).await?);
    let handler = route.handler;
    lambda_http::run(lambda_http::service_fn(move |request| {
        let services = Arc::clone(&services);
        async move { Ok::<_, Infallible>(handler(services, request).await) }
    }))
    .await
}

/// Runs the worker function `function` of the route table.
pub async fn run_worker(function: &str) -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let worker = routes::worker(function)
        .ok_or_else(|| format!("`{function}` is not a worker of the route table"))?;
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
