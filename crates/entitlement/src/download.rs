//! The download server: `GET /dl/<token>` over HTTP (hyper), beside the entitlement service.
//!
//! Each request is checked in this order: the token's signature (constant time), its expiry
//! (the service's clock), then the entitlement's status **at that moment** — so a revocation or
//! an expiry holds on every request, not only the first. A valid link streams the file from the
//! downloads directory. Refusals have their own HTTP status and code (`bad_signature` 403,
//! `link_expired` 410, `link_revoked` 410). Opening a link records nothing: the K7 event was
//! recorded when the link was issued, so unauthenticated requests cannot grow the log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use csp_bus::runtime::StateReader;
use csp_events::entitlement::{EntitlementStatus, Selection};
use csp_events::market::ProductId;
use futures_util::stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::AsyncReadExt as _;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::links::{self, LinkRefusal};
use crate::service::EntitlementService;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// The file a selection names under `dir`: `<product>/<version>[_<language>][_<file type>].bin`,
/// each part reduced to lower-case letters, digits and dashes (no path can escape `dir`).
pub fn file_path(dir: &Path, product: &ProductId, selection: &Selection) -> PathBuf {
    let mut name = slug(&selection.version);
    for part in [&selection.language, &selection.file_type]
        .into_iter()
        .flatten()
    {
        name.push('_');
        name.push_str(&slug(part));
    }
    name.push_str(".bin");
    dir.join(slug(product.as_str())).join(name)
}

fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Writes a small sample file for every file the catalog offers (the demo's downloads).
pub fn write_samples(dir: &Path, catalog: &csp_catalog::Catalog) -> std::io::Result<usize> {
    let mut n = 0;
    for product in catalog.products() {
        for sku in product.skus.values() {
            let d = &sku.downloads;
            let or_none = |v: &Vec<String>| -> Vec<Option<String>> {
                if v.is_empty() {
                    vec![None]
                } else {
                    v.iter().cloned().map(Some).collect()
                }
            };
            for version in &d.versions {
                for language in or_none(&d.languages) {
                    for file_type in or_none(&d.file_types) {
                        let sel = Selection {
                            version: version.clone(),
                            language: language.clone(),
                            file_type: file_type.clone(),
                        };
                        let path = file_path(dir, &product.id, &sel);
                        if let Some(parent) = path.parent() {
                            std::fs::create_dir_all(parent)?;
                        }
                        let text = format!(
                            "csp sample download: {} {} {} {}\n",
                            product.name,
                            version,
                            language.as_deref().unwrap_or(""),
                            file_type.as_deref().unwrap_or("")
                        );
                        std::fs::write(&path, text)?;
                        n += 1;
                    }
                }
            }
        }
    }
    Ok(n)
}

fn json(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"ok": false, "error": {"code": code, "message": message}});
    let bytes = Bytes::from(body.to_string());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            Full::new(bytes)
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .unwrap_or_else(|_| Response::new(empty()))
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Answers one request (see the module documentation for the order of checks).
pub async fn answer(
    reader: &StateReader<EntitlementService>,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "only GET /dl/<token>",
        );
    }
    let Some(token) = req.uri().path().strip_prefix("/dl/") else {
        return json(
            StatusCode::NOT_FOUND,
            "not_found",
            "only /dl/<token> is served here",
        );
    };
    let config = reader.config();
    let claims = match links::verify(&config.keyring, token, reader.now()) {
        Ok(Ok(claims)) => claims,
        Ok(Err(LinkRefusal::BadSignature)) => {
            return json(
                StatusCode::FORBIDDEN,
                "bad_signature",
                "this link was not issued by csp, or was altered",
            )
        }
        Ok(Err(LinkRefusal::Expired(at))) => {
            return json(
                StatusCode::GONE,
                "link_expired",
                &format!("this link expired at {at}; ask for a new one"),
            )
        }
        Err(e) => {
            warn!("download link check failed: {e}");
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the link cannot be checked now; try again",
            );
        }
    };
    let status = reader.with_state(|s| {
        s.entitlements
            .get(&claims.entitlement)
            .map(|e| (e.status(), e.granted.product.clone()))
    });
    let product = match status {
        Some((EntitlementStatus::Active, product)) => product,
        Some((EntitlementStatus::Revoked, _)) => {
            return json(
                StatusCode::GONE,
                "link_revoked",
                "the purchase was cancelled: its links no longer work",
            )
        }
        Some((EntitlementStatus::Expired, _)) => {
            return json(
                StatusCode::GONE,
                "link_revoked",
                "the subscription expired: its links no longer work",
            )
        }
        None => return json(StatusCode::NOT_FOUND, "not_found", "no such entitlement"),
    };
    let path = file_path(&config.downloads, &product, &claims.selection);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => {
            warn!(path = %path.display(), "download file missing");
            return json(
                StatusCode::NOT_FOUND,
                "not_found",
                "the file is not available on this server",
            );
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let body = if req.method() == Method::HEAD {
        empty()
    } else {
        let chunks = stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Frame::data(Bytes::from(buf))), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        BodyExt::boxed_unsync(StreamBody::new(chunks))
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/octet-stream")
        .header(
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .body(body)
        .unwrap_or_else(|_| Response::new(empty()))
}

/// Serves `GET /dl/<token>` on `addr` until `stop` turns true; returns the bound address (an
/// `addr` with port 0 binds a free one).
pub async fn serve(
    addr: SocketAddr,
    reader: StateReader<EntitlementService>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    info!(addr = %bound, "download links served");
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.changed() => return,
            };
            let Ok((tcp, _)) = accepted else { continue };
            let reader = reader.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let reader = reader.clone();
                    async move { Ok::<_, Infallible>(answer(&reader, req).await) }
                });
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok((bound, task))
}
