//! A project's pages: a name, a path the app serves it at, and a tree of
//! component instances ([`super::tree`]). Every save of a tree is checked
//! against the project's library and tables, guarded by the page's version
//! (a stale save is a 412 naming the current version) and kept in the
//! page's history; a restore is a new save of an old tree.
//!
//! Items, in the project's partition: `PAGE#<id>` holds a page with its
//! current tree, `PAGE_PATH#<path>` keeps paths unique, and
//! `PAGE_SAVE#<id>#<version>` holds each save. A tree is stored as JSON
//! text (DynamoDB nests maps at most 32 deep, a page's tree may go deeper);
//! one over [`INLINE_TREE_BYTES`] goes to the `pages` bucket under a key
//! no other save uses, and the items name it. Deleting a page publishes
//! `page.deleted`, on which the cleanup worker clears its history.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::projects::{self, Project};
use super::tree::{self, Context, Node};
use super::{EVENTS, StudioError, custom, keys, now, tables};
use crate::change::{self, Change, ChangeError};
use crate::http::schema as text;
use crate::http::{
    ApiError, Conflict, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, Page, json, json_body,
    no_content, page_params, path_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, Item, ItemTable, Key, Query, Write, from_item};
use crate::services::Services;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{OrganizationId, ProjectId, RequestMeta, Tenant, UserId};

/// The audited action of a creation.
pub const CREATED: &str = "page.created";
/// The audited action of a change (name, path or tree).
pub const UPDATED: &str = "page.updated";
/// The audited action of a restore.
pub const RESTORED: &str = "page.restored";
/// The audited action of a deletion.
pub const DELETED: &str = "page.deleted";
/// The event of every save of a tree.
pub const SAVED: &str = "page.saved";
/// Most pages a project holds.
pub const MAX_PAGES: u32 = 200;
/// Largest tree, as compact JSON; a larger one is a 413.
pub const MAX_TREE_BYTES: usize = 1024 * 1024;
/// Largest tree kept in the table's items; a larger one goes to blobs.
pub const INLINE_TREE_BYTES: usize = 32 * 1024;
/// The bucket of large trees.
pub const BUCKET: &str = "pages";
/// Longest page path.
pub const MAX_PATH: usize = 200;
/// A body holds a tree and a little more.
const BODY_LIMIT: usize = MAX_TREE_BYTES + DEFAULT_BODY_LIMIT;

/// A page without its tree, as lists show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PageSummary {
    /// Sortable id.
    pub id: String,
    /// Its project.
    pub project_id: ProjectId,
    /// The project's organization.
    pub organization_id: OrganizationId,
    /// Display name.
    pub name: String,
    /// Where the app serves it (`/`, `/orders/new`), unique in the project.
    pub path: String,
    /// The size of its tree as compact JSON, in bytes.
    pub size: u64,
    /// The custom components its tree uses (`custom:<id>`).
    #[serde(default)]
    pub uses: Vec<String>,
    /// Who created it.
    pub created_by: UserId,
    /// When (RFC 3339).
    pub created_at: String,
    /// Who saved it last.
    pub updated_by: UserId,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Moves with every change; a save sends back the one it read.
    pub version: u64,
}

/// A page with its tree.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PageView {
    /// The page.
    #[serde(flatten)]
    pub page: PageSummary,
    /// Its tree; the root is a `page`.
    pub tree: Node,
}

/// One save in a page's history, without its tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaveSummary {
    /// The page.
    pub page_id: String,
    /// The page's version this save made.
    pub version: u64,
    /// The tree's size, in bytes.
    pub size: u64,
    /// Who saved.
    pub saved_by: UserId,
    /// When (RFC 3339).
    pub saved_at: String,
    /// The version whose tree this save restored, if it is a restore.
    #[serde(default)]
    pub restored_from: Option<u64>,
}

/// One save with its tree.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SaveView {
    /// The save.
    #[serde(flatten)]
    pub save: SaveSummary,
    /// The tree it saved.
    pub tree: Node,
}

/// Where a tree is kept: in the item as JSON text, or in the bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct StoredTree {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tree_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tree_blob: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PageItem {
    #[serde(flatten)]
    page: PageSummary,
    #[serde(flatten)]
    stored: StoredTree,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SaveItem {
    #[serde(flatten)]
    save: SaveSummary,
    #[serde(flatten)]
    stored: StoredTree,
}

/// `POST /studio/projects/{id}/add_page/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePage {
    /// Display name, 1 to 100 characters.
    #[schema(schema_with = crate::http::schema::name)]
    pub name: String,
    /// Where the app serves it: `/`, or `/` and lower-case words, digits and
    /// hyphens between slashes; unique in the project.
    #[schema(schema_with = path_schema)]
    pub path: String,
    /// Its tree; an empty `page` unless given.
    #[serde(default)]
    pub tree: Option<Node>,
}

/// `PATCH /studio/projects/{id}/pages/{page_id}/`: a tree in it is a save.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePage {
    /// New display name.
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub name: Option<String>,
    /// New path.
    #[serde(default)]
    #[schema(schema_with = path_or_null)]
    pub path: Option<String>,
    /// The whole new tree.
    #[serde(default)]
    pub tree: Option<Node>,
    /// The version read; a stale one is a 412 with the current version.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

/// `POST …/pages/{page_id}/history/{version}/restore/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorePage {
    /// The page's version read; a stale one is a 412 with the current one.
    #[serde(default, deserialize_with = "crate::http::schema::optional_version")]
    #[schema(schema_with = crate::http::schema::version)]
    pub version: Option<u64>,
}

const PATH_PATTERN: &str = "^/([a-z0-9]+(-[a-z0-9]+)*(/[a-z0-9]+(-[a-z0-9]+)*)*)?$";

fn path_object(nullable: bool) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let types = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(types)
        .min_length(Some(1))
        .max_length(Some(MAX_PATH))
        .pattern(Some(PATH_PATTERN))
        .build()
}

fn path_schema() -> utoipa::openapi::schema::Object {
    path_object(false)
}

fn path_or_null() -> utoipa::openapi::schema::Object {
    path_object(true)
}

/// Checks a page path: `/`, or segments of lower-case words and digits
/// joined by single hyphens.
pub fn check_path(path: &str) -> Result<(), &'static str> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("starts with /");
    };
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let ok = path.len() <= MAX_PATH
        && (rest.is_empty() || rest.split('/').all(|s| s.split('-').all(word)));
    if ok {
        Ok(())
    } else {
        Err("is / or lower-case words, digits and single hyphens between slashes, at most 200")
    }
}

fn key(project_id: &str, page_id: &str) -> Key {
    Key::new(
        keys::project_partition(project_id),
        format!("PAGE#{page_id}"),
    )
}

fn path_key(project_id: &str, path: &str) -> Key {
    Key::new(
        keys::project_partition(project_id),
        format!("PAGE_PATH#{path}"),
    )
}

/// The sort key prefix of a page's saves.
pub fn saves_prefix(page_id: &str) -> String {
    format!("PAGE_SAVE#{page_id}#")
}

fn save_key(project_id: &str, page_id: &str, version: u64) -> Key {
    Key::new(
        keys::project_partition(project_id),
        format!("{}{version:020}", saves_prefix(page_id)),
    )
}

/// The blob key prefix of a project's (or, with `page`, a page's) trees.
pub fn blob_prefix(project_id: &str, page_id: Option<&str>) -> String {
    match page_id {
        Some(page) => format!("{project_id}/{page}/"),
        None => format!("{project_id}/"),
    }
}

fn audited(meta: &RequestMeta, page: &PageSummary, action: &str) -> Result<Write, ApiError> {
    Ok(audit::record(
        meta,
        &page.organization_id,
        action,
        Target {
            kind: "page",
            id: &page.id,
        },
    )?)
}

fn event(detail_type: &str, page: &PageSummary, by: &UserId) -> DomainEvent {
    DomainEvent::new(
        EVENTS,
        detail_type,
        json!({
            "organization_id": page.organization_id,
            "project_id": page.project_id,
            "page_id": page.id,
            "version": page.version,
            "by": by,
        }),
    )
}

/// Every page of a project, without trees (at most [`MAX_PAGES`]).
pub async fn all_pages(
    table: &dyn ItemTable,
    project_id: &str,
) -> Result<Vec<PageSummary>, ApiError> {
    let page = table
        .query(
            &Query::partition(keys::project_partition(project_id))
                .begins_with("PAGE#")
                .limit(MAX_PAGES),
        )
        .await?;
    page.items
        .into_iter()
        .map(|i| Ok(from_item::<PageItem>(i)?.page))
        .collect()
}

/// The custom components a tree uses.
pub fn custom_uses(root: &Node) -> Vec<String> {
    fn walk(node: &Node, uses: &mut BTreeSet<String>) {
        if node.component.starts_with(super::components::CUSTOM) {
            uses.insert(node.component.clone());
        }
        for child in &node.children {
            walk(child, uses);
        }
    }
    let mut uses = BTreeSet::new();
    walk(root, &mut uses);
    uses.into_iter().collect()
}

/// A tree checked against the project: its compact JSON, or why not.
async fn checked_tree(
    table: &dyn ItemTable,
    project: &str,
    root: &Node,
) -> Result<String, ApiError> {
    let tree_json = serde_json::to_string(root).map_err(|e| ApiError::Internal(e.to_string()))?;
    if tree_json.len() > MAX_TREE_BYTES {
        return Err(ApiError::TooLarge {
            limit: MAX_TREE_BYTES,
        });
    }
    let components = custom::library(table, project).await?;
    let fields = tables::field_ids(&tables::all_tables(table, project).await?);
    tree::check(
        root,
        &Context {
            components: &components,
            tables: &fields,
        },
    )
    .map_err(ApiError::Invalid)?;
    Ok(tree_json)
}

/// Keeps a tree where it fits: small ones in the items, large ones in the
/// bucket under a key of their own (a losing concurrent save cannot
/// overwrite the winner's).
async fn store(
    services: &Services,
    project: &str,
    page: &str,
    tree_json: String,
) -> Result<StoredTree, ApiError> {
    if tree_json.len() <= INLINE_TREE_BYTES {
        return Ok(StoredTree {
            tree_json: Some(tree_json),
            tree_blob: None,
        });
    }
    let blob = format!(
        "{}{}.json",
        blob_prefix(project, Some(page)),
        ulid::Ulid::generate()
    );
    services
        .blobs()?
        .put(BUCKET, &blob, Bytes::from(tree_json), "application/json")
        .await?;
    Ok(StoredTree {
        tree_json: None,
        tree_blob: Some(blob),
    })
}

async fn read_tree(services: &Services, stored: &StoredTree) -> Result<Node, ApiError> {
    let bytes = match (&stored.tree_json, &stored.tree_blob) {
        (Some(text), _) => Bytes::from(text.clone()),
        (None, Some(blob)) => services.blobs()?.get(BUCKET, blob).await?.bytes,
        (None, None) => return Err(ApiError::Internal("a page item holds no tree".into())),
    };
    serde_json::from_slice(&bytes).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Drops a blob a refused save left (best effort: it is unreachable anyway).
async fn forget(services: &Services, stored: &StoredTree) {
    if let (Some(blob), Ok(blobs)) = (&stored.tree_blob, services.blobs()) {
        let _ = blobs.delete(BUCKET, blob).await;
    }
}

fn page_item(page: &PageSummary, stored: &StoredTree) -> Result<Item, ApiError> {
    Ok(crate::ports::table::to_keyed_item(
        &PageItem {
            page: page.clone(),
            stored: stored.clone(),
        },
        key(&page.project_id, &page.id),
    )?)
}

/// The history item of the save that made `page`'s current version.
fn save_write(
    page: &PageSummary,
    stored: &StoredTree,
    restored_from: Option<u64>,
) -> Result<Write, ApiError> {
    let save = SaveItem {
        save: SaveSummary {
            page_id: page.id.clone(),
            version: page.version,
            size: page.size,
            saved_by: page.updated_by.clone(),
            saved_at: page.updated_at.clone(),
            restored_from,
        },
        stored: stored.clone(),
    };
    Ok(Write::Put {
        item: crate::ports::table::to_keyed_item(
            &save,
            save_key(&page.project_id, &page.id, page.version),
        )?,
        condition: Some(Condition::Absent),
    })
}

fn path_claim(page: &PageSummary) -> Result<Write, ApiError> {
    Ok(change::claim(
        &path_key(&page.project_id, &page.path),
        "page_id",
        &page.id,
    )?)
}

fn path_release(page: &PageSummary) -> Write {
    change::release(&path_key(&page.project_id, &page.path), "page_id", &page.id)
}

async fn load_item(
    services: &Services,
    request: &Request,
    tenant: &Tenant,
) -> Result<PageItem, ApiError> {
    let project = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    let id = path_param(request, "page_id")?;
    let item = services
        .table()?
        .get(&key(project, id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// The page's current version, for a 412 after a lost race.
async fn stale(services: &Services, page: &PageSummary) -> ApiError {
    let current = match services.table() {
        Ok(table) => table.get(&key(&page.project_id, &page.id)).await,
        Err(e) => return e,
    };
    match current.map(|i| i.map(from_item::<PageItem>)) {
        Ok(Some(Ok(item))) => ApiError::StaleVersion(Some(item.page.version)),
        Ok(None) => ApiError::NotFound,
        _ => ApiError::StaleVersion(None),
    }
}

async fn refusal(
    services: &Services,
    tenant: &Tenant,
    page: &PageSummary,
    error: ChangeError,
) -> ApiError {
    match error {
        ChangeError::Refused("path") => StudioError::PagePathTaken.into(),
        ChangeError::Refused("page" | "save") => stale(services, page).await,
        ChangeError::Refused("project") => {
            projects::count_refused(services, tenant, StudioError::TooManyPages).await
        }
        other => other.into(),
    }
}

/// A new page's item, its first save and its path's claim.
fn first_save(page: &PageSummary, stored: &StoredTree) -> Result<[Write; 3], ApiError> {
    Ok([
        Write::Put {
            item: page_item(page, stored)?,
            condition: Some(Condition::Absent),
        },
        save_write(page, stored, None)?,
        path_claim(page)?,
    ])
}

/// The writes of an imported page (its tree checked already, its ids new):
/// the tree is stored where it fits, then [`first_save`].
pub async fn new_page_writes(
    services: &Services,
    project: &Project,
    by: &UserId,
    page: super::bundle::BundlePage,
) -> Result<[Write; 3], ApiError> {
    let tree_json =
        serde_json::to_string(&page.tree).map_err(|e| ApiError::Internal(e.to_string()))?;
    let summary = PageSummary {
        id: page.id,
        project_id: project.id.clone(),
        organization_id: project.organization_id.clone(),
        name: page.name,
        path: page.path,
        size: tree_json.len() as u64,
        uses: custom_uses(&page.tree),
        created_by: by.clone(),
        created_at: project.created_at.clone(),
        updated_by: by.clone(),
        updated_at: project.created_at.clone(),
        version: 1,
    };
    let stored = store(services, &project.id, &summary.id, tree_json).await?;
    first_save(&summary, &stored)
}

/// Every page of a project with its current tree, in creation order.
pub async fn all_with_trees(
    services: &Services,
    project_id: &str,
) -> Result<Vec<(PageSummary, Node)>, ApiError> {
    let page = services
        .table()?
        .query(
            &Query::partition(keys::project_partition(project_id))
                .begins_with("PAGE#")
                .limit(MAX_PAGES),
        )
        .await?;
    let mut all = Vec::new();
    for item in page.items {
        let item: PageItem = from_item(item)?;
        let tree = read_tree(services, &item.stored).await?;
        all.push((item.page, tree));
    }
    Ok(all)
}

fn empty_page() -> Node {
    Node {
        id: "root".into(),
        component: "page".into(),
        props: serde_json::Map::new(),
        children: Vec::new(),
    }
}

/// Adds a page to a project (editors); its first save is version 1.
pub async fn create(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: CreatePage = json_body(&request, BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = text::take_name("name", &body.name, &mut errors);
    if let Err(why) = check_path(&body.path) {
        errors.push(FieldError::new("path", why));
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let table = services.table()?;
    let project: Project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let root = body.tree.unwrap_or_else(empty_page);
    let tree_json = checked_tree(table, &project.id, &root).await?;
    let at = now();
    let by = tenant.meta.caller.sub.clone();
    let page = PageSummary {
        id: ulid::Ulid::generate().to_string(),
        project_id: project.id.clone(),
        organization_id: project.organization_id.clone(),
        name,
        path: body.path,
        size: tree_json.len() as u64,
        uses: custom_uses(&root),
        created_by: by.clone(),
        created_at: at.clone(),
        updated_by: by.clone(),
        updated_at: at,
        version: 1,
    };
    let stored = store(&services, &project.id, &page.id, tree_json).await?;
    let [put, save, claim] = first_save(&page, &stored)?;
    let change = Change::new()
        .write("page", put)
        .write("save", save)
        .write("path", claim)
        .write("project", projects::count(&project, "pages", 1, MAX_PAGES))
        .write("audit", audited(&tenant.meta, &page, CREATED)?)
        .event(event(CREATED, &page, &by))
        .event(event(SAVED, &page, &by));
    if let Err(e) = change.commit(table).await {
        forget(&services, &stored).await;
        return Err(refusal(&services, &tenant, &page, e).await);
    }
    json(StatusCode::CREATED, &PageView { page, tree: root })
}

/// Lists a project's pages, without their trees (members).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let project = tenant.project_id.as_ref().ok_or(ApiError::NotFound)?;
    let page = services
        .table()?
        .query(
            &Query::partition(keys::project_partition(project))
                .begins_with("PAGE#")
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items: Vec<PageSummary> = page
        .items
        .into_iter()
        .map(|i| Ok(from_item::<PageItem>(i)?.page))
        .collect::<Result<_, ApiError>>()?;
    json(StatusCode::OK, &Page::new(items, page.next))
}

/// One page with its tree (members).
pub async fn get(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let item = load_item(&services, &request, &tenant).await?;
    let tree = read_tree(&services, &item.stored).await?;
    json(
        StatusCode::OK,
        &PageView {
            page: item.page,
            tree,
        },
    )
}

/// Commits a new version of a page: its item, and a history entry when
/// the tree was saved.
async fn commit_version(
    services: &Services,
    tenant: &Tenant,
    current: &PageItem,
    next: &PageSummary,
    stored: &StoredTree,
    save: Option<Option<u64>>,
    action: &str,
) -> Result<(), ApiError> {
    // Only a tree this request stored is dropped on refusal; a restore's
    // blob belongs to the save it restores.
    let fresh = save == Some(None) && current.stored != *stored;
    let project = projects::of_tenant(services, tenant).await?;
    let by = &tenant.meta.caller.sub;
    let mut change = Change::new()
        .write(
            "page",
            Write::Put {
                item: page_item(next, stored)?,
                condition: Some(Condition::version_is(current.page.version)),
            },
        )
        .write("project", projects::count(&project, "pages", 0, MAX_PAGES));
    if let Some(restored_from) = save {
        change = change
            .write("save", save_write(next, stored, restored_from)?)
            .event(event(SAVED, next, by));
    }
    if next.path != current.page.path {
        change = change
            .write("old_path", path_release(&current.page))
            .write("path", path_claim(next)?);
    }
    let change = change
        .write("audit", audited(&tenant.meta, next, action)?)
        .event(event(UPDATED, next, by));
    match change.commit(services.table()?).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if fresh {
                forget(services, stored).await;
            }
            Err(refusal(services, tenant, next, e).await)
        }
    }
}

/// Renames, moves or saves a page (editors). A tree in the body is a save:
/// checked whole, kept in the history.
pub async fn update(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: UpdatePage = json_body(&request, BODY_LIMIT)?;
    let mut errors = Vec::new();
    let name = text::take_new_name(body.name.as_deref(), &mut errors);
    if let Some(path) = &body.path
        && let Err(why) = check_path(path)
    {
        errors.push(FieldError::new("path", why));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let current = load_item(&services, &request, &tenant).await?;
    if body.version.is_some_and(|v| v != current.page.version) {
        return Err(ApiError::StaleVersion(Some(current.page.version)));
    }
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let mut next = current.page.clone();
    if let Some(name) = name {
        next.name = name;
    }
    if let Some(path) = body.path {
        next.path = path;
    }
    next.updated_by = tenant.meta.caller.sub.clone();
    next.updated_at = now();
    next.version += 1;
    let (stored, tree, save) = match body.tree {
        Some(root) => {
            let tree_json = checked_tree(services.table()?, &project.id, &root).await?;
            next.size = tree_json.len() as u64;
            next.uses = custom_uses(&root);
            let stored = store(&services, &project.id, &next.id, tree_json).await?;
            (stored, root, Some(None))
        }
        None => {
            let tree = read_tree(&services, &current.stored).await?;
            (current.stored.clone(), tree, None)
        }
    };
    commit_version(&services, &tenant, &current, &next, &stored, save, UPDATED).await?;
    json(StatusCode::OK, &PageView { page: next, tree })
}

/// Deletes a page (editors); its history is cleared after it.
pub async fn delete(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let current = load_item(&services, &request, &tenant).await?;
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let page = &current.page;
    let change = Change::new()
        .write(
            "page",
            Write::Delete {
                key: key(&page.project_id, &page.id),
                condition: Some(Condition::version_is(page.version)),
            },
        )
        .write("old_path", path_release(page))
        .write("project", projects::count(&project, "pages", -1, MAX_PAGES))
        .write("audit", audited(&tenant.meta, page, DELETED)?)
        .event(event(DELETED, page, &tenant.meta.caller.sub));
    match change.commit(services.table()?).await {
        Ok(()) => no_content(),
        Err(ChangeError::Refused("page")) => {
            Err(ApiError::Conflict(Conflict::CHANGED_CONCURRENTLY))
        }
        Err(e) => Err(refusal(&services, &tenant, page, e).await),
    }
}

/// A page's saves, newest first (members).
pub async fn history(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let current = load_item(&services, &request, &tenant).await?;
    let page = services
        .table()?
        .query(
            &Query::partition(keys::project_partition(&current.page.project_id))
                .begins_with(saves_prefix(&current.page.id))
                .backward()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items: Vec<SaveSummary> = page
        .items
        .into_iter()
        .map(|i| Ok(from_item::<SaveItem>(i)?.save))
        .collect::<Result<_, ApiError>>()?;
    json(StatusCode::OK, &Page::new(items, page.next))
}

async fn load_save(
    services: &Services,
    request: &Request,
    page: &PageSummary,
) -> Result<SaveItem, ApiError> {
    let version: u64 = path_param(request, "version")?
        .parse()
        .map_err(|_| ApiError::NotFound)?;
    let item = services
        .table()?
        .get(&save_key(&page.project_id, &page.id, version))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(from_item(item)?)
}

/// One save with its tree (members).
pub async fn save(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let current = load_item(&services, &request, &tenant).await?;
    let saved = load_save(&services, &request, &current.page).await?;
    let tree = read_tree(&services, &saved.stored).await?;
    json(
        StatusCode::OK,
        &SaveView {
            save: saved.save,
            tree,
        },
    )
}

/// Saves an old tree again as the page's new version (editors). The tree
/// is checked against the project as it is now.
pub async fn restore(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: RestorePage = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let current = load_item(&services, &request, &tenant).await?;
    let saved = load_save(&services, &request, &current.page).await?;
    if body.version.is_some_and(|v| v != current.page.version) {
        return Err(ApiError::StaleVersion(Some(current.page.version)));
    }
    let project = projects::of_tenant(&services, &tenant).await?;
    project.ensure_active()?;
    let root = read_tree(&services, &saved.stored).await?;
    checked_tree(services.table()?, &project.id, &root).await?;
    let mut next = current.page.clone();
    next.size = saved.save.size;
    next.uses = custom_uses(&root);
    next.updated_by = tenant.meta.caller.sub.clone();
    next.updated_at = now();
    next.version += 1;
    // The old save's blob, if any, is never rewritten: the new save names it too.
    commit_version(
        &services,
        &tenant,
        &current,
        &next,
        &saved.stored,
        Some(Some(saved.save.version)),
        RESTORED,
    )
    .await?;
    json(
        StatusCode::OK,
        &PageView {
            page: next,
            tree: root,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_slash_separated_words() {
        for good in ["/", "/orders", "/orders/new-one", "/a1/b2/c3"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "", "orders", "/Orders", "/orders/", "//", "/a--b", "/a b", "/-a",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        let regex = regex::Regex::new(PATH_PATTERN).map_err(|e| e.to_string());
        assert!(regex.is_ok_and(|r| r.is_match("/orders/new-one") && !r.is_match("/orders/")));
    }

    #[test]
    fn uses_lists_each_custom_component_once() -> Result<(), serde_json::Error> {
        let root: Node = serde_json::from_value(json!({
            "id": "root", "component": "page", "children": [
                {"id": "a", "component": "custom:X"},
                {"id": "b", "component": "container", "children": [
                    {"id": "c", "component": "custom:X"},
                    {"id": "d", "component": "custom:A"}
                ]}
            ]
        }))?;
        assert_eq!(custom_uses(&root), ["custom:A", "custom:X"]);
        Ok(())
    }
}
