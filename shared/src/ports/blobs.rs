//! The blob port: S3 semantics.
//!
//! Buckets are named by their logical name (see [`crate::resources::BUCKETS`]).
//! Uploads from clients never pass through a function: a function hands out a
//! presigned PUT bound to one content type and one exact size (checked against
//! the caller's maximum before signing), and the client sends the bytes to
//! the store directly.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// Longest a presigned URL may live (S3's limit for SigV4).
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most keys one list page returns.
pub const MAX_LIST: u32 = 1000;

/// Result of a blob operation.
pub type BlobResult<T> = Result<T, BlobError>;

/// What is known of a stored blob without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobMeta {
    /// The key within its bucket.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The content type it was stored with (list pages don't carry it).
    pub content_type: Option<String>,
    /// When it was last written (second precision).
    pub last_modified: Option<DateTime<Utc>>,
}

/// A blob read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// Its metadata.
    pub meta: BlobMeta,
    /// Its bytes.
    pub bytes: Bytes,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobPage {
    /// Blobs in key order.
    pub blobs: Vec<BlobMeta>,
    /// Where the next page starts, when there is one.
    pub next: Option<String>,
}

/// What a presigned upload allows: one content type and one exact size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadPolicy {
    /// The only content type the upload may declare.
    pub content_type: String,
    /// The exact size the client announced.
    pub content_length: u64,
    /// The largest size the caller accepts; a larger announcement is refused.
    pub max_size: u64,
    /// How long the URL works.
    pub expires_in: Duration,
}

/// A request a client can make without credentials, until it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedRequest {
    /// `GET` or `PUT`.
    pub method: http::Method,
    /// The URL, signature included.
    pub url: String,
    /// Headers the client must send exactly as given.
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// Errors of the blob port.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobError {
    /// No blob under that key.
    #[error("no blob under that key")]
    NotFound,
    /// No bucket of that logical name is configured.
    #[error("unknown bucket `{0}`")]
    UnknownBucket(String),
    /// The announced size is above the maximum.
    #[error("{size} bytes is above the {max} byte limit")]
    TooLarge {
        /// The announced size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The request is wrong: a bad key, content type, expiry or cursor.
    #[error("invalid blob request: {0}")]
    Invalid(String),
    /// The backend failed.
    #[error("blob store failure: {0}")]
    Backend(String),
}

/// A blob store with S3 semantics.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Whether the backend answers, for the health report; the error says why not.
    async fn probe(&self) -> Result<(), String>;

    /// Stores bytes under a key, replacing what was there.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> BlobResult<()>;

    /// Reads a blob; [`BlobError::NotFound`] when absent.
    async fn get(&self, bucket: &str, key: &str) -> BlobResult<Blob>;

    /// Metadata of a blob, `None` when absent.
    async fn head(&self, bucket: &str, key: &str) -> BlobResult<Option<BlobMeta>>;

    /// The first `len` bytes of a blob (all of it when shorter), without
    /// reading the rest: enough to tell what a file really is.
    /// [`BlobError::NotFound`] when absent.
    async fn read_start(&self, bucket: &str, key: &str, len: u64) -> BlobResult<Bytes>;

    /// Deletes a blob; absent is fine.
    async fn delete(&self, bucket: &str, key: &str) -> BlobResult<()>;

    /// One page of the blobs whose key starts with `prefix`, in key order.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> BlobResult<BlobPage>;

    /// A URL through which a client uploads one blob within `policy`.
    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        policy: &UploadPolicy,
    ) -> BlobResult<PresignedRequest>;

    /// A URL through which a client reads one blob until `expires_in` passes.
    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> BlobResult<PresignedRequest>;
}

/// Checks a key: 1 to 1024 bytes, no empty or dot segments, no control characters.
pub fn validate_key(key: &str) -> BlobResult<()> {
    let bad = key.is_empty()
        || key.len() > 1024
        || key.starts_with('/')
        || key.chars().any(char::is_control)
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(BlobError::Invalid(format!(
            "`{key}` is not a valid blob key"
        )));
    }
    Ok(())
}

/// Checks an upload policy before anything is signed.
pub fn validate_upload(policy: &UploadPolicy) -> BlobResult<()> {
    if policy.content_length > policy.max_size {
        return Err(BlobError::TooLarge {
            size: policy.content_length,
            max: policy.max_size,
        });
    }
    validate_content_type(&policy.content_type)?;
    validate_expiry(policy.expires_in)
}

/// Checks a content type has the `type/subtype` shape.
pub fn validate_content_type(content_type: &str) -> BlobResult<()> {
    let ok = content_type.len() <= 255
        && content_type.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty() && !s.is_empty() && !content_type.chars().any(char::is_control)
        });
    if !ok {
        return Err(BlobError::Invalid(format!(
            "`{content_type}` is not a content type"
        )));
    }
    Ok(())
}

/// Checks a presigned URL's lifetime: 1 second to 7 days.
pub fn validate_expiry(expires_in: Duration) -> BlobResult<()> {
    if expires_in.is_zero() || expires_in > MAX_PRESIGN_EXPIRY {
        return Err(BlobError::Invalid(
            "a presigned URL lives 1 s to 7 days".into(),
        ));
    }
    Ok(())
}

/// The opaque cursor of a list page that ends with `key`: both adapters
/// resume a listing after the last key returned, so a cursor works the same
/// on either.
pub fn cursor_after(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The key a cursor from [`cursor_after`] resumes after.
pub fn key_after(cursor: &str) -> BlobResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| BlobError::Invalid("the list cursor is not valid".into()))
}

/// Deletes every blob of `bucket` under `prefix`, a page at a time (what a
/// deleted project, table or app leaves); absent ones are fine, so a
/// repeat is harmless.
pub async fn delete_prefix(store: &dyn BlobStore, bucket: &str, prefix: &str) -> BlobResult<()> {
    loop {
        let page = store.list(bucket, prefix, None, MAX_LIST).await?;
        for blob in &page.blobs {
            store.delete(bucket, &blob.key).await?;
        }
        if page.next.is_none() || page.blobs.is_empty() {
            return Ok(());
        }
    }
}

/// Checks a list page size: 1 to [`MAX_LIST`], refused otherwise, as the
/// item table refuses a query limit out of range.
pub fn page_size(limit: u32) -> BlobResult<u32> {
    if limit == 0 || limit > MAX_LIST {
        return Err(BlobError::Invalid(format!(
            "a list page holds 1 to {MAX_LIST} blobs"
        )));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_reject_traversal_and_empty_segments() {
        for bad in ["", "/a", "a//b", "a/../b", "./a", "a\nb"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "org/1/doc.pdf", "a b/ü.txt"] {
            assert!(validate_key(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn upload_above_max_size_is_too_large() {
        let policy = UploadPolicy {
            content_type: "image/png".into(),
            content_length: 11,
            max_size: 10,
            expires_in: Duration::from_secs(60),
        };
        assert_eq!(
            validate_upload(&policy),
            Err(BlobError::TooLarge { size: 11, max: 10 })
        );
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = cursor_after("org/1/ü.pdf");
        assert_eq!(key_after(&cursor).unwrap(), "org/1/ü.pdf");
        assert!(key_after("not base64!").is_err());
        assert!(page_size(0).is_err());
        assert!(page_size(MAX_LIST + 1).is_err());
        assert_eq!(page_size(MAX_LIST), Ok(MAX_LIST));
    }
}
