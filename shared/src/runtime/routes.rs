//! Runtime's functions: the records of every table.

use super::{batch, cleanup, indexer, listing, records};
use crate::routes::{Access, ApiRoute, BodySchema, Module, Trigger, WorkerRoute, scoped};
use crate::services::Port;
use crate::tenancy::Role;

/// Runtime's routes.
pub const MODULE: Module = Module {
    name: "runtime",
    api: API,
    workers: WORKERS,
};

const WORKERS: &[WorkerRoute] = &[
    WorkerRoute {
        function: "runtime-cleanup",
        trigger: Trigger::Queue {
            queue: "runtime-cleanup",
            handler: |services, event| Box::pin(cleanup::handle(services, event)),
        },
        ports: &[Port::Table],
        summary: "Clears a deleted table's records and unique values",
    },
    WorkerRoute {
        function: "runtime-index",
        trigger: Trigger::Queue {
            queue: indexer::QUEUE,
            handler: |services, event| Box::pin(indexer::handle(services, event)),
        },
        ports: &[Port::Table, Port::Queue],
        summary: "Fills a new index from a table's records and clears dropped ones",
    },
    WorkerRoute {
        function: "runtime-batch",
        trigger: Trigger::Queue {
            queue: batch::QUEUE,
            handler: |services, event| Box::pin(batch::recover(services, event)),
        },
        ports: &[Port::Table, Port::Queue],
        summary: "Finishes a records batch its request left: back if pending, forward if committed",
    },
];

const RECORDS: &str = "/api/v1/runtime/projects/{id}/tables/{table_id}/records";

const API: &[ApiRoute] = &[
    ApiRoute {
        function: "runtime-records-create",
        method: "POST",
        path: RECORDS,
        access: Access::project("id", Role::Editor).audited(records::CREATED),
        ports: &[Port::Table],
        summary: "Create a record, checked against its table's schema (editors)",
        request: Some(BodySchema::of::<records::RecordBody>()),
        query: &[],
        response: Some(BodySchema::of::<records::RecordView>()),
        status: 201,
        refusals: &[409],
        handler: scoped!(records::create),
    },
    ApiRoute {
        function: "runtime-records-list",
        method: "GET",
        path: RECORDS,
        access: Access::project("id", Role::Viewer),
        ports: &[Port::Table],
        summary: "A table's records: filtered, sorted, paged with a signed cursor, counted, trimmed and expanded (members)",
        request: None,
        query: listing::QUERY,
        response: Some(BodySchema::of::<listing::RecordPage>()),
        status: 200,
        refusals: &[],
        handler: scoped!(listing::list),
    },
    ApiRoute {
        function: "runtime-records-batch",
        method: "POST",
        path: "/api/v1/runtime/projects/{id}/tables/{table_id}/records/batch",
        access: Access::project("id", Role::Editor).audited(batch::BATCHED),
        ports: &[Port::Table],
        summary: "Create, replace, update and delete up to 100 records, all or nothing (editors)",
        request: Some(BodySchema::of::<batch::BatchBody>()),
        query: &[],
        response: Some(BodySchema::of::<batch::BatchAnswer>()),
        status: 200,
        refusals: &[409, 412],
        handler: scoped!(batch::run),
    },
    ApiRoute {
        function: "runtime-records-get",
        method: "GET",
        path: "/api/v1/runtime/projects/{id}/tables/{table_id}/records/{record_id}",
        access: Access::project("id", Role::Viewer),
        ports: &[Port::Table],
        summary: "One record (members)",
        request: None,
        query: &[],
        response: Some(BodySchema::of::<records::RecordView>()),
        status: 200,
        refusals: &[],
        handler: scoped!(records::get),
    },
    ApiRoute {
        function: "runtime-records-replace",
        method: "PUT",
        path: "/api/v1/runtime/projects/{id}/tables/{table_id}/records/{record_id}",
        access: Access::project("id", Role::Editor).audited(records::UPDATED),
        ports: &[Port::Table],
        summary: "Replace a record's values; fields not named take their default (editors)",
        request: Some(BodySchema::of::<records::RecordBody>()),
        query: &[],
        response: Some(BodySchema::of::<records::RecordView>()),
        status: 200,
        refusals: &[409, 412],
        handler: scoped!(records::replace),
    },
    ApiRoute {
        function: "runtime-records-update",
        method: "PATCH",
        path: "/api/v1/runtime/projects/{id}/tables/{table_id}/records/{record_id}",
        access: Access::project("id", Role::Editor).audited(records::UPDATED),
        ports: &[Port::Table],
        summary: "Change the values a request names (editors)",
        request: Some(BodySchema::of::<records::RecordBody>()),
        query: &[],
        response: Some(BodySchema::of::<records::RecordView>()),
        status: 200,
        refusals: &[409, 412],
        handler: scoped!(records::update),
    },
    ApiRoute {
        function: "runtime-records-delete",
        method: "DELETE",
        path: "/api/v1/runtime/projects/{id}/tables/{table_id}/records/{record_id}",
        access: Access::project("id", Role::Editor).audited(records::DELETED),
        ports: &[Port::Table],
        summary: "Delete a record, giving its unique values back (editors)",
        request: None,
        query: records::DELETE_QUERY,
        response: None,
        status: 204,
        refusals: &[409, 412],
        handler: scoped!(records::delete),
    },
];
