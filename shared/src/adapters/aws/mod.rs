//! AWS SDK adapters. The SDK configuration is loaded once per cold start
//! ([`load_sdk_config`]) and each adapter builds only the client it needs.

pub mod blobs;
pub mod events;
pub mod identity;
pub mod jwks;
pub mod mail;
pub mod queue;
pub mod table;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

pub use blobs::S3Blobs;
pub use events::EventBridgeBus;
pub use identity::CognitoIdentity;
pub use mail::SesMailer;
pub use queue::SqsQueue;
pub use table::DynamoTable;

/// The roots AWS service endpoints chain to (Amazon Root CA 1–4 and
/// Starfield Services Root G2), shipped with the binary.
const AWS_ROOTS: [&[u8]; 5] = [
    include_bytes!("../../../certs/Amazon_Root_CA_1.pem"),
    include_bytes!("../../../certs/Amazon_Root_CA_2.pem"),
    include_bytes!("../../../certs/Amazon_Root_CA_3.pem"),
    include_bytes!("../../../certs/Amazon_Root_CA_4.pem"),
    include_bytes!("../../../certs/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
];

/// The one HTTP client every SDK client shares. Its trust store holds only the
/// AWS roots: the default client decodes every system root certificate at
/// start, which is most of a function's cold start (DESIGN.md §8).
pub fn http_client() -> SharedHttpClient {
    let trust = AWS_ROOTS.iter().fold(
        TrustStore::empty().with_native_roots(false),
        |store, pem| store.with_pem_certificate(*pem),
    );
    let tls = TlsContext::builder().with_trust_store(trust).build();
    let builder = Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match tls {
        Ok(tls) => builder.tls_context(tls).build_https(),
        // Building a context from a store never fails today; if it ever does,
        // the default context still works, only slower to start.
        Err(_) => builder.build_https(),
    }
}

/// Loads region, credentials and `AWS_ENDPOINT_URL` through the SDK's
/// default chains (profile files, SSO, instance metadata…), once, with the
/// shared HTTP client: for the local gateway's `--aws` mode and the tests.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The same inside Lambda, which always sets `AWS_REGION` and the role's
/// credentials in the environment: taking them from there skips building the
/// default chains (an STS client for web identity, instance metadata and
/// profile providers), a fifth of a function's cold start. Anywhere else it
/// falls back to the default chains.
pub async fn load_lambda_sdk_config() -> SdkConfig {
    let region = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty());
    let has_credentials = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    let (Some(region), true) = (region, has_credentials) else {
        return load_sdk_config().await;
    };
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(aws_config::Region::new(region))
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .load()
        .await
}

/// The full text of an SDK error, source chain included (never credentials).
pub(crate) fn describe<E: std::error::Error>(error: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
}
