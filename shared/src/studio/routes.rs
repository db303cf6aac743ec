//! Studio's functions: projects (and, as studio grows, their tables,
//! components, pages and history), and the worker that clears a deleted
//! project.

use super::{cleanup, projects};
use crate::routes::{Access, ApiRoute, BodySchema, Module, Trigger, WorkerRoute, plain, scoped};
use crate::services::Port;
use crate::tenancy::Role;

/// Studio's routes and workers.
pub const MODULE: Module = Module {
    name: "studio",
    api: API,
    workers: WORKERS,
};

const API: &[ApiRoute] = &[
    ApiRoute {
        function: "studio-projects-create",
        method: "POST",
        path: "/api/v1/studio/projects",
        // The organization is in the body: the handler checks the caller
        // edits there (404 for a non-member, 403 audited for a viewer).
        access: Access::SignedIn,
        ports: &[Port::Table],
        summary: "Create a project in an organization (editors)",
        request: Some(BodySchema::of::<projects::CreateProject>()),
        query: &[],
        response: Some(BodySchema::of::<projects::Project>()),
        status: 201,
        refusals: &[403, 409],
        handler: plain!(projects::create),
    },
    ApiRoute {
        function: "studio-projects-list",
        method: "GET",
        path: "/api/v1/studio/projects",
        access: Access::SignedIn,
        ports: &[Port::Table],
        summary: "The caller's projects, or one organization's (members)",
        request: None,
        query: projects::LIST_QUERY,
        response: Some(BodySchema::page_of::<projects::Project>()),
        status: 200,
        refusals: &[],
        handler: plain!(projects::list),
    },
    ApiRoute {
        function: "studio-projects-get",
        method: "GET",
        path: "/api/v1/studio/projects/{id}",
        access: Access::project("id", Role::Viewer),
        ports: &[Port::Table],
        summary: "One project (members)",
        request: None,
        query: &[],
        response: Some(BodySchema::of::<projects::Project>()),
        status: 200,
        refusals: &[],
        handler: scoped!(projects::get),
    },
    ApiRoute {
        function: "studio-projects-update",
        method: "PATCH",
        path: "/api/v1/studio/projects/{id}",
        access: Access::project("id", Role::Editor).audited(projects::UPDATED),
        ports: &[Port::Table],
        summary: "Rename, describe or re-slug a project (editors)",
        request: Some(BodySchema::of::<projects::UpdateProject>()),
        query: &[],
        response: Some(BodySchema::of::<projects::Project>()),
        status: 200,
        refusals: &[409, 412],
        handler: scoped!(projects::update),
    },
    ApiRoute {
        function: "studio-projects-archive",
        method: "POST",
        path: "/api/v1/studio/projects/{id}/archive",
        access: Access::project("id", Role::Editor).audited(projects::ARCHIVED),
        ports: &[Port::Table],
        summary: "Archive a project: it reads, changes wait (editors)",
        request: None,
        query: &[],
        response: Some(BodySchema::of::<projects::Project>()),
        status: 200,
        refusals: &[409],
        handler: scoped!(projects::archive),
    },
    ApiRoute {
        function: "studio-projects-unarchive",
        method: "POST",
        path: "/api/v1/studio/projects/{id}/unarchive",
        access: Access::project("id", Role::Editor).audited(projects::UNARCHIVED),
        ports: &[Port::Table],
        summary: "Bring an archived project back (editors)",
        request: None,
        query: &[],
        response: Some(BodySchema::of::<projects::Project>()),
        status: 200,
        refusals: &[409],
        handler: scoped!(projects::unarchive),
    },
    ApiRoute {
        function: "studio-projects-delete",
        method: "DELETE",
        path: "/api/v1/studio/projects/{id}",
        access: Access::project("id", Role::Admin).audited(projects::DELETED),
        ports: &[Port::Table],
        summary: "Delete a project and, after it, everything it holds (admins)",
        request: None,
        query: &[],
        response: None,
        status: 204,
        refusals: &[409],
        handler: scoped!(projects::delete),
    },
];

const WORKERS: &[WorkerRoute] = &[WorkerRoute {
    function: "studio-cleanup",
    trigger: Trigger::Queue {
        queue: "studio-cleanup",
        handler: |services, event| Box::pin(cleanup::handle(services, event)),
    },
    ports: &[Port::Table],
    summary: "Clears a deleted project's tables, pages and history",
}];
