//! The `foundation-organizations-leave` API function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_api("foundation-organizations-leave").await
}
