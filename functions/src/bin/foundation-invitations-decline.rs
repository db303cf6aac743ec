//! The `foundation-invitations-decline` Lambda function: its entry of the route table, by this
//! binary's name (see `shared::routes`).

shared::function_main!();
