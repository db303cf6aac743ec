//! Files of a table's file fields. Bytes never pass through a function:
//!
//! 1. `POST …/tables/{table_id}/files/` checks the announced name, type and
//!    size against the field's options and answers a presigned PUT bound to
//!    that type and size (the upload is `pending`);
//! 2. the client sends the bytes to the store;
//! 3. a record write naming the upload's id checks the stored object
//!    itself — its real size, and its real type from its first bytes — and
//!    claims the upload in the record's own transaction (`attached`), so
//!    one upload belongs to one record;
//! 4. `GET …/records/{record_id}/files/{field}/` answers a presigned GET.
//!
//! An upload is `RECORDS#<table>` / `F#<id>`, its object `files` /
//! `<project>/<table>/<id>`. A file given back (replaced, cleared, its
//! record deleted, its field removed, its table or project deleted) is
//! deleted by the `runtime-files` worker; an upload never attached is
//! swept a day after it was made.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Duration as Span, Utc};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::values::{FileClaim, file_id};
use super::{EVENTS, RuntimeError};
use crate::change::Change;
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, FieldError, HandlerResult, json, json_body, path_param,
};
use crate::ports::blobs::{BlobStore, UploadPolicy, delete_prefix};
use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, Index, Key, Query, Update, Write, from_item, to_keyed_item};
use crate::services::Services;
use crate::studio::schema::{self, Field, FieldType};
use crate::studio::tables::{self, DataTable};
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{Tenant, UserId};

/// The bucket of record files.
pub const BUCKET: &str = "files";
/// The queue of the files worker.
pub const QUEUE: &str = "runtime-files";
/// The audited action (and event) of a new upload.
pub const UPLOAD_STARTED: &str = "file.upload_started";
/// The event of files given back by a record write.
pub const RELEASED: &str = "file.released";
/// How long an upload URL works.
const UPLOAD_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How long a download URL works.
const DOWNLOAD_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How long an upload waits for a record before the sweep deletes it.
const PENDING_FOR_HOURS: i64 = 24;
/// The hours of expiry the sweep looks back over.
const SWEEP_HOURS: i64 = 72;
/// What is read of an object to tell its real type.
const SNIFF_BYTES: u64 = 8192;
/// The longest file name.
const MAX_NAME: usize = 255;

/// An upload, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Upload {
    id: String,
    project_id: String,
    table_id: String,
    field_id: String,
    name: String,
    content_type: String,
    size: u64,
    status: String,
    #[serde(default)]
    record_id: Option<String>,
    created_by: UserId,
    created_at: String,
    expires: String,
}

const PENDING: &str = "pending";
const ATTACHED: &str = "attached";

/// `POST …/tables/{table_id}/files/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartUpload {
    /// The file field it is for.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub field: String,
    /// The file's name, as the user knows it.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Its media type (`image/png`), as the upload will declare it.
    #[schema(
        min_length = 3,
        max_length = 255,
        pattern = "^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$"
    )]
    pub content_type: String,
    /// Its exact size in bytes.
    #[schema(minimum = 1, maximum = 1073741824)]
    pub size: u64,
}

/// A request the client makes itself, until it expires.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Presigned {
    /// `PUT` for an upload, `GET` for a download.
    pub method: String,
    /// Where to send it.
    pub url: String,
    /// Headers to send exactly as given.
    pub headers: Map<String, Value>,
    /// When the URL stops working (RFC 3339).
    pub expires_at: String,
}

/// A started upload: its id (what a record write names) and where to
/// send the bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadStarted {
    /// The upload's id: set it as the file field's value.
    pub id: String,
    /// The field.
    pub field: String,
    /// The file's name.
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Until when a record may take it (RFC 3339).
    pub attach_by: String,
    /// The upload request.
    pub upload: Presigned,
}

/// A file's download.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Download {
    /// The file's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The download request.
    pub download: Presigned,
}

fn upload_key(table_id: &str, file_id: &str) -> Key {
    Key::new(super::partition(table_id), format!("F#{file_id}"))
}

/// Where an upload's bytes are.
fn object_key(project_id: &str, table_id: &str, file_id: &str) -> String {
    format!("{}{file_id}", table_prefix(project_id, table_id))
}

/// The prefix of every file of a table.
fn table_prefix(project_id: &str, table_id: &str) -> String {
    format!("{project_id}/{table_id}/")
}

/// The sweep's partition of the uploads pending until an hour.
fn pending_partition(hour: DateTime<Utc>) -> String {
    format!("UPLOADS#{}", hour.format("%Y-%m-%dT%H"))
}

fn presigned(request: crate::ports::blobs::PresignedRequest) -> Presigned {
    Presigned {
        method: request.method.to_string(),
        url: request.url,
        headers: request
            .headers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        expires_at: request.expires_at.to_rfc3339(),
    }
}

fn file_field<'t>(table: &'t DataTable, name: &str, at: &str) -> Result<&'t Field, ApiError> {
    table
        .fields
        .iter()
        .find(|f| f.name == name && f.kind == FieldType::File)
        .ok_or_else(|| ApiError::invalid(at, "is no file field of this table"))
}

fn max_size(field: &Field) -> u64 {
    field.max_size.unwrap_or(schema::DEFAULT_FILE_SIZE)
}

fn check_name(name: &str) -> Result<(), &'static str> {
    let bad = name.is_empty()
        || name.chars().count() > MAX_NAME
        || name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        || name.trim().is_empty();
    if bad {
        Err("is 1 to 255 characters, no control character or slash")
    } else {
        Ok(())
    }
}

/// Starts an upload to a file field (editors, or a key that writes).
pub async fn start(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: StartUpload = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let table = tables::load(&services, &request, &tenant).await?;
    let mut errors = Vec::new();
    let field = match file_field(&table, &body.field, "field") {
        Ok(field) => Some(field),
        Err(ApiError::Invalid(e)) => {
            errors.extend(e);
            None
        }
        Err(other) => return Err(other),
    };
    if let Err(why) = check_name(&body.name) {
        errors.push(FieldError::new("name", why));
    }
    let content_type = body.content_type.to_ascii_lowercase();
    if crate::ports::blobs::validate_content_type(&content_type).is_err() {
        errors.push(FieldError::new("content_type", "is not a media type"));
    }
    if let Some(field) = field {
        if body.size == 0 || body.size > max_size(field) {
            errors.push(FieldError::new(
                "size",
                format!("is over the field's limit of {} bytes", max_size(field)),
            ));
        }
        if !schema::accepts(field, &content_type) {
            errors.push(FieldError::new(
                "content_type",
                "is not a media type the field accepts",
            ));
        }
    }
    let Some(field) = field.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let now = Utc::now();
    let expires = now + Span::hours(PENDING_FOR_HOURS);
    let upload = Upload {
        id: ulid::Ulid::generate().to_string(),
        project_id: table.project_id.to_string(),
        table_id: table.id.clone(),
        field_id: field.id.clone(),
        name: body.name.clone(),
        content_type: content_type.clone(),
        size: body.size,
        status: PENDING.into(),
        record_id: None,
        created_by: tenant.meta.caller.sub.clone(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        expires: expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let key = object_key(&upload.project_id, &table.id, &upload.id);
    let url = services
        .blobs()?
        .presign_put(
            BUCKET,
            &key,
            &UploadPolicy {
                content_type: content_type.clone(),
                content_length: body.size,
                max_size: max_size(field),
                expires_in: UPLOAD_FOR,
            },
        )
        .await?;
    let mut item = to_keyed_item(&upload, upload_key(&table.id, &upload.id))?;
    item.insert("gsi1pk".into(), json!(pending_partition(expires)));
    item.insert(
        "gsi1sk".into(),
        json!(format!("{}#{}", table.id, upload.id)),
    );
    Change::new()
        .write(
            "upload",
            Write::Put {
                item,
                condition: Some(Condition::Absent),
            },
        )
        .write(
            "audit",
            audit::record(
                &tenant.meta,
                &table.organization_id,
                UPLOAD_STARTED,
                Target {
                    kind: "file",
                    id: &upload.id,
                },
            )?,
        )
        .event(DomainEvent::new(
            EVENTS,
            UPLOAD_STARTED,
            json!({
                "organization_id": table.organization_id,
                "project_id": table.project_id,
                "table_id": table.id,
                "file_id": upload.id,
                "field_id": field.id,
                "size": upload.size,
                "content_type": upload.content_type,
                "by": tenant.meta.caller.sub,
            }),
        ))
        .commit(services.table()?)
        .await?;
    json(
        StatusCode::CREATED,
        &UploadStarted {
            id: upload.id,
            field: field.name.clone(),
            name: upload.name,
            content_type,
            size: upload.size,
            attach_by: upload.expires,
            upload: presigned(url),
        },
    )
}

/// The media type of a file's first bytes, when they tell.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    infer::get(bytes).map(|kind| kind.mime_type())
}

/// Checks the uploads a record write attaches against what was really
/// stored, and gives the writes that claim them with the values to store
/// (the file as a read shows it).
pub async fn claims(
    services: &Services,
    table: &DataTable,
    record_id: &str,
    files: &[FileClaim],
) -> Result<(Change, Vec<(String, Value)>), ApiError> {
    let mut change = Change::new();
    let mut values = Vec::new();
    let mut errors = Vec::new();
    let store = services.table()?;
    for claim in files {
        let Some(field) = table.fields.iter().find(|f| f.id == claim.field_id) else {
            continue;
        };
        let upload: Option<Upload> = match store.get(&upload_key(&table.id, &claim.file_id)).await?
        {
            Some(item) => Some(from_item(item)?),
            None => None,
        };
        let Some(upload) = upload else {
            errors.push(FieldError::new(
                &claim.field,
                "names no upload of this table",
            ));
            continue;
        };
        let ours = upload.field_id == claim.field_id
            && (upload.status == PENDING || upload.record_id.as_deref() == Some(record_id));
        if !ours {
            return Err(RuntimeError::FileTaken(claim.field.clone()).into());
        }
        match inspect(services.blobs()?, field, &upload).await? {
            Ok(content_type) => {
                values.push((
                    claim.field_id.clone(),
                    json!({
                        "id": upload.id,
                        "name": upload.name,
                        "size": upload.size,
                        "content_type": content_type,
                    }),
                ));
                change = change.write(
                    "file",
                    Write::Update(
                        Update::of(upload_key(&table.id, &upload.id))
                            .set("status", ATTACHED)
                            .set("record_id", record_id)
                            .remove("gsi1pk")
                            .remove("gsi1sk")
                            .when(Condition::Or(vec![
                                Condition::Equals("status".into(), json!(PENDING)),
                                Condition::Equals("record_id".into(), json!(record_id)),
                            ])),
                    ),
                );
            }
            Err(why) => errors.push(FieldError::new(&claim.field, why)),
        }
    }
    if errors.is_empty() {
        Ok((change, values))
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// What the stored object really is: its media type when it fits the
/// upload and the field, else why not.
async fn inspect(
    blobs: &dyn BlobStore,
    field: &Field,
    upload: &Upload,
) -> Result<Result<String, String>, ApiError> {
    let key = object_key(&upload.project_id, &upload.table_id, &upload.id);
    let Some(meta) = blobs.head(BUCKET, &key).await? else {
        return Ok(Err(
            "its upload has not arrived; send the bytes first".into()
        ));
    };
    if meta.size != upload.size {
        return Ok(Err(format!(
            "the upload holds {} bytes, not the {} announced",
            meta.size, upload.size
        )));
    }
    if meta.size > max_size(field) {
        return Ok(Err(format!(
            "is over the field's limit of {} bytes",
            max_size(field)
        )));
    }
    let start = blobs.read_start(BUCKET, &key, SNIFF_BYTES).await?;
    // A type its bytes tell must be the one announced; text formats tell
    // nothing, and the announced type (checked at the start) stands.
    let content_type = match sniff(&start) {
        Some(real) if real != upload.content_type => {
            return Ok(Err(format!(
                "its content is {real}, not the {} it was uploaded as",
                upload.content_type
            )));
        }
        Some(real) => real.to_string(),
        None => upload.content_type.clone(),
    };
    if !schema::accepts(field, &content_type) {
        return Ok(Err(format!(
            "is {content_type}, which the field does not take"
        )));
    }
    Ok(Ok(content_type))
}

/// The files a write from `before` to `after` gives back: those of file
/// fields whose file is replaced or cleared (all of them on a deletion).
pub fn released(
    fields: &[Field],
    before: Option<&super::values::Data>,
    after: Option<&super::values::Data>,
) -> Vec<String> {
    let Some(before) = before else {
        return Vec::new();
    };
    fields
        .iter()
        .filter(|f| f.kind == FieldType::File)
        .filter_map(|f| {
            let old = before.get(&f.id).and_then(file_id)?;
            let new = after.and_then(|a| a.get(&f.id)).and_then(file_id);
            (new != Some(old)).then(|| old.to_string())
        })
        .collect()
}

/// The event that hands given-back files to the worker.
pub fn released_event(table: &DataTable, record_id: &str, files: &[String]) -> Option<DomainEvent> {
    (!files.is_empty()).then(|| {
        DomainEvent::new(
            EVENTS,
            RELEASED,
            json!({
                "organization_id": table.organization_id,
                "project_id": table.project_id,
                "table_id": table.id,
                "record_id": record_id,
                "file_ids": files,
            }),
        )
    })
}

/// A file of a record (members, or a key that reads): a download URL.
pub async fn download(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let table = tables::load(&services, &request, &tenant).await?;
    let name = path_param(&request, "field")?;
    let field = table
        .fields
        .iter()
        .find(|f| f.name == name && f.kind == FieldType::File)
        .ok_or(ApiError::NotFound)?;
    let record_id = path_param(&request, "record_id")?;
    let record = super::records::stored(services.table()?, &table.id, record_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let data = super::records::data_of(&record)?;
    let value = data.get(&field.id).ok_or(ApiError::NotFound)?;
    let id = file_id(value).ok_or(ApiError::NotFound)?;
    let text = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let url = services
        .blobs()?
        .presign_get(
            BUCKET,
            &object_key(&table.project_id, &table.id, id),
            DOWNLOAD_FOR,
        )
        .await?;
    json(
        StatusCode::OK,
        &Download {
            id: id.to_string(),
            name: text("name"),
            content_type: text("content_type"),
            size: value
                .get("size")
                .and_then(Value::as_u64)
                .unwrap_or_default(),
            download: presigned(url),
        },
    )
}

/// Handles one SQS batch of the files worker; answers the failed ids.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    crate::routes::queued::each_event(&event, "files not deleted", |envelope| {
        follow(&services, envelope)
    })
    .await
}

async fn follow(services: &Services, event: EventBridgeEvent<Value>) -> Result<(), String> {
    let text = |name: &str| crate::routes::queued::detail_text(&event, name);
    let failed = |e: ApiError| e.to_string();
    match event.detail_type.as_str() {
        RELEASED => {
            let (table_id, record_id) = (text("table_id")?, text("record_id")?);
            let ids: Vec<String> = event
                .detail
                .get("file_ids")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for id in ids {
                delete_upload(services, &table_id, &id, Some(&record_id))
                    .await
                    .map_err(failed)?;
            }
        }
        crate::studio::tables::SCHEMA_CHANGED => {
            let (project, table_id) = (text("project_id")?, text("table_id")?);
            drop_orphans(services, &project, &table_id)
                .await
                .map_err(failed)?;
        }
        crate::studio::tables::DELETED | crate::studio::projects::DELETED => {
            let project = text("project_id")?;
            let tables: Vec<String> = match event.detail.get("table_ids").and_then(Value::as_array)
            {
                Some(ids) => ids
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                None => vec![text("table_id")?],
            };
            let blobs = services.blobs().map_err(failed)?;
            for table_id in tables {
                delete_prefix(blobs, BUCKET, &table_prefix(&project, &table_id))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Deletes an upload and its object; `record` guards against deleting a
/// file another write has attached since (a redelivered release).
async fn delete_upload(
    services: &Services,
    table_id: &str,
    file_id: &str,
    record: Option<&str>,
) -> Result<(), ApiError> {
    let store = services.table()?;
    let Some(item) = store.get(&upload_key(table_id, file_id)).await? else {
        return Ok(());
    };
    let upload: Upload = from_item(item)?;
    if let Some(record) = record
        && upload.record_id.as_deref() != Some(record)
    {
        return Ok(());
    }
    services
        .blobs()?
        .delete(
            BUCKET,
            &object_key(&upload.project_id, &upload.table_id, &upload.id),
        )
        .await?;
    store.delete(&upload_key(table_id, file_id), None).await?;
    Ok(())
}

/// Deletes the uploads of a table's fields that are no longer file fields
/// (a removed field's files).
async fn drop_orphans(
    services: &Services,
    project_id: &str,
    table_id: &str,
) -> Result<(), ApiError> {
    let store = services.table()?;
    let Some(table) = tables::find_in(store, project_id, table_id).await? else {
        return Ok(());
    };
    let mut after = None;
    loop {
        let page = store
            .query(
                &Query::partition(super::partition(table_id))
                    .begins_with("F#")
                    .after(after.take()),
            )
            .await?;
        for item in page.items {
            let upload: Upload = from_item(item)?;
            let kept = table
                .fields
                .iter()
                .any(|f| f.id == upload.field_id && f.kind == FieldType::File);
            if !kept {
                delete_upload(services, table_id, &upload.id, None).await?;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Deletes the uploads no record took within a day (the hourly sweep).
pub async fn sweep(services: &Services, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let store = services.table()?;
    let mut swept = 0;
    for back in 0..SWEEP_HOURS {
        let hour = now - Span::hours(back);
        let mut after = None;
        loop {
            let page = store
                .query(
                    &Query::partition(pending_partition(hour))
                        .on(Index::Gsi1)
                        .after(after.take()),
                )
                .await?;
            for item in page.items {
                let upload: Upload = from_item(item)?;
                let due = DateTime::parse_from_rfc3339(&upload.expires).is_ok_and(|at| at <= now);
                if due && upload.status == PENDING {
                    delete_upload(services, &upload.table_id, &upload.id, None).await?;
                    swept += 1;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(swept)
}

/// The hourly sweep, as a scheduled worker.
pub async fn scheduled(
    services: Arc<Services>,
    _event: aws_lambda_events::eventbridge::EventBridgeEvent,
) -> Result<(), String> {
    let swept = sweep(&services, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(swept, "uploads no record took are deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_bounded_and_plain() {
        assert!(check_name("report 2026.pdf").is_ok());
        for bad in ["", "  ", "a/b", "a\\b", "a\u{7}", &"n".repeat(256)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_png_is_told_by_its_bytes() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D,
        ];
        assert_eq!(sniff(&png), Some("image/png"));
        assert_eq!(sniff(b"just some text"), None);
    }
}
