//! The `foundation-auth-password-forgot` API function (see `shared::routes`).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_api("foundation-auth-password-forgot").await
}
