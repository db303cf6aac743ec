//! The `scheduler-tick` worker function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_worker("scheduler-tick").await
}
