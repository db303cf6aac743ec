//! The browser studio (`infra/studio/`, built into `infra/studio/dist/`),
//! served at `/studio/`: files by their path, and the app's page for any
//! path without an extension, so deep links load the app. A missing file
//! is a 404, never the page. Release builds carry the files in the
//! binary; debug builds read them from the folder.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "infra/studio/dist/"]
#[allow_missing = true]
struct Assets;

/// The page every extension-less path gets.
const INDEX: &str = "index.html";

fn not_found() -> Response {
    super::proxy::problem_response(&shared::http::ApiError::NotFound)
}

/// `GET /studio/` and `GET /studio/{*path}`.
pub async fn serve(path: Option<Path<String>>) -> Response {
    let path = path.map(|Path(p)| p).unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let (name, is_page) = if last.contains('.') {
        (path.as_str(), false)
    } else {
        (INDEX, true)
    };
    let Some(file) = Assets::get(name) else {
        return not_found();
    };
    let mut response = Response::new(Body::from(file.data.into_owned()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    if let Ok(kind) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, kind);
    }
    // Built files carry their hash in their names; the page does not.
    let cache = if is_page || name == INDEX {
        "no-cache"
    } else if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// `GET /studio`: to `/studio/`, where the app's relative paths resolve.
pub async fn redirect() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/studio/"));
    response
}
