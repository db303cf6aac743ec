//! The `foundation-organizations-list` API function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_api("foundation-organizations-list").await
}
