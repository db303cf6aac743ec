//! Insights: what the platform observed. For now the ingest worker that
//! counts every domain event.

pub mod ingest;
