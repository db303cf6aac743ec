//! The `foundation-invitations-revoke` API function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_api("foundation-invitations-revoke").await
}
