//! The local gateway: the whole platform on one machine.
//!
//! It serves every route of `shared::routes` the way API Gateway does (payload
//! v2, JWT authorizer, trailing-slash tolerance), runs the workers in process
//! (the embedded event bus already applies the rules), serves the embedded
//! blob store's presigned URLs, the OpenAPI document and Swagger UI. With the
//! AWS backend it runs the same handlers on the SDK adapters, e.g. against
//! moto.

pub mod authorizer;
pub mod live;
pub mod proxy;
pub mod streams;
pub mod studio;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;

#[cfg(feature = "aws")]
use aws_config::SdkConfig;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::{any, get};
use shared::adapters::embedded::blobs::PRESIGNED_ROUTE;
use shared::adapters::embedded::{EmbeddedBlobs, EmbeddedIdentity, EmbeddedTable};
#[cfg(feature = "aws")]
use shared::config::AwsSettings;
use shared::config::EmbeddedSettings;
use shared::http::ApiError;
use shared::insights::rollup::Rollup;
use shared::ports::events::EventBus;
use shared::services::{Port, Services};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utoipa_swagger_ui::SwaggerUi;

use self::authorizer::Authorizer;
use self::proxy::Proxy;
use self::streams::ChangeStream;
pub use self::workers::WorkerSettings;

/// Largest upload the presigned URL route accepts into memory.
const MAX_UPLOAD: usize = 512 * 1024 * 1024;

/// How often the request counters go to the table: often enough that the
/// metrics route is current while someone watches it.
const METRICS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Which adapters the gateway runs on.
pub enum GatewayBackend {
    /// The embedded backends under a data folder.
    Embedded(EmbeddedSettings),
    /// The AWS adapters (real AWS or an emulator).
    #[cfg(feature = "aws")]
    Aws {
        /// The SDK configuration, loaded once.
        sdk: Box<SdkConfig>,
        /// The resource names.
        settings: AwsSettings,
    },
}

/// How to start the gateway.
pub struct GatewayConfig {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// The backend.
    pub backend: GatewayBackend,
    /// How the workers run.
    pub workers: WorkerSettings,
    /// The URL clients reach the gateway on (presigned URLs, token issuer);
    /// `None`: `http://<bound address>`.
    pub public_url: Option<String>,
    /// Puts something in front of the event bus: tests take the bus down to
    /// show the outbox loses nothing. `None` in the platform.
    pub bus_wrapper: Option<BusWrapper>,
    /// What workflows' HTTP steps may reach although private
    /// (`NOCODE_HTTP_ALLOW`).
    pub http_allow: shared::config::AllowList,
}

/// Wraps the event bus the workers publish to.
pub type BusWrapper = Box<dyn FnOnce(Arc<dyn EventBus>) -> Arc<dyn EventBus> + Send>;

/// A failure to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A backend cannot be opened.
    #[error("{0}")]
    Backend(String),
}

/// A running gateway.
pub struct RunningGateway {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The ports the handlers use (tests read the state behind the API).
    pub services: Arc<Services>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
    rollup: Arc<Rollup>,
}

impl RunningGateway {
    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server ends (Ctrl-C in the binary).
    pub async fn wait(self) {
        let _ = self.server.await;
    }

    /// Stops the server and the workers, and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        for worker in self.workers {
            let _ = worker.await;
        }
    }

    /// Writes the request counters to the table now, as the background
    /// flush does every few seconds (tests read the metrics route after).
    pub async fn flush_metrics(&self) -> Result<usize, String> {
        let table = self.services.table().map_err(|e| e.to_string())?;
        self.rollup.flush(table).await.map_err(|e| e.to_string())
    }

    /// A sender that stops the gateway when sent `true` (for signal handling).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

#[derive(Clone)]
struct AppState {
    proxy: Arc<Proxy>,
    blobs: Option<EmbeddedBlobs>,
    rollup: Arc<Rollup>,
}

async fn api(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    state.proxy.handle(request, peer).await
}

async fn presigned(State(state): State<AppState>, request: Request) -> Response {
    let Some(blobs) = state.blobs else {
        return proxy::problem_response(&ApiError::NotFound);
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_UPLOAD).await {
        Ok(bytes) => bytes,
        Err(_) => return proxy::problem_response(&ApiError::TooLarge { limit: MAX_UPLOAD }),
    };
    let response = blobs
        .serve_presigned(axum::http::Request::from_parts(parts, bytes))
        .await;
    response.map(Body::from)
}

/// Binds, opens the backends, starts the workers and serves.
pub async fn start(config: GatewayConfig) -> Result<RunningGateway, StartError> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.addr,
        source,
    })?;
    let backend_error = |e: &dyn std::fmt::Display| StartError::Backend(e.to_string());
    // An emulator serves one long poll per queue well, not several.
    let settings = match &config.backend {
        GatewayBackend::Embedded(_) => config.workers,
        #[cfg(feature = "aws")]
        GatewayBackend::Aws { .. } => WorkerSettings {
            pollers: 1,
            ..config.workers
        },
    };
    let (services, authorizer, blobs, stream) = match config.backend {
        GatewayBackend::Embedded(mut settings) => {
            settings.public_url = config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}"));
            let identity = Arc::new(
                EmbeddedIdentity::open(&settings)
                    .await
                    .map_err(|e| backend_error(&e))?,
            );
            let blobs = EmbeddedBlobs::open(&settings).map_err(|e| backend_error(&e))?;
            // The stream records what the stream triggers read, nothing more.
            let streamed: Vec<&str> = shared::routes::workers()
                .filter_map(|w| match w.trigger {
                    shared::routes::Trigger::TableStream { key_prefix, .. } => Some(key_prefix),
                    _ => None,
                })
                .collect();
            let table = EmbeddedTable::open(&settings.data_dir)
                .map_err(|e| backend_error(&e))?
                .streaming_only(&streamed);
            let services = Services::embedded(&settings, &[Port::Queue, Port::Events, Port::Mail])
                .await
                .map_err(|e| backend_error(&e))?
                .with_table(Arc::new(table.clone()))
                .with_identity(identity.clone())
                .with_blobs(Arc::new(blobs.clone()));
            let stream: Arc<dyn ChangeStream> = Arc::new(streams::EmbeddedStream::new(table));
            (services, Authorizer::new(identity), Some(blobs), stream)
        }
        #[cfg(feature = "aws")]
        GatewayBackend::Aws { sdk, settings } => {
            let services =
                Services::aws(&sdk, &settings, &Port::ALL).map_err(|e| backend_error(&e))?;
            let identity = services.identity_handle().map_err(|e| backend_error(&e))?;
            let authorizer = Authorizer::new(identity);
            let table = settings
                .table_name
                .as_deref()
                .ok_or_else(|| StartError::Backend("NOCODE_TABLE_NAME is not set".into()))?;
            let stream: Arc<dyn ChangeStream> = Arc::new(
                streams::DynamoStream::of_table(&sdk, table)
                    .await
                    .map_err(StartError::Backend)?,
            );
            (services, authorizer, None, stream)
        }
    };
    let services = match config.bus_wrapper {
        Some(wrap) => services.map_events(wrap),
        None => services,
    }
    .with_http_allow(config.http_allow);
    let services = Arc::new(services);
    let (stop, stopped) = watch::channel(false);
    let mut workers = workers::spawn_all(&services, settings, &stopped, &stream);
    // This gateway's own counters, not the process's: a test process runs
    // many gateways, each on its own table.
    let rollup = Arc::new(Rollup::new());
    workers.push(tokio::spawn(flush_metrics(
        Arc::clone(&rollup),
        Arc::clone(&services),
        stopped.clone(),
    )));
    let state = AppState {
        proxy: Arc::new(Proxy {
            services: Arc::clone(&services),
            authorizer,
            observer: rollup.clone(),
        }),
        blobs,
        rollup: Arc::clone(&rollup),
    };
    let router = Router::new()
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", shared::openapi::document()))
        .route(&format!("/{PRESIGNED_ROUTE}/{{*key}}"), any(presigned))
        .route(live::PATH, get(live::serve))
        .route(&format!("{}/", live::PATH), get(live::serve))
        .route("/studio", get(studio::redirect))
        .route("/studio/", get(studio::serve))
        .route("/studio/{*path}", get(studio::serve))
        .fallback(api)
        .with_state(state);
    let mut shutdown = stopped.clone();
    let server = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await;
        if let Err(error) = served {
            tracing::error!(%error, "the gateway stopped");
        }
    });
    Ok(RunningGateway {
        addr,
        services,
        stop,
        server,
        workers,
        rollup,
    })
}

/// Writes the request counters every few seconds, and once more at
/// shutdown so a stopped platform loses none.
async fn flush_metrics(
    rollup: Arc<Rollup>,
    services: Arc<Services>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(table) = services.table() else {
        return;
    };
    let mut every = tokio::time::interval(METRICS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = every.tick() => false,
            _ = stop.wait_for(|stop| *stop) => true,
        };
        if let Err(error) = rollup.flush(table).await {
            tracing::warn!(%error, "request counters kept for the next flush");
        }
        if stopping {
            return;
        }
    }
}
