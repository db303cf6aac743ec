//! The ports a function uses, built once per cold start.
//!
//! A route names the [`Port`]s its handler needs; a Lambda function builds
//! only those (one SDK configuration, one client per port), the local gateway
//! builds all of them once. A handler asks for a port it did not declare and
//! gets a 500: the route table, not the handler, is where needs are stated.

use std::sync::Arc;

#[cfg(feature = "aws")]
use crate::adapters::aws;
#[cfg(feature = "embedded")]
use crate::adapters::embedded;
#[cfg(feature = "aws")]
use crate::config::AwsSettings;
#[cfg(feature = "embedded")]
use crate::config::EmbeddedSettings;
use crate::config::{AllowList, Backend};
use crate::http::ApiError;
use crate::ports::blobs::BlobStore;
use crate::ports::events::EventBus;
use crate::ports::http::Outbound;
use crate::ports::identity::Identity;
use crate::ports::mail::Mailer;
use crate::ports::queue::Queue;
use crate::ports::table::ItemTable;

/// One of the six ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// The item table (DynamoDB).
    Table,
    /// Blobs (S3).
    Blobs,
    /// Queues (SQS).
    Queue,
    /// Domain events (EventBridge).
    Events,
    /// The user pool (Cognito).
    Identity,
    /// The platform's own mail (SES).
    Mail,
}

impl Port {
    /// Every port.
    pub const ALL: [Port; 6] = [
        Port::Table,
        Port::Blobs,
        Port::Queue,
        Port::Events,
        Port::Identity,
        Port::Mail,
    ];

    const fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The name the health report uses.
    pub fn name(self) -> &'static str {
        match self {
            Port::Table => "table",
            Port::Blobs => "blobs",
            Port::Queue => "queue",
            Port::Events => "events",
            Port::Identity => "identity",
            Port::Mail => "mail",
        }
    }
}

/// A set of ports as bits, so that a function's binary can know its ports
/// at compile time (`PortSet::of(route.ports).bits()` as a const generic):
/// the adapters it does not use, and their SDK crates, are then not linked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortSet(u8);

impl PortSet {
    /// The set of `ports`.
    pub const fn of(ports: &[Port]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < ports.len() {
            bits |= ports[i].bit();
            i += 1;
        }
        Self(bits)
    }

    /// The set these bits (from [`PortSet::bits`]) name.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The bits, for a const generic.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether `port` is in the set.
    pub const fn has(self, port: Port) -> bool {
        self.0 & port.bit() != 0
    }

    /// The ports of the set, in [`Port::ALL`] order.
    pub fn ports(self) -> Vec<Port> {
        Port::ALL.into_iter().filter(|p| self.has(*p)).collect()
    }
}

/// A port that could not be built at start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the {port} port: {message}")]
pub struct StartError {
    /// The port's name.
    pub port: &'static str,
    /// Why.
    pub message: String,
}

#[cfg(any(feature = "embedded", feature = "aws"))]
fn start_error(port: Port) -> impl Fn(String) -> StartError {
    move |message| StartError {
        port: port.name(),
        message,
    }
}

/// The built ports of one process.
#[derive(Clone, Default)]
pub struct Services {
    backend: &'static str,
    table: Option<Arc<dyn ItemTable>>,
    blobs: Option<Arc<dyn BlobStore>>,
    queue: Option<Arc<dyn Queue>>,
    events: Option<Arc<dyn EventBus>>,
    identity: Option<Arc<dyn Identity>>,
    mailer: Option<Arc<dyn Mailer>>,
    /// Secrets kept in the table, as this process read them once.
    secrets: Arc<std::sync::Mutex<std::collections::BTreeMap<&'static str, Vec<u8>>>>,
    /// Outbound HTTP, built on first use (few functions make requests).
    http: Arc<std::sync::OnceLock<Arc<dyn Outbound>>>,
    /// What outbound HTTP may reach although private.
    http_allow: Arc<AllowList>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("backend", &self.backend)
            .field("ports", &self.ports())
            .finish()
    }
}

fn missing(port: Port) -> ApiError {
    ApiError::Internal(format!(
        "the {} port is not built for this route",
        port.name()
    ))
}

impl Services {
    /// No ports yet, on the named backend (`embedded` or `aws`).
    pub fn new(backend: &'static str) -> Self {
        Self {
            backend,
            ..Self::default()
        }
    }

    /// Builds the ports whose [`PortSet`] bits are `PORTS` on the configured
    /// backend: what a Lambda function does once, at its cold start. Its
    /// binary links the adapters of those ports only.
    pub async fn build<const PORTS: u8>(backend: &Backend) -> Result<Self, StartError> {
        let built: Result<Self, StartError> = match backend {
            #[cfg(feature = "embedded")]
            Backend::Embedded(settings) => {
                Self::embedded(settings, &PortSet::from_bits(PORTS).ports()).await
            }
            #[cfg(not(feature = "embedded"))]
            Backend::Embedded(_) => Err(StartError {
                port: "backend",
                message: "this build has no embedded backends (feature `embedded`)".into(),
            }),
            #[cfg(feature = "aws")]
            Backend::Aws(settings) => {
                let sdk = aws::load_lambda_sdk_config().await;
                Self::aws_in(&sdk, settings, PortSet::from_bits(PORTS))
            }
            #[cfg(not(feature = "aws"))]
            Backend::Aws(_) => Err(StartError {
                port: "backend",
                message: "this build has no AWS adapters (feature `aws`)".into(),
            }),
        };
        Ok(built?.with_http_allow(AllowList::from_env()))
    }

    /// Opens `ports` on the embedded backends under the data folder.
    #[cfg(feature = "embedded")]
    pub async fn embedded(settings: &EmbeddedSettings, ports: &[Port]) -> Result<Self, StartError> {
        let mut services = Self::new("embedded");
        let dir = settings.data_dir.as_path();
        if ports.contains(&Port::Mail) {
            services.mailer = Some(Arc::new(embedded::mailbox::Mailbox::new(dir)));
        }
        if ports.contains(&Port::Table) {
            let table = embedded::EmbeddedTable::open(dir)
                .map_err(|e| start_error(Port::Table)(e.to_string()))?;
            services.table = Some(Arc::new(table));
        }
        if ports.contains(&Port::Blobs) {
            let blobs = embedded::EmbeddedBlobs::open(settings)
                .map_err(|e| start_error(Port::Blobs)(e.to_string()))?;
            services.blobs = Some(Arc::new(blobs));
        }
        // The embedded bus delivers into the embedded queue.
        if ports.contains(&Port::Queue) || ports.contains(&Port::Events) {
            let queue: Arc<dyn Queue> = Arc::new(
                embedded::EmbeddedQueue::open(dir)
                    .map_err(|e| start_error(Port::Queue)(e.to_string()))?,
            );
            if ports.contains(&Port::Events) {
                services.events = Some(Arc::new(embedded::EmbeddedBus::new(Arc::clone(&queue))));
            }
            if ports.contains(&Port::Queue) {
                services.queue = Some(queue);
            }
        }
        if ports.contains(&Port::Identity) {
            let identity = embedded::EmbeddedIdentity::open(settings)
                .await
                .map_err(|e| start_error(Port::Identity)(e.to_string()))?;
            services.identity = Some(Arc::new(identity));
        }
        Ok(services)
    }

    /// Builds `ports` on AWS from one SDK configuration, one client each.
    #[cfg(feature = "aws")]
    pub fn aws(
        sdk: &aws_config::SdkConfig,
        settings: &AwsSettings,
        ports: &[Port],
    ) -> Result<Self, StartError> {
        Self::aws_in(sdk, settings, PortSet::of(ports))
    }

    // Inlined so that with a constant set the unused branches, and the SDK
    // clients they would build, fold away.
    #[cfg(feature = "aws")]
    #[inline(always)]
    fn aws_in(
        sdk: &aws_config::SdkConfig,
        settings: &AwsSettings,
        ports: PortSet,
    ) -> Result<Self, StartError> {
        let mut services = Self::new("aws");
        if ports.has(Port::Table) {
            let table = aws::DynamoTable::new(sdk, settings)
                .map_err(|e| start_error(Port::Table)(e.to_string()))?;
            services.table = Some(Arc::new(table));
        }
        if ports.has(Port::Blobs) {
            services.blobs = Some(Arc::new(aws::S3Blobs::new(sdk, settings)));
        }
        if ports.has(Port::Queue) {
            services.queue = Some(Arc::new(aws::SqsQueue::new(sdk, settings)));
        }
        if ports.has(Port::Events) {
            let bus = aws::EventBridgeBus::new(sdk, settings)
                .map_err(|e| start_error(Port::Events)(e.to_string()))?;
            services.events = Some(Arc::new(bus));
        }
        if ports.has(Port::Identity) {
            services.identity = Some(Arc::new(aws::CognitoIdentity::new(sdk, settings)));
        }
        if ports.has(Port::Mail)
            && let Some(mailer) = aws::SesMailer::new(sdk, settings)
        {
            services.mailer = Some(Arc::new(mailer));
        }
        Ok(services)
    }

    /// A secret this process already read from its table.
    pub fn remembered(&self, name: &str) -> Option<Vec<u8>> {
        self.secrets.lock().ok()?.get(name).cloned()
    }

    /// Keeps a secret read from the table for the process's life.
    pub fn remember(&self, name: &'static str, secret: Vec<u8>) {
        if let Ok(mut secrets) = self.secrets.lock() {
            secrets.insert(name, secret);
        }
    }

    /// The same backend with only `ports` (the gateway gives each route
    /// exactly what it declares, as its Lambda function would build).
    pub fn only(&self, ports: &[Port]) -> Self {
        let keep = |port: Port| ports.contains(&port);
        Self {
            backend: self.backend,
            table: self.table.clone().filter(|_| keep(Port::Table)),
            blobs: self.blobs.clone().filter(|_| keep(Port::Blobs)),
            queue: self.queue.clone().filter(|_| keep(Port::Queue)),
            events: self.events.clone().filter(|_| keep(Port::Events)),
            identity: self.identity.clone().filter(|_| keep(Port::Identity)),
            mailer: self.mailer.clone().filter(|_| keep(Port::Mail)),
            secrets: self.secrets.clone(),
            http: self.http.clone(),
            http_allow: self.http_allow.clone(),
        }
    }

    /// Replaces the identity port (the gateway keeps the concrete embedded pool
    /// for its authorizer and shares it here).
    pub fn with_identity(mut self, identity: Arc<dyn Identity>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Replaces the item table (the gateway keeps the concrete embedded table
    /// to tail its stream and shares it here).
    pub fn with_table(mut self, table: Arc<dyn ItemTable>) -> Self {
        self.table = Some(table);
        self
    }

    /// Passes the events port through `wrap` (tests put a bus that can fail
    /// in front of the real one).
    pub fn map_events(mut self, wrap: impl FnOnce(Arc<dyn EventBus>) -> Arc<dyn EventBus>) -> Self {
        self.events = self.events.take().map(wrap);
        self
    }

    /// Replaces the blob store (the gateway keeps the concrete embedded store
    /// to serve its presigned URLs and shares it here).
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// The mail the platform sends itself: the mailbox on one machine, SES on
    /// AWS; `None` where the function does not declare the port or the
    /// deployment has no sender.
    pub fn mailer(&self) -> Option<&dyn Mailer> {
        self.mailer.as_deref()
    }

    /// `embedded` or `aws`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The ports that are built.
    pub fn ports(&self) -> Vec<Port> {
        Port::ALL
            .into_iter()
            .filter(|p| match p {
                Port::Table => self.table.is_some(),
                Port::Blobs => self.blobs.is_some(),
                Port::Queue => self.queue.is_some(),
                Port::Events => self.events.is_some(),
                Port::Identity => self.identity.is_some(),
                Port::Mail => self.mailer.is_some(),
            })
            .collect()
    }

    /// The item table.
    pub fn table(&self) -> Result<&dyn ItemTable, ApiError> {
        self.table.as_deref().ok_or_else(|| missing(Port::Table))
    }

    /// The blob store.
    pub fn blobs(&self) -> Result<&dyn BlobStore, ApiError> {
        self.blobs.as_deref().ok_or_else(|| missing(Port::Blobs))
    }

    /// The queues.
    pub fn queue(&self) -> Result<&dyn Queue, ApiError> {
        self.queue.as_deref().ok_or_else(|| missing(Port::Queue))
    }

    /// The event bus.
    pub fn events(&self) -> Result<&dyn EventBus, ApiError> {
        self.events.as_deref().ok_or_else(|| missing(Port::Events))
    }

    /// The user pool.
    pub fn identity(&self) -> Result<&dyn Identity, ApiError> {
        self.identity
            .as_deref()
            .ok_or_else(|| missing(Port::Identity))
    }

    /// Outbound HTTP on a builder's behalf, guarded against the platform's
    /// own network (`adapters::egress`); the same on every backend.
    pub fn http(&self) -> &dyn Outbound {
        self.http
            .get_or_init(|| {
                Arc::new(crate::adapters::egress::Egress::new(
                    (*self.http_allow).clone(),
                ))
            })
            .as_ref()
    }

    /// The same services whose outbound HTTP may reach what `allow` opens
    /// (the local gateway's setting; tests open their own servers).
    pub fn with_http_allow(mut self, allow: AllowList) -> Self {
        self.http_allow = Arc::new(allow);
        self.http = Arc::new(std::sync::OnceLock::new());
        self
    }

    /// The identity port itself, to keep beside the services (the local
    /// gateway's authorizer).
    pub fn identity_handle(&self) -> Result<Arc<dyn Identity>, ApiError> {
        self.identity.clone().ok_or_else(|| missing(Port::Identity))
    }

    /// Probes every built port, concurrently, in [`Port::ALL`] order.
    pub async fn probe(&self) -> Vec<(Port, Result<(), String>)> {
        macro_rules! probe {
            ($field:ident, $port:expr) => {
                async {
                    match &self.$field {
                        Some(adapter) => Some(($port, adapter.probe().await)),
                        None => None,
                    }
                }
            };
        }
        let (table, blobs, queue, events, identity, mailer) = tokio::join!(
            probe!(table, Port::Table),
            probe!(blobs, Port::Blobs),
            probe!(queue, Port::Queue),
            probe!(events, Port::Events),
            probe!(identity, Port::Identity),
            probe!(mailer, Port::Mail),
        );
        [table, blobs, queue, events, identity, mailer]
            .into_iter()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_set_holds_exactly_its_ports() {
        const SET: PortSet = PortSet::of(&[Port::Events, Port::Table]);
        assert_eq!(SET.ports(), [Port::Table, Port::Events]);
        assert!(SET.has(Port::Table) && !SET.has(Port::Blobs));
        assert_eq!(PortSet::from_bits(SET.bits()), SET);
        assert_eq!(PortSet::of(&Port::ALL).ports(), Port::ALL);
        assert!(PortSet::of(&[]).ports().is_empty());
    }
}
