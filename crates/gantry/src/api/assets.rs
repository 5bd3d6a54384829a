//! The dashboard's files (`web/`, built by build.rs into the binary).

use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::Embed;

use super::error::ApiError;

#[derive(Embed)]
#[folder = "$OUT_DIR/web"]
#[allow_missing = true]
struct Dashboard;

/// Serves a dashboard file; unknown paths get the API's JSON 404.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = (method == Method::GET || method == Method::HEAD)
        .then(|| Dashboard::get(path))
        .flatten();
    match file {
        Some(file) => {
            // Vite names built assets by content hash: they never change.
            let cache = if path.starts_with("assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            (
                [
                    (header::CONTENT_TYPE, file.metadata.mimetype()),
                    (header::CACHE_CONTROL, cache),
                ],
                file.data,
            )
                .into_response()
        }
        None if path == "index.html" => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
        None => {
            ApiError::not_found(format!("no route for {method} {}", uri.path())).into_response()
        }
    }
}

/// True when this binary holds the dashboard.
pub fn built() -> bool {
    Dashboard::get("index.html").is_some()
}

/// `/` of a binary built without the dashboard.
const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>gantry</title></head>
<body>
<h1>gantry</h1>
<p>This binary was built without the dashboard (no Node.js at build time, or
<code>GANTRY_WEB=skip</code>). Install Node.js 20+ and rebuild to get it. The API works:
see <a href="/api/openapi.json">/api/openapi.json</a>, for example
<a href="/api/stats/summary">/api/stats/summary</a>.</p>
</body>
</html>
"#;
