//! The S3 blob store. Logical buckets map to physical ones through the
//! settings; list cursors are the last key of a page (ListObjectsV2's
//! `StartAfter`), so they read the same as the embedded store's.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::describe;
use crate::config::AwsSettings;
use crate::ports::blobs::{
    Blob, BlobError, BlobMeta, BlobPage, BlobResult, BlobStore, PresignedRequest, UploadPolicy,
    cursor_after, key_after, page_size, validate_content_type, validate_expiry, validate_key,
    validate_upload,
};

/// Blobs in S3 buckets.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: Client,
    buckets: BTreeMap<String, String>,
}

impl S3Blobs {
    /// Builds the S3 client from the cold start's SDK configuration. An
    /// endpoint override means an emulator, which only answers path-style
    /// requests (`http://host/bucket/key`).
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings) -> Self {
        let mut config = aws_sdk_s3::config::Builder::from(sdk);
        if sdk.endpoint_url().is_some() {
            config = config.force_path_style(true);
        }
        Self {
            client: Client::from_conf(config.build()),
            buckets: settings.buckets.clone(),
        }
    }

    /// The physical bucket of a logical one.
    fn bucket(&self, logical: &str) -> BlobResult<&str> {
        self.buckets
            .get(logical)
            .map(String::as_str)
            .ok_or_else(|| BlobError::UnknownBucket(logical.to_string()))
    }

    /// The physical bucket, after checking the key.
    fn target(&self, logical: &str, key: &str) -> BlobResult<&str> {
        let bucket = self.bucket(logical)?;
        validate_key(key)?;
        Ok(bucket)
    }
}

fn backend<E: std::error::Error>(context: String) -> impl FnOnce(E) -> BlobError {
    move |e| BlobError::Backend(format!("{context}: {}", describe(&e)))
}

fn to_chrono(at: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<DateTime<Utc>> {
    at.and_then(|at| DateTime::from_timestamp(at.secs(), 0))
}

fn size(length: Option<i64>) -> u64 {
    length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn presigned(
    request: aws_sdk_s3::presigning::PresignedRequest,
    expires_in: Duration,
    required: &[(&str, String)],
) -> PresignedRequest {
    let mut headers: Vec<(String, String)> = request
        .headers()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect();
    // The signed headers must reach the client even if the SDK's presigned
    // request leaves one out of its header list.
    for (name, value) in required {
        if !headers.iter().any(|(n, _)| n == name) {
            headers.push(((*name).to_string(), value.clone()));
        }
    }
    let method = match request.method() {
        "PUT" => http::Method::PUT,
        _ => http::Method::GET,
    };
    let expires_at = chrono::Duration::from_std(expires_in)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    PresignedRequest {
        method,
        url: request.uri().to_string(),
        headers,
        expires_at,
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn probe(&self) -> Result<(), String> {
        // A read of an absent key proves the bucket answers, with the
        // read permission every blob route has anyway.
        let Some(bucket) = self.buckets.keys().next() else {
            return Err("no bucket is configured".into());
        };
        self.head(bucket, "health/probe")
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> BlobResult<()> {
        let physical = self.target(bucket, key)?;
        validate_content_type(content_type)?;
        self.client
            .put_object()
            .bucket(physical)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(backend(format!("cannot store {bucket}/{key}")))?;
        Ok(())
    }

    async fn read_start(&self, bucket: &str, key: &str, len: u64) -> BlobResult<Bytes> {
        let physical = self.target(bucket, key)?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let output = match self
            .client
            .get_object()
            .bucket(physical)
            .key(key)
            .range(format!("bytes=0-{}", len - 1))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(BlobError::NotFound);
            }
            Err(e) => return Err(backend(format!("cannot read {bucket}/{key}"))(e)),
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(backend(format!("cannot read the bytes of {bucket}/{key}")))?
            .into_bytes();
        // A store that ignores the range sends it all: keep what was asked.
        Ok(bytes.slice(..bytes.len().min(usize::try_from(len).unwrap_or(usize::MAX))))
    }

    async fn get(&self, bucket: &str, key: &str) -> BlobResult<Blob> {
        let physical = self.target(bucket, key)?;
        let output = match self
            .client
            .get_object()
            .bucket(physical)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(BlobError::NotFound);
            }
            Err(e) => return Err(backend(format!("cannot read {bucket}/{key}"))(e)),
        };
        let meta = BlobMeta {
            key: key.to_string(),
            size: size(output.content_length()),
            content_type: output.content_type().map(str::to_string),
            last_modified: to_chrono(output.last_modified()),
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(backend(format!("cannot read the bytes of {bucket}/{key}")))?
            .into_bytes();
        Ok(Blob {
            meta: BlobMeta {
                size: bytes.len() as u64,
                ..meta
            },
            bytes,
        })
    }

    async fn head(&self, bucket: &str, key: &str) -> BlobResult<Option<BlobMeta>> {
        let physical = self.target(bucket, key)?;
        match self
            .client
            .head_object()
            .bucket(physical)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(BlobMeta {
                key: key.to_string(),
                size: size(output.content_length()),
                content_type: output.content_type().map(str::to_string),
                last_modified: to_chrono(output.last_modified()),
            })),
            // A HEAD answer has no body, so a missing key may come back as a
            // bare 404 without an error code.
            Err(e)
                if e.as_service_error().is_some_and(|e| e.is_not_found())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Ok(None)
            }
            Err(e) => Err(backend(format!("cannot read {bucket}/{key}"))(e)),
        }
    }

    async fn delete(&self, bucket: &str, key: &str) -> BlobResult<()> {
        let physical = self.target(bucket, key)?;
        self.client
            .delete_object()
            .bucket(physical)
            .key(key)
            .send()
            .await
            .map_err(backend(format!("cannot delete {bucket}/{key}")))?;
        Ok(())
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> BlobResult<BlobPage> {
        let physical = self.bucket(bucket)?;
        let after = cursor.map(key_after).transpose()?;
        let limit = page_size(limit)?;
        let output = self
            .client
            .list_objects_v2()
            .bucket(physical)
            .prefix(prefix)
            .set_start_after(after)
            .max_keys(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(backend(format!("cannot list {bucket}")))?;
        let blobs: Vec<BlobMeta> = output
            .contents()
            .iter()
            .filter_map(|object| {
                Some(BlobMeta {
                    key: object.key()?.to_string(),
                    size: size(object.size()),
                    content_type: None,
                    last_modified: to_chrono(object.last_modified()),
                })
            })
            .collect();
        let next = if output.is_truncated().unwrap_or(false) {
            blobs.last().map(|last| cursor_after(&last.key))
        } else {
            None
        };
        Ok(BlobPage { blobs, next })
    }

    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        policy: &UploadPolicy,
    ) -> BlobResult<PresignedRequest> {
        let physical = self.target(bucket, key)?;
        validate_upload(policy)?;
        let length = i64::try_from(policy.content_length)
            .map_err(|_| BlobError::Invalid("the content length is out of range".into()))?;
        let config = PresigningConfig::expires_in(policy.expires_in)
            .map_err(|e| BlobError::Invalid(format!("presigning: {e}")))?;
        // Setting both on the request makes them signed headers: S3 refuses
        // an upload that declares another type or sends another size.
        let request = self
            .client
            .put_object()
            .bucket(physical)
            .key(key)
            .content_type(&policy.content_type)
            .content_length(length)
            .presigned(config)
            .await
            .map_err(backend(format!(
                "cannot presign an upload to {bucket}/{key}"
            )))?;
        Ok(presigned(
            request,
            policy.expires_in,
            &[
                ("content-type", policy.content_type.clone()),
                ("content-length", policy.content_length.to_string()),
            ],
        ))
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> BlobResult<PresignedRequest> {
        let physical = self.target(bucket, key)?;
        validate_expiry(expires_in)?;
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| BlobError::Invalid(format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(physical)
            .key(key)
            .presigned(config)
            .await
            .map_err(backend(format!(
                "cannot presign a download of {bucket}/{key}"
            )))?;
        Ok(presigned(request, expires_in, &[]))
    }
}
