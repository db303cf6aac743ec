//! What every conformance module shares: the moto endpoint, unique resource
//! names, and the macros that run one behaviour on both adapters.

use aws_config::SdkConfig;

/// Runs each behaviour (an `async fn(&Fixture)`) on both adapters.
/// The fixture type has `async fn embedded() -> Self` and `async fn aws() -> Self`.
macro_rules! conformance {
    ($fixture:ident: $($behaviour:ident),+ $(,)?) => {
        mod embedded {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let fixture = $fixture::embedded().await;
                    super::$behaviour(&fixture).await;
                }
            )+
        }
        mod aws {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let fixture = $fixture::aws().await;
                    super::$behaviour(&fixture).await;
                }
            )+
        }
    };
}

/// Behaviours moto cannot show, proved on the embedded adapter; each names
/// the gap (see the list in `main.rs`).
macro_rules! embedded_only {
    ($fixture:ident: $($behaviour:ident => $gap:literal),+ $(,)?) => {
        mod embedded_only {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = $gap]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let fixture = $fixture::embedded().await;
                    super::$behaviour(&fixture).await;
                }
            )+
        }
    };
}

/// The moto server the test command started. Missing means the suite was
/// started without it: that is a failure, never a skip.
pub fn moto_url() -> String {
    match std::env::var("NOCODE_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "NOCODE_TEST_MOTO_URL is not set: run the suite with `infra/test`, \
             which starts moto server and sets it"
        ),
    }
}

/// An SDK configuration pointed at moto. Built per test: SDK clients keep
/// connection pools tied to the runtime that made them, and every test has
/// its own runtime.
pub async fn sdk_config() -> SdkConfig {
    nocode::emulator::sdk_config(&moto_url()).await
}

/// A name no other test uses, for resources on the shared moto server.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    )
}

/// A fresh data folder for an embedded adapter, removed when dropped.
pub fn data_dir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("cannot create a temporary data folder: {e}"),
    }
}

pub use nocode_tests::eventually;
