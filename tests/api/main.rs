//! End-to-end tests through the local gateway over HTTP, zero2prod style:
//! each test starts its own gateway with fresh state.

mod helpers;

mod accounts;
mod authorizer;
mod automation;
mod contract;
mod docs;
mod insights;
mod insights_metrics;
mod organizations;
mod outbox;
mod ports;
mod roles;
mod runtime_apps;
mod runtime_batch;
mod runtime_files;
mod runtime_keys;
mod runtime_queries;
mod runtime_records;
mod scopes;
mod smoke;
mod studio_bundles;
mod studio_pages;
mod studio_projects;
mod studio_tables;
mod workers;
