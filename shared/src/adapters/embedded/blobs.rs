//! The embedded blob store: one file per blob under the data folder, and
//! presigned URLs the local gateway serves with [`EmbeddedBlobs::serve_presigned`].
//!
//! # Layout
//!
//! ```text
//! <data>/blobs/<bucket>/<segment>/…/<last segment>.blob
//! <data>/secrets/presign.key      the HMAC key of presigned URLs
//! ```
//!
//! A key's `/`-separated segments become folders. Every segment is
//! percent-encoded down to `[A-Za-z0-9_-]` and `%XX` (so folder and file
//! names never hold a `.`, a separator or anything a file system treats
//! specially, and `.`/`..` cannot occur), and the last one gets the `.blob`
//! suffix. Hence a folder never has a blob's name (S3 lets `a` and `a/b`
//! coexist), names of our own temporary files (`.tmp-…`) never collide with a
//! blob, and no key leaves its bucket's folder, whatever it holds. Letters
//! keep their case, so on a case-insensitive file system (macOS, Windows)
//! two keys differing only in case are one blob; the platform's generated
//! keys (ids) never differ that way.
//!
//! Listing reads the names under the folder the prefix names, sorts them and
//! opens only the page's blobs: linear in the folder's size, which suits a
//! development store.
//!
//! A blob file is one JSON line of metadata (content type, size, last
//! modified) followed by the bytes. Keeping both in one file makes a write
//! one atomic rename: a temporary file in the same folder is written, synced
//! and renamed over the blob, so a crash leaves the old blob or the new one,
//! never half of either nor bytes paired with another write's metadata.
//!
//! # Presigned URLs
//!
//! `<public_url>/_blobs/<bucket>/<key>?method=PUT&expires=<unix seconds>
//! &content-type=…&content-length=…&signature=…`, the signature being an
//! HMAC-SHA256 (base64url) over the method, bucket, key, expiry and, for
//! uploads, the content type and length. As on S3, a request that differs
//! from what was signed is refused with 403 `SignatureDoesNotMatch`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use http::{Method, Request, Response, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{blocking, secrets};
use crate::config::EmbeddedSettings;
use crate::ports::blobs::{
    Blob, BlobError, BlobMeta, BlobPage, BlobResult, BlobStore, PresignedRequest, UploadPolicy,
    cursor_after, key_after, page_size, validate_content_type, validate_expiry, validate_key,
    validate_upload,
};
use crate::random;
use crate::resources::BUCKETS;

type HmacSha256 = Hmac<Sha256>;

/// The secret file holding the key presigned URLs are signed with.
const PRESIGN_KEY: &str = "presign.key";
/// The path segment under which the local gateway serves presigned URLs.
pub const PRESIGNED_ROUTE: &str = "_blobs";
const BLOB_SUFFIX: &str = ".blob";
/// A metadata line is a few hundred bytes; anything longer is not ours.
const MAX_HEADER: u64 = 4096;
const HEADER_VERSION: u32 = 1;

/// File names keep letters, digits, `-` and `_`; everything else (`.`
/// included, so names of our own files can't be produced) is `%XX`.
const FILE_NAME: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');
/// A URL path segment keeps RFC 3986's unreserved characters.
const URL_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Blobs in files under `<data>/blobs/`, presigned URLs signed with a key
/// kept in `<data>/secrets/`. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedBlobs {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    public_url: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for EmbeddedBlobs {
    // The signing key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBlobs")
            .field("root", &self.inner.root)
            .field("public_url", &self.inner.public_url)
            .finish_non_exhaustive()
    }
}

/// What a blob file's first line records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    v: u32,
    content_type: String,
    size: u64,
    /// Unix seconds.
    last_modified: i64,
}

impl Header {
    fn meta(&self, key: &str, with_content_type: bool) -> BlobMeta {
        BlobMeta {
            key: key.to_string(),
            size: self.size,
            content_type: with_content_type.then(|| self.content_type.clone()),
            last_modified: DateTime::from_timestamp(self.last_modified, 0),
        }
    }
}

impl EmbeddedBlobs {
    /// Opens (creating when absent) the blob folders of every declared bucket
    /// and the presigning key under `settings.data_dir`.
    pub fn open(settings: &EmbeddedSettings) -> Result<Self, BlobError> {
        let root = settings.data_dir.join("blobs");
        for bucket in BUCKETS {
            let dir = root.join(bucket);
            fs::create_dir_all(&dir).map_err(io_error(&format!(
                "cannot create the blob folder {}",
                dir.display()
            )))?;
        }
        let key = secrets::load_or_create(&settings.data_dir, PRESIGN_KEY, || {
            Ok(random::bytes::<32>().to_vec())
        })
        .map_err(io_error("cannot load the presigning key"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                public_url: settings.public_url.trim_end_matches('/').to_string(),
                key,
            }),
        })
    }

    /// The folder of a declared bucket.
    fn bucket_dir(&self, bucket: &str) -> BlobResult<PathBuf> {
        if !BUCKETS.contains(&bucket) {
            return Err(BlobError::UnknownBucket(bucket.to_string()));
        }
        Ok(self.inner.root.join(bucket))
    }

    /// The file of `key` in `bucket`.
    fn blob_path(&self, bucket: &str, key: &str) -> BlobResult<PathBuf> {
        let dir = self.bucket_dir(bucket)?;
        validate_key(key)?;
        Ok(dir.join(relative_path(key)?))
    }

    /// Answers one request to a presigned URL (a path under
    /// `/_blobs/`), whatever HTTP framework carries it: checks the signature,
    /// the expiry, the method and, for an upload, that the `Content-Type`
    /// header and the body's length are the signed ones, then stores or
    /// returns the blob. Refusals are S3-shaped XML errors. The caller
    /// collects the body and should cap it; no more than the signed length
    /// is ever stored.
    pub async fn serve_presigned(&self, request: Request<Bytes>) -> Response<Bytes> {
        match self.try_serve(request).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn try_serve(&self, request: Request<Bytes>) -> Result<Response<Bytes>, S3Error> {
        let (parts, body) = request.into_parts();
        let (grant, signature) = Grant::from_uri(&parts.uri).map_err(S3Error::from)?;
        let content_type = match parts.headers.get(header::CONTENT_TYPE) {
            Some(value) => Some(value.to_str().map_err(|_| {
                S3Error::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "the Content-Type header is not text",
                )
            })?),
            None => None,
        };
        if let Some(declared) = parts.headers.get(header::CONTENT_LENGTH) {
            let declared = declared
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared != Some(body.len() as u64) {
                return Err(S3Error::new(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    "the body does not have the length its Content-Length header announces",
                ));
            }
        }
        let attempt = Attempt {
            method: &parts.method,
            content_type,
            content_length: body.len() as u64,
        };
        verify(&self.inner.key, &grant, &signature, &attempt, Utc::now()).map_err(|refusal| {
            tracing::debug!(bucket = %grant.bucket, key = %grant.key, %refusal, "presigned request refused");
            S3Error::from(refusal)
        })?;

        if grant.method == Method::PUT {
            let content_type = grant.content_type.as_deref().unwrap_or_default();
            self.put(&grant.bucket, &grant.key, body, content_type)
                .await
                .map_err(S3Error::from)?;
            return Ok(plain_response(StatusCode::OK));
        }
        let blob = self
            .get(&grant.bucket, &grant.key)
            .await
            .map_err(S3Error::from)?;
        let mut response = Response::new(blob.bytes);
        let headers = response.headers_mut();
        if let Some(value) = blob
            .meta
            .content_type
            .and_then(|ct| header::HeaderValue::from_str(&ct).ok())
        {
            headers.insert(header::CONTENT_TYPE, value);
        }
        if let Some(value) = blob.meta.last_modified.and_then(|at| {
            header::HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
        }) {
            headers.insert(header::LAST_MODIFIED, value);
        }
        Ok(response)
    }

    fn presign(&self, grant: Grant) -> PresignedRequest {
        let signature = grant.sign(&self.inner.key);
        let mut query = vec![
            ("method", grant.method.as_str().to_string()),
            ("expires", grant.expires.to_string()),
        ];
        let mut headers = Vec::new();
        if let Some(content_type) = &grant.content_type {
            query.push(("content-type", content_type.clone()));
            headers.push(("content-type".to_string(), content_type.clone()));
        }
        if let Some(length) = grant.content_length {
            query.push(("content-length", length.to_string()));
            headers.push(("content-length".to_string(), length.to_string()));
        }
        query.push(("signature", signature));
        let query = query
            .iter()
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, URL_SEGMENT)))
            .collect::<Vec<_>>()
            .join("&");
        let key = grant
            .key
            .split('/')
            .map(|segment| utf8_percent_encode(segment, URL_SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/");
        PresignedRequest {
            url: format!(
                "{}/{PRESIGNED_ROUTE}/{}/{key}?{query}",
                self.inner.public_url, grant.bucket
            ),
            method: grant.method,
            headers,
            expires_at: DateTime::from_timestamp(grant.expires, 0)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

#[async_trait]
impl BlobStore for EmbeddedBlobs {
    async fn probe(&self) -> Result<(), String> {
        let root = self.inner.root.clone();
        match tokio::fs::metadata(&root).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(format!("{} is not a folder", root.display())),
            Err(e) => Err(format!("{}: {e}", root.display())),
        }
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> BlobResult<()> {
        let path = self.blob_path(bucket, key)?;
        validate_content_type(content_type)?;
        let header = Header {
            v: HEADER_VERSION,
            content_type: content_type.to_string(),
            size: bytes.len() as u64,
            last_modified: Utc::now().timestamp(),
        };
        let root = self.inner.root.join(bucket);
        let context = format!("cannot store {bucket}/{key}");
        blocking(
            move || write_blob(&root, &path, &header, &bytes).map_err(io_error(&context)),
            BlobError::Backend,
        )
        .await
    }

    async fn get(&self, bucket: &str, key: &str) -> BlobResult<Blob> {
        let path = self.blob_path(bucket, key)?;
        let key = key.to_string();
        let context = format!("cannot read {bucket}/{key}");
        blocking(
            move || match read_blob(&path) {
                Ok(Some((header, bytes))) => Ok(Blob {
                    meta: header.meta(&key, true),
                    bytes: Bytes::from(bytes),
                }),
                Ok(None) => Err(BlobError::NotFound),
                Err(e) => Err(io_error(&context)(e)),
            },
            BlobError::Backend,
        )
        .await
    }

    async fn read_start(&self, bucket: &str, key: &str, len: u64) -> BlobResult<Bytes> {
        let path = self.blob_path(bucket, key)?;
        let context = format!("cannot read {bucket}/{key}");
        blocking(
            move || {
                let Some((_, reader)) = open_blob(&path).map_err(io_error(&context))? else {
                    return Err(BlobError::NotFound);
                };
                let mut bytes = Vec::new();
                reader
                    .take(len)
                    .read_to_end(&mut bytes)
                    .map_err(io_error(&context))?;
                Ok(Bytes::from(bytes))
            },
            BlobError::Backend,
        )
        .await
    }

    async fn head(&self, bucket: &str, key: &str) -> BlobResult<Option<BlobMeta>> {
        let path = self.blob_path(bucket, key)?;
        let key = key.to_string();
        let context = format!("cannot read {bucket}/{key}");
        blocking(
            move || {
                read_header(&path)
                    .map(|header| header.map(|h| h.meta(&key, true)))
                    .map_err(io_error(&context))
            },
            BlobError::Backend,
        )
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> BlobResult<()> {
        let path = self.blob_path(bucket, key)?;
        let context = format!("cannot delete {bucket}/{key}");
        blocking(
            move || delete_blob(&path).map_err(io_error(&context)),
            BlobError::Backend,
        )
        .await
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> BlobResult<BlobPage> {
        let dir = self.bucket_dir(bucket)?;
        let after = cursor.map(key_after).transpose()?;
        let prefix = prefix.to_string();
        let limit = page_size(limit)? as usize;
        let context = format!("cannot list {bucket}");
        blocking(
            move || list_blobs(&dir, &prefix, after.as_deref(), limit).map_err(io_error(&context)),
            BlobError::Backend,
        )
        .await
    }

    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        policy: &UploadPolicy,
    ) -> BlobResult<PresignedRequest> {
        self.blob_path(bucket, key)?;
        validate_upload(policy)?;
        Ok(self.presign(Grant {
            method: Method::PUT,
            bucket: bucket.to_string(),
            key: key.to_string(),
            expires: expiry(policy.expires_in),
            content_type: Some(policy.content_type.clone()),
            content_length: Some(policy.content_length),
        }))
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> BlobResult<PresignedRequest> {
        self.blob_path(bucket, key)?;
        validate_expiry(expires_in)?;
        Ok(self.presign(Grant {
            method: Method::GET,
            bucket: bucket.to_string(),
            key: key.to_string(),
            expires: expiry(expires_in),
            content_type: None,
            content_length: None,
        }))
    }
}

/// Unix second from which a URL made now for `expires_in` is refused; a
/// fraction of a second counts as a whole one, so a URL never lives shorter
/// than asked.
fn expiry(expires_in: Duration) -> i64 {
    let secs = expires_in.as_secs() + u64::from(expires_in.subsec_nanos() > 0);
    Utc::now()
        .timestamp()
        .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------
// Presigned URL checks, pure so they are tested without HTTP.

/// What a presigned URL allows, as its query string states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// `GET` or `PUT`.
    pub method: Method,
    /// Logical bucket.
    pub bucket: String,
    /// Key within the bucket.
    pub key: String,
    /// Unix second after which the URL is refused.
    pub expires: i64,
    /// For uploads: the only content type allowed.
    pub content_type: Option<String>,
    /// For uploads: the exact body length allowed.
    pub content_length: Option<u64>,
}

/// What a client actually sent to a presigned URL.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The request's method.
    pub method: &'a Method,
    /// The request's `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The length of the request's body.
    pub content_length: u64,
}

/// Why a presigned request is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The URL lacks or garbles a parameter.
    #[error("malformed presigned URL: {0}")]
    Malformed(String),
    /// The signature is not ours, or the request differs from what was signed.
    #[error("the request does not match its signature: {0}")]
    SignatureDoesNotMatch(&'static str),
    /// The URL's lifetime is over.
    #[error("the presigned URL has expired")]
    Expired,
}

impl Grant {
    /// Everything the signature covers, each field length-prefixed so no two
    /// grants share a message.
    fn message(&self) -> Vec<u8> {
        let mut message = Vec::with_capacity(128 + self.key.len());
        let mut field = |bytes: &[u8]| {
            message.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            message.extend_from_slice(bytes);
        };
        field(b"nocode-presign-v1");
        field(self.method.as_str().as_bytes());
        field(self.bucket.as_bytes());
        field(self.key.as_bytes());
        field(&self.expires.to_be_bytes());
        match &self.content_type {
            Some(content_type) => field(content_type.as_bytes()),
            None => field(b"-"),
        }
        match self.content_length {
            Some(length) => field(&length.to_be_bytes()),
            None => field(b"-"),
        }
        message
    }

    fn mac(&self, key: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length, so this arm is never taken; an empty
        // key still signs rather than failing.
        let mut mac = HmacSha256::new_from_slice(key)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        mac.update(&self.message());
        mac
    }

    /// The signature of this grant under `key`, base64url.
    pub fn sign(&self, key: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(key).finalize().into_bytes())
    }

    /// Reads a grant and its signature from a presigned URL's path and query
    /// (`…/_blobs/<bucket>/<key>?…`).
    pub fn from_uri(uri: &http::Uri) -> Result<(Grant, String), Refusal> {
        let malformed = |what: &str| Refusal::Malformed(what.to_string());
        let marker = format!("/{PRESIGNED_ROUTE}/");
        let path = uri.path();
        let rest = path
            .find(&marker)
            .map(|at| &path[at + marker.len()..])
            .ok_or_else(|| malformed("the path is not under /_blobs/"))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| malformed("the path names no key"))?;
        let decode = |text: &str, what: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| malformed(what))
        };
        let bucket = decode(bucket, "the bucket is not UTF-8")?;
        let key = decode(key, "the key is not UTF-8")?;

        let mut method = None;
        let mut expires = None;
        let mut content_type = None;
        let mut content_length = None;
        let mut signature = None;
        for pair in uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value, "a query parameter is not UTF-8")?;
            let slot = match name {
                "method" => &mut method,
                "expires" => &mut expires,
                "content-type" => &mut content_type,
                "content-length" => &mut content_length,
                "signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(Refusal::Malformed(format!("`{name}` is given twice")));
            }
        }
        let method = match method.as_deref() {
            Some("GET") => Method::GET,
            Some("PUT") => Method::PUT,
            _ => return Err(malformed("`method` is missing or not GET or PUT")),
        };
        let expires = expires
            .and_then(|e| e.parse::<i64>().ok())
            .ok_or_else(|| malformed("`expires` is missing or not a number"))?;
        let content_length = match content_length {
            Some(length) => Some(
                length
                    .parse::<u64>()
                    .map_err(|_| malformed("`content-length` is not a number"))?,
            ),
            None => None,
        };
        if method == Method::PUT && (content_type.is_none() || content_length.is_none()) {
            return Err(malformed("an upload URL names its content type and length"));
        }
        let signature = signature.ok_or_else(|| malformed("`signature` is missing"))?;
        Ok((
            Grant {
                method,
                bucket,
                key,
                expires,
                content_type,
                content_length,
            },
            signature,
        ))
    }
}

/// Checks a request to a presigned URL: the signature (in constant time),
/// then the expiry at `now`, then that the request is the one signed —
/// same method and, for an upload, the signed `Content-Type` and body length.
pub fn verify(
    key: &[u8],
    grant: &Grant,
    signature: &str,
    attempt: &Attempt<'_>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let tag = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Refusal::SignatureDoesNotMatch("the signature is not base64url"))?;
    grant
        .mac(key)
        .verify_slice(&tag)
        .map_err(|_| Refusal::SignatureDoesNotMatch("the signature is not valid"))?;
    if now.timestamp() > grant.expires {
        return Err(Refusal::Expired);
    }
    if *attempt.method != grant.method {
        return Err(Refusal::SignatureDoesNotMatch(
            "the URL was signed for another method",
        ));
    }
    if grant.method == Method::PUT {
        if attempt.content_type.map(str::trim) != grant.content_type.as_deref() {
            return Err(Refusal::SignatureDoesNotMatch(
                "the Content-Type header is not the signed one",
            ));
        }
        if Some(attempt.content_length) != grant.content_length {
            return Err(Refusal::SignatureDoesNotMatch(
                "the body is not of the signed length",
            ));
        }
    }
    Ok(())
}

/// An S3-shaped error answer.
#[derive(Debug)]
struct S3Error {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl S3Error {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn into_response(self) -> Response<Bytes> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            xml_escape(&self.message)
        );
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/xml"),
        );
        response
    }
}

impl From<Refusal> for S3Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Malformed(_) => S3Error::new(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                refusal.to_string(),
            ),
            Refusal::SignatureDoesNotMatch(_) => S3Error::new(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                refusal.to_string(),
            ),
            Refusal::Expired => {
                S3Error::new(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired")
            }
        }
    }
}

impl From<BlobError> for S3Error {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::NotFound => S3Error::new(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ),
            BlobError::UnknownBucket(_) => S3Error::new(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist.",
            ),
            BlobError::Invalid(message) => {
                S3Error::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
            }
            BlobError::TooLarge { .. } => {
                S3Error::new(StatusCode::BAD_REQUEST, "EntityTooLarge", error.to_string())
            }
            BlobError::Backend(_) => {
                tracing::error!(%error, "presigned request failed");
                S3Error::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            }
        }
    }
}

fn plain_response(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

// ---------------------------------------------------------------------------
// Files.

/// The path of `key` relative to its bucket's folder.
fn relative_path(key: &str) -> BlobResult<PathBuf> {
    let segments: Vec<&str> = key.split('/').collect();
    let mut path = PathBuf::new();
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            return Err(BlobError::Invalid(format!("`{key}` has an empty segment")));
        }
        let mut name = utf8_percent_encode(segment, FILE_NAME).to_string();
        if i + 1 == segments.len() {
            name.push_str(BLOB_SUFFIX);
        }
        path.push(name);
    }
    Ok(path)
}

/// The key segment a folder or blob file name stands for, `None` for names
/// that are not ours (temporary files, anything a person left there).
fn segment_of(name: &str, is_file: bool) -> Option<String> {
    let encoded = if is_file {
        name.strip_suffix(BLOB_SUFFIX)?
    } else {
        name
    };
    if encoded.is_empty() || encoded.contains('.') {
        return None;
    }
    percent_decode_str(encoded)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn io_error(context: &str) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |e| {
        if e.kind() == io::ErrorKind::InvalidFilename {
            BlobError::Invalid(format!(
                "{context}: the key is too long for this file system"
            ))
        } else {
            BlobError::Backend(format!("{context}: {e}"))
        }
    }
}

/// Makes a folder's entries (a rename, a new file) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates the folders between `root` and `dir`, syncing each parent that
/// gained one so the blob stays reachable after a crash.
fn ensure_dir(root: &Path, dir: &Path) -> io::Result<()> {
    let relative = dir.strip_prefix(root).map_err(io::Error::other)?;
    let mut current = root.to_path_buf();
    for component in relative.components() {
        let parent = current.clone();
        current.push(component);
        match fs::create_dir(&current) {
            Ok(()) => sync_dir(&parent)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn write_blob(bucket_root: &Path, path: &Path, header: &Header, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a blob path has no folder"))?;
    ensure_dir(bucket_root, dir)?;
    let tmp = dir.join(format!(".tmp-{}", ulid::Ulid::generate()));
    let written = (|| {
        let mut line = serde_json::to_vec(header)?;
        line.push(b'\n');
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(&line)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        // Best effort: a leftover temporary file is ignored by every reader.
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Opens a blob file and reads its metadata line; `None` when absent.
fn open_blob(path: &Path) -> io::Result<Option<(Header, BufReader<File>)>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    (&mut reader)
        .take(MAX_HEADER)
        .read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the blob file has no metadata line",
        ));
    }
    let header: Header = serde_json::from_slice(&line)?;
    if header.v != HEADER_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown blob file version {}", header.v),
        ));
    }
    Ok(Some((header, reader)))
}

fn read_header(path: &Path) -> io::Result<Option<Header>> {
    Ok(open_blob(path)?.map(|(header, _)| header))
}

fn read_blob(path: &Path) -> io::Result<Option<(Header, Vec<u8>)>> {
    let Some((header, mut reader)) = open_blob(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(header.size).unwrap_or(0));
    reader.read_to_end(&mut bytes)?;
    if bytes.len() as u64 != header.size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the blob file holds {} bytes, its metadata says {}",
                bytes.len(),
                header.size
            ),
        ));
    }
    Ok(Some((header, bytes)))
}

fn delete_blob(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => path.parent().map_or(Ok(()), sync_dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// One page of the keys under `prefix` after `after`. Keys are gathered from
/// file names, sorted (Rust's string order is UTF-8 byte order, S3's order),
/// and only the page's blobs are opened for their metadata.
fn list_blobs(
    bucket_dir: &Path,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> io::Result<BlobPage> {
    // Start in the deepest folder the prefix names completely.
    let (folders, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let mut start = bucket_dir.to_path_buf();
    let mut key_prefix = String::new();
    if !folders.is_empty() {
        for segment in folders.split('/') {
            if segment.is_empty() {
                // No valid key has an empty segment.
                return Ok(BlobPage::default());
            }
            start.push(utf8_percent_encode(segment, FILE_NAME).to_string());
            key_prefix.push_str(segment);
            key_prefix.push('/');
        }
    }
    let mut keys = Vec::new();
    collect_keys(&start, &key_prefix, prefix, after, &mut keys)?;
    keys.sort_unstable();

    let more = keys.len() > limit;
    let mut blobs = Vec::with_capacity(limit.min(keys.len()));
    for (key, path) in keys.into_iter().take(limit) {
        // A blob deleted since the folder was read is simply not listed.
        if let Some(header) = read_header(&path)? {
            blobs.push(header.meta(&key, false));
        }
    }
    let next = if more {
        blobs.last().map(|last| cursor_after(&last.key))
    } else {
        None
    };
    Ok(BlobPage { blobs, next })
}

fn collect_keys(
    dir: &Path,
    dir_key: &str,
    prefix: &str,
    after: Option<&str>,
    keys: &mut Vec<(String, PathBuf)>,
) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_type = entry.file_type()?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if file_type.is_dir() {
            let Some(segment) = segment_of(&name, false) else {
                continue;
            };
            let folder_key = format!("{dir_key}{segment}/");
            if folder_key.starts_with(prefix) || prefix.starts_with(&folder_key) {
                collect_keys(&entry.path(), &folder_key, prefix, after, keys)?;
            }
        } else if file_type.is_file() {
            let Some(segment) = segment_of(&name, true) else {
                continue;
            };
            let key = format!("{dir_key}{segment}");
            if key.starts_with(prefix) && after.is_none_or(|after| key.as_str() > after) {
                keys.push((key, entry.path()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn upload(expires: i64) -> Grant {
        Grant {
            method: Method::PUT,
            bucket: "documents".into(),
            key: "org/1/a b.pdf".into(),
            expires,
            content_type: Some("application/pdf".into()),
            content_length: Some(5),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_000, 0).unwrap()
    }

    fn attempt<'a>(method: &'a Method, content_type: Option<&'a str>, len: u64) -> Attempt<'a> {
        Attempt {
            method,
            content_type,
            content_length: len,
        }
    }

    #[test]
    fn a_signed_upload_verifies_until_it_expires() {
        let grant = upload(1_000);
        let sig = grant.sign(KEY);
        let ok = attempt(&Method::PUT, Some("application/pdf"), 5);
        assert_eq!(verify(KEY, &grant, &sig, &ok, now()), Ok(()));
        let later = DateTime::from_timestamp(1_001, 0).unwrap();
        assert_eq!(verify(KEY, &grant, &sig, &ok, later), Err(Refusal::Expired));
    }

    #[test]
    fn anything_other_than_what_was_signed_is_refused() {
        let grant = upload(2_000);
        let sig = grant.sign(KEY);
        let ok = attempt(&Method::PUT, Some("application/pdf"), 5);
        let mismatch = |r: Result<(), Refusal>| matches!(r, Err(Refusal::SignatureDoesNotMatch(_)));

        assert!(mismatch(verify(b"another key", &grant, &sig, &ok, now())));
        let mut tampered = sig.clone();
        tampered.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
        assert!(mismatch(verify(KEY, &grant, &tampered, &ok, now())));
        assert!(mismatch(verify(KEY, &grant, "%%%", &ok, now())));
        for changed in [
            Grant {
                key: "org/1/other.pdf".into(),
                ..grant.clone()
            },
            Grant {
                bucket: "exports".into(),
                ..grant.clone()
            },
            Grant {
                expires: 3_000,
                ..grant.clone()
            },
            Grant {
                content_type: Some("text/html".into()),
                ..grant.clone()
            },
            Grant {
                content_length: Some(6),
                ..grant.clone()
            },
            Grant {
                method: Method::GET,
                ..grant.clone()
            },
        ] {
            assert!(
                mismatch(verify(KEY, &changed, &sig, &ok, now())),
                "{changed:?}"
            );
        }
        let get = Method::GET;
        assert!(mismatch(verify(
            KEY,
            &grant,
            &sig,
            &attempt(&get, Some("application/pdf"), 5),
            now()
        )));
        let put = Method::PUT;
        for wrong in [
            attempt(&put, Some("text/html"), 5),
            attempt(&put, None, 5),
            attempt(&put, Some("application/pdf"), 4),
            attempt(&put, Some("application/pdf"), 6),
        ] {
            assert!(
                mismatch(verify(KEY, &grant, &sig, &wrong, now())),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn a_download_ignores_body_and_content_type() {
        let grant = Grant {
            method: Method::GET,
            content_type: None,
            content_length: None,
            ..upload(2_000)
        };
        let sig = grant.sign(KEY);
        let get = Method::GET;
        assert_eq!(
            verify(KEY, &grant, &sig, &attempt(&get, None, 0), now()),
            Ok(())
        );
        let put = Method::PUT;
        assert!(verify(KEY, &grant, &sig, &attempt(&put, None, 0), now()).is_err());
    }

    #[test]
    fn a_presigned_url_parses_back_to_its_grant() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = EmbeddedSettings::new(dir.path());
        settings.public_url = "http://127.0.0.1:9/base/".into();
        let blobs = EmbeddedBlobs::open(&settings).unwrap();
        let grant = Grant {
            key: "org/ü/a+b&c=d%.pdf".into(),
            content_type: Some("application/vnd.api+json".into()),
            ..upload(2_000)
        };
        let presigned = blobs.presign(grant.clone());
        assert!(
            presigned
                .url
                .starts_with("http://127.0.0.1:9/base/_blobs/documents/org/")
        );
        let uri: http::Uri = presigned.url.parse().unwrap();
        let (parsed, signature) = Grant::from_uri(&uri).unwrap();
        assert_eq!(parsed, grant);
        assert_eq!(signature, grant.sign(&blobs.inner.key));
        assert_eq!(
            presigned.headers,
            [
                (
                    "content-type".to_string(),
                    "application/vnd.api+json".to_string()
                ),
                ("content-length".to_string(), "5".to_string())
            ]
        );
    }

    #[test]
    fn malformed_urls_are_refused() {
        for uri in [
            "/elsewhere/documents/a?method=GET&expires=1&signature=x",
            "/_blobs/documents?method=GET&expires=1&signature=x",
            "/_blobs/documents/a?method=DELETE&expires=1&signature=x",
            "/_blobs/documents/a?method=GET&expires=soon&signature=x",
            "/_blobs/documents/a?method=GET&expires=1",
            "/_blobs/documents/a?method=PUT&expires=1&signature=x",
            "/_blobs/documents/a?method=GET&method=GET&expires=1&signature=x",
        ] {
            let uri: http::Uri = uri.parse().unwrap();
            assert!(
                matches!(Grant::from_uri(&uri), Err(Refusal::Malformed(_))),
                "{uri}"
            );
        }
    }

    #[test]
    fn file_names_never_leave_the_bucket_folder() {
        for key in ["..", "../x", "a/../../b", ".", "a/./b", "..\\x", "C:x", "~"] {
            let path = relative_path(key).unwrap();
            for component in path.components() {
                let std::path::Component::Normal(name) = component else {
                    panic!("{key:?} gives {path:?}");
                };
                let name = name.to_str().unwrap();
                assert!(
                    !name.starts_with('.') && !name.contains(['\\', ':']),
                    "{key:?}: {name}"
                );
            }
        }
        assert!(relative_path("a//b").is_err());
        assert_eq!(
            relative_path("a/b.c").unwrap(),
            PathBuf::from("a/b%2Ec.blob")
        );
        assert_eq!(segment_of("b%2Ec.blob", true).as_deref(), Some("b.c"));
        assert_eq!(segment_of("b%2Ec", false).as_deref(), Some("b.c"));
        assert_eq!(segment_of(".tmp-01", true), None);
        assert_eq!(segment_of("x.blob", false), None);
    }
}
