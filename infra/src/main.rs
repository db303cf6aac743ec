//! `cargo run --release`: the whole NoCode platform on one machine.
//!
//! Serves every route on 127.0.0.1:8000 with the embedded, durable backends
//! under `.nocode/`; `--aws` runs the same handlers on the AWS adapters
//! (with `AWS_ENDPOINT_URL` pointing at an emulator, `--provision` creates
//! the resources there first). `cargo run -- generate` writes the files that
//! follow from the route table (template.yaml, infra/stacks/, functions/).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use nocode::gateway::{self, GatewayBackend, GatewayConfig, WorkerSettings};
#[cfg(feature = "aws")]
use shared::config::AwsSettings;
use shared::config::{Backend, EmbeddedSettings};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mi_option_e` has no constant in
/// the bindings): how long freed memory stays with the process.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Gives freed memory back to the system at once rather than 10 ms (100 ms
/// for arenas) later: a burst (a password's 19 MiB hash, a backlog of
/// queued runs) otherwise leaves the platform holding its peak, and the
/// local platform's memory has a target (infra/bench/automation). Set before the
/// workers start; mimalloc reads options when it first needs them.
fn release_freed_memory_at_once() {
    // SAFETY: sets an integer option of the allocator, which mimalloc
    // documents as safe to call at any time from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// The NoCode platform's local gateway.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Port to listen on.
    #[arg(long, env = "NOCODE_PORT", default_value_t = 8000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "NOCODE_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Folder of the embedded backends.
    #[arg(long, env = "NOCODE_DATA_DIR", default_value = ".nocode")]
    data_dir: PathBuf,
    /// Use the AWS adapters (settings from the environment, see README).
    #[arg(long)]
    aws: bool,
    /// With --aws: create every resource on the emulator first.
    #[arg(long, requires = "aws")]
    provision: bool,
    /// Instead of serving, do this.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write template.yaml, infra/stacks/ and functions/ from the route table.
    Generate {
        /// Only say what differs; exit 1 when anything does.
        #[arg(long)]
        check: bool,
    },
}

/// The repository root: the generated paths are relative to it.
fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate(check: bool) -> Result<(), Box<dyn std::error::Error>> {
    let root = repository_root();
    if check {
        let differences = nocode::generate::differences(&root, shared::routes::MODULES);
        for difference in &differences {
            println!("{difference}");
        }
        if !differences.is_empty() {
            return Err("generated files are out of date: run `cargo run -- generate`".into());
        }
        return Ok(());
    }
    for change in nocode::generate::write(&root, shared::routes::MODULES)? {
        println!("{change}");
    }
    Ok(())
}

/// The AWS adapters, on the resources the environment names (or on fresh
/// ones provisioned on an emulator).
#[cfg(feature = "aws")]
async fn aws_backend(provision: bool) -> Result<GatewayBackend, Box<dyn std::error::Error>> {
    let sdk = shared::adapters::aws::load_sdk_config().await;
    let settings = if provision {
        let suffix = ulid::Ulid::generate().to_string().to_lowercase();
        nocode::emulator::provision_all(&sdk, &suffix).await?
    } else {
        AwsSettings::from_env()
    };
    Ok(GatewayBackend::Aws {
        sdk: Box::new(sdk),
        settings,
    })
}

#[cfg(not(feature = "aws"))]
async fn aws_backend(_provision: bool) -> Result<GatewayBackend, Box<dyn std::error::Error>> {
    Err("this build has no AWS adapters: run `cargo run --release --features aws -- --aws`".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    release_freed_memory_at_once();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Some(Command::Generate { check }) = cli.command {
        return generate(check);
    }
    let addr = SocketAddr::new(cli.host, cli.port);
    let use_aws = cli.aws || std::env::var("NOCODE_BACKEND").is_ok_and(|b| b == "aws");
    let backend = if use_aws {
        aws_backend(cli.provision).await?
    } else {
        let mut settings = match Backend::from_env()? {
            Backend::Embedded(settings) => settings,
            Backend::Aws(_) => EmbeddedSettings::new(&cli.data_dir),
        };
        settings.data_dir = cli.data_dir.clone();
        GatewayBackend::Embedded(settings)
    };
    let running = gateway::start(GatewayConfig {
        addr,
        backend,
        workers: WorkerSettings::default(),
        public_url: std::env::var("NOCODE_PUBLIC_URL").ok(),
        bus_wrapper: None,
        http_allow: shared::config::AllowList::from_env(),
    })
    .await?;
    tracing::info!(
        url = running.url(),
        backend = running.services.backend(),
        "NoCode platform is up: {}/api/docs/",
        running.url()
    );
    let stop = running.stopper();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    running.wait().await;
    Ok(())
}
