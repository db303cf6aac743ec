//! The `insights-ingest` worker function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_worker("insights-ingest").await
}
