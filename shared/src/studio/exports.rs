//! Export and import of a whole project as one [`super::bundle`].
//!
//! An export reads the project's tables, components and pages, writes the
//! bundle to the `exports` bucket and answers a presigned URL to download
//! it. An import checks the whole bundle first (a refusal writes nothing),
//! remaps every id, writes the tables, components and pages under a
//! project id that does not exist yet, then creates the project with its
//! counters, slug, audit entry and events in one last transaction: until
//! that commits nothing of it is reachable, and if it is refused the
//! partition is cleared again.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::bundle::{
    self, Bundle, BundleComponent, BundlePage, BundleProject, BundleTable, IdKind,
};
use super::components::CUSTOM;
use super::custom::{self, CustomComponent};
use super::projects::{self, Project, ProjectStatus};
use super::schema::new_field_id;
use super::tables::{self, DataTable};
use super::{EVENTS, StudioError, cleanup, keys, now, pages};
use crate::change::Change;
use crate::http::{ApiError, FieldError, HandlerResult, json, json_body};
use crate::ports::events::DomainEvent;
use crate::ports::table::{MAX_TRANSACTION_WRITES, Write};
use crate::services::Services;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{ProjectId, RequestMeta, Role, Tenant, guard};

/// The audited action of an export.
pub const EXPORTED: &str = "project.exported";
/// The audited action (and event) of an import.
pub const IMPORTED: &str = "project.imported";
/// The bucket of exports.
pub const BUCKET: &str = "exports";
/// How long an export's download URL works.
pub const DOWNLOAD_FOR: Duration = Duration::from_secs(15 * 60);
/// Largest bundle an import reads (a Lambda request holds 6 MB).
pub const MAX_BUNDLE_BYTES: usize = 5 * 1024 * 1024;

/// An export's answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Export {
    /// Where the bundle is kept, in the exports bucket.
    pub key: String,
    /// A URL that downloads it without credentials, until `expires_at`.
    pub url: String,
    /// When the URL stops working (RFC 3339).
    pub expires_at: String,
    /// The bundle's size in bytes.
    pub size: u64,
    /// The bundle's format version.
    pub format_version: u32,
    /// What it holds.
    pub tables: usize,
    /// Custom components it holds.
    pub components: usize,
    /// Pages it holds.
    pub pages: usize,
}

/// `POST /studio/projects/import/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportProject {
    /// The organization the new project goes to (the caller edits there).
    #[schema(min_length = 1, max_length = 64)]
    pub organization_id: String,
    /// A name instead of the bundle's.
    #[serde(default)]
    #[schema(schema_with = crate::http::schema::name_or_null)]
    pub name: Option<String>,
    /// A slug instead of the bundle's; `null` or `""` for none.
    #[serde(default, with = "crate::http::patch")]
    #[schema(value_type = Option<String>, max_length = 63)]
    pub slug: Option<Option<String>>,
    /// The bundle, as an export wrote it.
    pub bundle: Bundle,
}

/// Reads the project as a bundle.
async fn read_bundle(services: &Services, project: &Project) -> Result<Bundle, ApiError> {
    let store = services.table()?;
    let tables = tables::all_tables(store, &project.id).await?;
    let components = custom::all_custom(store, &project.id).await?;
    let bundle_pages = pages::all_with_trees(services, &project.id)
        .await?
        .into_iter()
        .map(|(page, tree)| BundlePage {
            id: page.id,
            name: page.name,
            path: page.path,
            tree,
        })
        .collect();
    Ok(Bundle {
        format: bundle::FORMAT.into(),
        format_version: bundle::FORMAT_VERSION,
        project: BundleProject {
            name: project.name.clone(),
            description: project.description.clone(),
            slug: project.slug.clone(),
        },
        tables: tables
            .into_iter()
            .map(|t| BundleTable {
                id: t.id,
                name: t.name,
                description: t.description,
                fields: t.fields,
            })
            .collect(),
        components: components
            .into_iter()
            .map(|c| BundleComponent {
                id: c.id,
                title: c.title,
                description: c.description,
                props: c.props,
                children: c.children,
            })
            .collect(),
        pages: bundle_pages,
    })
}

/// Writes the project's bundle and answers where to download it (editors).
pub async fn export(services: Arc<Services>, _request: Request, tenant: Tenant) -> HandlerResult {
    let project = projects::of_tenant(&services, &tenant).await?;
    let bundle = read_bundle(&services, &project).await?;
    let text = serde_json::to_vec(&bundle).map_err(|e| ApiError::Internal(e.to_string()))?;
    let key = format!(
        "{}{}.json",
        pages::blob_prefix(&project.id, None),
        ulid::Ulid::generate()
    );
    let size = text.len() as u64;
    let blobs = services.blobs()?;
    blobs
        .put(BUCKET, &key, Bytes::from(text), "application/json")
        .await?;
    let link = blobs.presign_get(BUCKET, &key, DOWNLOAD_FOR).await?;
    let entry = audit::record(
        &tenant.meta,
        &project.organization_id,
        EXPORTED,
        Target {
            kind: "project",
            id: &project.id,
        },
    )?;
    Change::new()
        .write("audit", entry)
        .event(DomainEvent::new(
            EVENTS,
            EXPORTED,
            json!({
                "organization_id": project.organization_id,
                "project_id": project.id,
                "key": key,
                "by": tenant.meta.caller.sub,
            }),
        ))
        .commit(services.table()?)
        .await?;
    json(
        StatusCode::CREATED,
        &Export {
            key,
            url: link.url,
            expires_at: link.expires_at.to_rfc3339(),
            size,
            format_version: bundle::FORMAT_VERSION,
            tables: bundle.tables.len(),
            components: bundle.components.len(),
            pages: bundle.pages.len(),
        },
    )
}

/// A JSON Schema document (draft 2020-12).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct JsonSchema(pub serde_json::Value);

/// The format's JSON Schema (anyone).
pub async fn schema(_services: Arc<Services>, _request: Request) -> HandlerResult {
    json(StatusCode::OK, &JsonSchema(bundle::json_schema()))
}

/// A checked bundle turned into the new project and what it holds, every
/// id new.
struct Plan {
    project: Project,
    writes: Vec<Write>,
    pages: Vec<BundlePage>,
}

fn plan(
    bundle: &Bundle,
    meta: &RequestMeta,
    body: &ImportProject,
    name: String,
) -> Result<Plan, ApiError> {
    // Monotonic ids keep the bundle's order, so an export of the import
    // lists everything as the bundle did.
    let mut generator = ulid::Generator::new();
    let mut next_ulid = || {
        generator
            .generate()
            .map(|u| u.to_string())
            .unwrap_or_else(|_| ulid::Ulid::generate().to_string())
    };
    let remapped = bundle::remap(bundle, &mut |kind| match kind {
        IdKind::Field => new_field_id(),
        _ => next_ulid(),
    });
    let at = now();
    let by = meta.caller.sub.clone();
    let slug = match &body.slug {
        Some(slug) => slug.clone(),
        None => remapped.project.slug.clone(),
    };
    let project = Project {
        id: ProjectId::generate(),
        organization_id: body.organization_id.as_str().into(),
        name,
        description: remapped.project.description.clone(),
        slug,
        status: ProjectStatus::Active,
        created_by: by.clone(),
        created_at: at.clone(),
        updated_at: at.clone(),
        tables: remapped.tables.len() as u32,
        components: remapped.components.len() as u32,
        pages: remapped.pages.len() as u32,
        version: 1,
    };
    let mut writes = Vec::new();
    for t in remapped.tables {
        let table = DataTable {
            id: t.id,
            project_id: project.id.clone(),
            organization_id: project.organization_id.clone(),
            name: t.name,
            description: t.description,
            fields: t.fields,
            schema_version: 1,
            created_by: by.clone(),
            created_at: at.clone(),
            updated_at: at.clone(),
            version: 1,
        };
        writes.extend(tables::new_table_writes(&table)?);
    }
    for c in remapped.components {
        let component = CustomComponent {
            kind: format!("{CUSTOM}{}", c.id),
            id: c.id,
            project_id: project.id.clone(),
            organization_id: project.organization_id.clone(),
            title: c.title,
            description: c.description,
            props: c.props,
            children: c.children,
            created_by: by.clone(),
            created_at: at.clone(),
            updated_at: at.clone(),
            version: 1,
        };
        writes.push(custom::new_component_write(&component)?);
    }
    Ok(Plan {
        project,
        writes,
        pages: remapped.pages,
    })
}

/// Creates a project from a bundle in an organization where the caller
/// edits; everything is checked before anything is written.
pub async fn import(services: Arc<Services>, request: Request) -> HandlerResult {
    let meta = RequestMeta::of(&request)?;
    let body: ImportProject = json_body(&request, MAX_BUNDLE_BYTES)?;
    let mut errors = match bundle::check(&body.bundle) {
        Ok(()) => Vec::new(),
        Err(errors) => errors,
    };
    let name = match &body.name {
        Some(name) => crate::http::schema::take_name("name", name, &mut errors),
        None => Some(body.bundle.project.name.clone()),
    };
    if let Some(Some(slug)) = &body.slug
        && let Err(why) = projects::check_slug(slug)
    {
        errors.push(FieldError::new("slug", why));
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let store = services.table()?;
    let organization = body.organization_id.as_str();
    match guard::require(store, &meta.caller, organization, Role::Editor).await {
        Err(ApiError::Forbidden) => {
            return Err(guard::refuse(&services, &meta, organization, IMPORTED).await);
        }
        other => other?,
    };
    let Plan {
        project,
        mut writes,
        pages: bundle_pages,
    } = plan(&body.bundle, &meta, &body, name)?;
    if let Some(slug) = &project.slug
        && store.get(&keys::slug(organization, slug)).await?.is_some()
    {
        return Err(StudioError::SlugTaken.into());
    }
    for page in bundle_pages {
        match pages::new_page_writes(&services, &project, &meta.caller.sub, page).await {
            Ok(page_writes) => writes.extend(page_writes),
            Err(e) => {
                cleanup::clear_project(&services, &project.id).await.ok();
                return Err(e);
            }
        }
    }
    let written = write_all(store, writes).await;
    let created = match written {
        Ok(()) => projects::commit_new(store, &meta, &project, Some(IMPORTED)).await,
        Err(e) => Err(e),
    };
    if let Err(e) = created {
        // Nothing of it is reachable; clear what was written.
        if let Err(why) = cleanup::clear_project(&services, &project.id).await {
            tracing::warn!(project = %project.id, %why, "an import's leftovers stay");
        }
        return Err(e);
    }
    json(StatusCode::CREATED, &project)
}

/// Writes items no one reaches yet, a transaction at a time.
async fn write_all(
    store: &dyn crate::ports::table::ItemTable,
    writes: Vec<Write>,
) -> Result<(), ApiError> {
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let chunk: Vec<Write> = writes.by_ref().take(MAX_TRANSACTION_WRITES).collect();
        store.transact(chunk).await?;
    }
    Ok(())
}
