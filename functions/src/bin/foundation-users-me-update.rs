//! The `foundation-users-me-update` API function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_api("foundation-users-me-update").await
}
