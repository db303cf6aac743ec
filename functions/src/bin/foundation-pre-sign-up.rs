//! The `foundation-pre-sign-up` worker function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_worker("foundation-pre-sign-up").await
}
