//! Serves the simulator behind a timing layer, so the harness knows how long
//! each Jira call took and which bench request it belonged to.
//!
//! The simulator's own server ([`jira_sim::Sim::spawn`]) cannot be wrapped,
//! so this is a copy of its connection loop around [`jira_sim::Sim::router`].
//! The one difference: `ApplyThenDrop` fails the response body instead of
//! closing the connection from outside, which hyper turns into a closed
//! connection before any byte is written: the client sees the same thing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Body;
use http::{Method, Request, Response};
use jira_sim::Sim;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Where a Data Center run serves Jira (as many installations do, behind
/// a path of the host), so that every URL the server builds must keep it.
pub const CONTEXT_PATH: &str = "/jira";

/// The marker the harness puts in every summary; the digits after it are the
/// bench request's sequence number.
pub const MARKER: &str = "bench-req-";

/// Who a Jira call is attributed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A create carrying the marker of this bench request.
    Request(u64),
    /// A user lookup for this email.
    Email(String),
    /// Shared lookups (project, create metadata, ...): no single request.
    Shared,
}

/// One Jira call as the simulator served it.
#[derive(Clone, Debug)]
pub struct Call {
    pub endpoint: &'static str,
    pub owner: Owner,
    /// From the request reaching the router to its response being ready:
    /// the simulated latency, faults' delays and the simulator's work.
    pub micros: u64,
}

/// Every call served since the last [`Recorder::take`].
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<Vec<Call>>,
}

impl Recorder {
    fn push(&self, call: Call) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
    }

    /// The calls so far; starts a new record.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Jira's endpoints as the report names them.
fn endpoint(method: &Method, path: &str) -> &'static str {
    let path = match path.strip_prefix("/ex/jira/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, p)| p),
        None => path.strip_prefix(CONTEXT_PATH).unwrap_or(path),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    // Cloud's v3, or Data Center's v2 (whose user search is `user/search`
    // too, with `username=`).
    let Some(rest) = path
        .strip_prefix("rest/api/3/")
        .or_else(|| path.strip_prefix("rest/api/2/"))
    else {
        return "other";
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["issue"] if method == Method::POST => "create issue",
        ["issue", "createmeta", _, "issuetypes"] => "createmeta types",
        ["issue", "createmeta", _, "issuetypes", _] => "createmeta fields",
        ["issue", _, "properties", _] => "issue property",
        ["issue", _] => "get issue",
        ["search", "jql"] => "search jql",
        // Data Center's search (no `search/jql` there).
        ["search"] => "search",
        ["user", "search"] => "user search",
        ["users", "search"] => "users search",
        ["myself"] => "myself",
        ["mypermissions"] => "mypermissions",
        ["project", "search"] => "project search",
        ["project", _, "components"] => "project components",
        ["project", _] => "project",
        ["priority", ..] => "priorities",
        _ => "other",
    }
}

/// Where the digits after the first marker in a body are (possibly none).
pub fn marker_digits(body: &[u8]) -> Option<std::ops::Range<usize>> {
    let at = memchr::memmem::find(body, MARKER.as_bytes())? + MARKER.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    Some(at..at + digits)
}

/// The bench request number in a create body (the first marker).
fn marked_request(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(&body[marker_digits(body)?])
        .ok()?
        .parse()
        .ok()
}

async fn timed(
    router: axum::Router,
    recorder: Arc<Recorder>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let endpoint = endpoint(&parts.method, parts.uri.path());
    let (owner, body) = match endpoint {
        "create issue" => {
            // Buffered here rather than in the router: the simulator reads
            // the whole body anyway.
            let bytes = axum::body::to_bytes(Body::new(body), usize::MAX)
                .await
                .unwrap_or_default();
            let owner = marked_request(&bytes).map_or(Owner::Shared, Owner::Request);
            (owner, Body::from(bytes))
        }
        "user search" => {
            let email = parts.uri.query().and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "query" || k == "username")
                    .map(|(_, v)| v.to_lowercase())
            });
            (email.map_or(Owner::Shared, Owner::Email), Body::new(body))
        }
        _ => (Owner::Shared, Body::new(body)),
    };
    let response = router
        .oneshot(Request::from_parts(parts, body))
        .await
        .unwrap_or_else(|never| match never {});
    recorder.push(Call {
        endpoint,
        owner,
        micros: u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
    });
    Ok(response)
}

/// Serves `sim` on `127.0.0.1:0` until the runtime stops; returns its URL
/// (with its context path, if it has one).
pub async fn serve(sim: &Sim, recorder: Arc<Recorder>) -> std::io::Result<String> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let router = sim.router();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let recorder = recorder.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    timed(router.clone(), recorder.clone(), req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let context_path = sim.context_path().unwrap_or_default();
    Ok(format!("http://{addr}{context_path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_marker_and_names_endpoints() {
        assert_eq!(
            marked_request(br#"{"summary":"bench-req-0042 x"}"#),
            Some(42)
        );
        assert_eq!(marked_request(b"{}"), None);
        assert_eq!(endpoint(&Method::POST, "/rest/api/3/issue"), "create issue");
        assert_eq!(
            endpoint(
                &Method::GET,
                "/rest/api/3/issue/createmeta/DEMO/issuetypes/10001"
            ),
            "createmeta fields"
        );
        assert_eq!(
            endpoint(&Method::GET, "/ex/jira/abc/rest/api/3/user/search"),
            "user search"
        );
        assert_eq!(
            endpoint(&Method::POST, "/jira/rest/api/2/issue"),
            "create issue"
        );
        assert_eq!(
            endpoint(
                &Method::GET,
                "/jira/rest/api/2/issue/DEMO-1/properties/jira-action"
            ),
            "issue property"
        );
    }
}
