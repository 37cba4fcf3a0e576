//! The results web server (`harness serve`): a page listing every run in the store,
//! newest first, with its verdict in colour, ops/s, p99 and faults, each linking to its
//! report and files; any file of the store; a run directory as `.tar.gz`. Nothing
//! outside the store is reachable: every path goes through [`crate::store::resolve`].
//!
//! Routes: `/` (the listing), `/runs/<path>` (a file, or a directory's listing),
//! `/archive/<path>` (a run or suite directory as `.tar.gz`).

use crate::archive::tar_gz;
use crate::report::verdict_color;
use crate::store::{list_runs, resolve, Refusal};
use crate::svg::escape;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::fmt::Write;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The router over `store`.
pub fn router(store: PathBuf) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/runs/{*path}", get(file))
        .route("/archive/{*path}", get(archive))
        .with_state(Arc::new(store))
}

/// Binds `addr`, calls `ready` with the bound address, and serves `store` until
/// `shutdown` completes.
pub async fn serve(
    store: PathBuf,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    ready(listener.local_addr()?);
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown)
        .await
}

fn refused(r: Refusal) -> Response {
    let status = match r {
        Refusal::Outside(_) => StatusCode::FORBIDDEN,
        Refusal::NotFound(_) => StatusCode::NOT_FOUND,
    };
    (status, format!("{r}\n")).into_response()
}

async fn index(State(store): State<Arc<PathBuf>>) -> Html<String> {
    let store = store.as_path().to_path_buf();
    let runs = tokio::task::spawn_blocking(move || list_runs(&store))
        .await
        .unwrap_or_default();
    let mut h = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>harness runs</title>\
<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ccc;\
padding:3px 8px;font-size:13px;text-align:left}td.n{text-align:right}.v{color:white;padding:1px 8px;\
border-radius:3px;font-weight:bold}</style></head><body><h1>Runs</h1>",
    );
    let _ = write!(
        h,
        "<p>{} run(s) and suite(s), newest first.</p><table id=\"runs\"><tr><th>name</th><th>started</th>\
<th>verdict</th><th>ops/s</th><th>p99 ms</th><th>faults</th><th>files</th></tr>",
        runs.len()
    );
    for r in &runs {
        let link = if r.has_report {
            format!("/runs/{}/report.html", r.path)
        } else {
            format!("/runs/{}/", r.path)
        };
        let color = if r.verdict.ends_with("failed") {
            "#d62728"
        } else {
            verdict_color(&r.verdict)
        };
        let _ = write!(
            h,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td><span class=v style=\"background:{color}\">{}</span></td>\
<td class=n>{}</td><td class=n>{}</td><td>{}</td><td><a href=\"/runs/{}/\">files</a> · <a href=\"/archive/{}\">.tar.gz</a></td></tr>",
            escape(&link),
            escape(&r.name),
            escape(r.started_at.get(..19).unwrap_or(&r.started_at)),
            escape(&r.verdict),
            r.ops_per_sec.map_or("-".into(), |v| format!("{v:.1}")),
            r.p99_ms.map_or("-".into(), |v| format!("{v:.1}")),
            escape(&if r.suite { String::new() } else if r.faults.is_empty() { "none".into() } else { r.faults.join(", ") }),
            escape(&r.path),
            escape(&r.path)
        );
    }
    h.push_str("</table></body></html>");
    Html(h)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        "xml" => "application/xml",
        _ => "text/plain; charset=utf-8",
    }
}

async fn file(State(store): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>) -> Response {
    let full = match resolve(&store, &path) {
        Ok(p) => p,
        Err(r) => return refused(r),
    };
    if full.is_dir() {
        let Ok(entries) = std::fs::read_dir(&full) else {
            return refused(Refusal::NotFound(path));
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| {
                let mut n = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() {
                    n.push('/');
                }
                n
            })
            .collect();
        names.sort();
        let base = path.trim_end_matches('/');
        let mut h = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1><ul>",
            escape(base)
        );
        for n in names {
            let _ = write!(
                h,
                "<li><a href=\"/runs/{}/{}\">{}</a></li>",
                escape(base),
                escape(&n),
                escape(&n)
            );
        }
        h.push_str("</ul></body></html>");
        return Html(h).into_response();
    }
    match tokio::fs::read(&full).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&full))], bytes).into_response(),
        Err(_) => refused(Refusal::NotFound(path)),
    }
}

async fn archive(State(store): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>) -> Response {
    let full = match resolve(&store, &path) {
        Ok(p) => p,
        Err(r) => return refused(r),
    };
    if !(full.join("test.json").is_file() || full.join(crate::suite_summary::SUMMARY).is_file()) {
        return (StatusCode::NOT_FOUND, "not a run or suite directory\n").into_response();
    }
    let name = path.trim_end_matches('/').replace('/', "_");
    let file_name = format!("{name}.tar.gz");
    let packed = tokio::task::spawn_blocking(move || tar_gz(&full, &name)).await;
    match packed {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/gzip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot pack the directory\n",
        )
            .into_response(),
    }
}
