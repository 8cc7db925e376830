//! The console's HTTP surface.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page, rendered with the latest snapshot |
//! | `GET /assets/console.js`, `/assets/console.css` | its script and style (no other assets exist) |
//! | `GET /api/state` | the latest snapshot as JSON |
//! | `GET /api/events` | the snapshots as Server-Sent Events, one per second |
//! | `POST /api/control` | one [`Action`] as JSON, with the page's token in `x-csrf-token` |
//! | `GET /report/{file}` | the latest report's files, for the controls' claim links |
//!
//! Every route first checks `Host` against the console's names
//! ([`super::hosts`]): any other name gets `421 misdirected_request`.

use std::{net::TcpListener, sync::Arc};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{Server, ServiceRequest, ServiceResponse},
    http::{header, StatusCode},
    middleware::{from_fn, DefaultHeaders, Next},
    web::{self, Bytes},
    App, HttpRequest, HttpResponse, HttpServer, ResponseError,
};
use futures::stream;
use serde::Serialize;

use super::{
    act,
    controls::{Action, ControlError},
    hosts::AllowedHosts,
    page,
    state::Shared,
};
use crate::LabError;

/// Nothing but the console itself: no fonts, scripts or images from
/// anywhere else, no inline script, and no framing by another site.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The header the page's script puts its token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A refused or failed control, as JSON with the right status.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    Control(#[from] ControlError),
    #[error("{0}")]
    Forbidden(String),
    /// A `Host` the console is not served under.
    #[error("{0}")]
    Misdirected(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Render(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::Control(ControlError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ConsoleError::Control(ControlError::Unavailable(_)) => StatusCode::CONFLICT,
            // The cluster was asked and could not do it: not the client's mistake.
            ConsoleError::Control(ControlError::Failed(_)) => StatusCode::BAD_GATEWAY,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Misdirected(_) => StatusCode::MISDIRECTED_REQUEST,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let error = match self {
            ConsoleError::Control(ControlError::Invalid(_)) => "invalid_control",
            ConsoleError::Control(ControlError::Unavailable(_)) => "unavailable",
            ConsoleError::Control(ControlError::Failed(_)) => "control_failed",
            ConsoleError::Forbidden(_) => "forbidden",
            ConsoleError::Misdirected(_) => "misdirected_request",
            ConsoleError::NotFound(_) => "not_found",
            ConsoleError::Render(_) => "render_failed",
        };
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error,
            message: self.to_string(),
        })
    }
}

/// Serves the console on `listener` with one worker: it answers a handful
/// of browsers, and a demo laptop's cores belong to the cluster.
pub(super) fn serve(listener: TcpListener, shared: Arc<Shared>) -> Result<Server, LabError> {
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(authlab_core::http::json_config())
            .wrap(from_fn(only_its_own_names))
            .wrap(
                DefaultHeaders::new()
                    .add(("content-security-policy", CSP))
                    .add(("x-content-type-options", "nosniff"))
                    .add(("referrer-policy", "no-referrer"))
                    .add(("cache-control", "no-store")),
            )
            .service(authlab_core::http::resource("/").route(web::get().to(index)))
            .service(
                authlab_core::http::resource("/assets/console.js").route(web::get().to(script)),
            )
            .service(
                authlab_core::http::resource("/assets/console.css").route(web::get().to(style)),
            )
            .service(authlab_core::http::resource("/api/state").route(web::get().to(state)))
            .service(authlab_core::http::resource("/api/events").route(web::get().to(events)))
            .service(authlab_core::http::resource("/api/control").route(web::post().to(control)))
            .service(
                authlab_core::http::resource("/report/{file}").route(web::get().to(report_file)),
            )
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .map_err(|e| LabError::Io(format!("the console cannot serve: {e}")))?
    .run();
    Ok(server)
}

/// The request's `Host` header, the one name a browser says it was pointed
/// at (never `X-Forwarded-Host`, which any client can send).
fn host(request: &HttpRequest) -> Option<&str> {
    let mut values = request.headers().get_all(header::HOST);
    let host = values.next()?.to_str().ok()?;
    values.next().is_none().then_some(host)
}

/// Refuses, before any route, a request whose `Host` is not one of the
/// console's names: the page (and its token), the feed and the controls.
async fn only_its_own_names<B: MessageBody>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let refusal = match request.app_data::<web::Data<Shared>>() {
        Some(shared) if host(request.request()).is_some_and(|h| shared.hosts.allows(h)) => None,
        Some(shared) => Some(ConsoleError::Misdirected(format!(
            "this console answers to {} only; open it under one of those names \
             (another name can be added with --console-host or AUTHLAB_CONSOLE_HOSTS)",
            shared.hosts.names().join(", "),
        ))),
        None => Some(ConsoleError::Render(
            "the console's state is missing".into(),
        )),
    };
    match refusal {
        Some(error) => Ok(request.error_response(error).map_into_right_body()),
        None => next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

async fn index(shared: web::Data<Shared>) -> Result<HttpResponse, ConsoleError> {
    let snapshot = shared.latest.borrow().clone();
    let html = page::render(&shared, &snapshot).map_err(|e| ConsoleError::Render(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(page::SCRIPT)
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(page::STYLE)
}

async fn state(shared: web::Data<Shared>) -> HttpResponse {
    let snapshot = shared.latest.borrow().clone();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(snapshot.to_string())
}

/// One `data:` event per snapshot, starting with the latest, until the
/// browser goes away.
async fn events(shared: web::Data<Shared>) -> HttpResponse {
    let mut receiver = shared.latest.subscribe();
    receiver.mark_changed();
    let events = stream::unfold(receiver, |mut receiver| async move {
        receiver.changed().await.ok()?;
        let json = receiver.borrow_and_update().clone();
        Some((
            Ok::<_, actix_web::Error>(Bytes::from(format!("data: {json}\n\n"))),
            receiver,
        ))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(events)
}

#[derive(Serialize)]
struct Done {
    ok: bool,
    action: &'static str,
    message: String,
    claim: Option<&'static str>,
}

async fn control(
    request: HttpRequest,
    shared: web::Data<Shared>,
    action: web::Json<Action>,
) -> Result<HttpResponse, ConsoleError> {
    check_origin(&request, &shared.hosts)?;
    check_token(&request, &shared.csrf)?;
    let action = action.into_inner();
    let message = act::perform(&shared, &action).await?;
    Ok(HttpResponse::Ok().json(Done {
        ok: true,
        action: action.name(),
        message,
        claim: action.claim(),
    }))
}

/// A browser names the page a request came from; it must be this console,
/// under one of its names (not merely whatever the request's `Host` says).
fn check_origin(request: &HttpRequest, hosts: &AllowedHosts) -> Result<(), ConsoleError> {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        // Not a browser's cross-site request (curl, a test); the token still applies.
        return Ok(());
    };
    let own = match (origin.to_str(), host(request)) {
        (Ok(origin), Some(host)) => hosts.allows_origin(origin, host),
        _ => false,
    };
    if own {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "a control must come from the console's own page".into(),
        ))
    }
}

fn check_token(request: &HttpRequest, expected: &str) -> Result<(), ConsoleError> {
    let given = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if same(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(format!(
            "missing or wrong {CSRF_HEADER}: reload the console's page"
        )))
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

async fn report_file(
    shared: web::Data<Shared>,
    file: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (path, content_type) = shared
        .report
        .file(&file)
        .ok_or_else(|| ConsoleError::NotFound(format!("no report file {file:?}")))?;
    let body = tokio::fs::read(&path)
        .await
        .map_err(|_| ConsoleError::NotFound(format!("no report file {file:?}")))?;
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound("no such page".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"", b"abc"));
    }

    #[test]
    fn each_failure_has_its_status() {
        let status = |e: ConsoleError| e.status_code().as_u16();
        assert_eq!(status(ControlError::Invalid("x".into()).into()), 400);
        assert_eq!(status(ControlError::Unavailable("x".into()).into()), 409);
        assert_eq!(status(ControlError::Failed("x".into()).into()), 502);
        assert_eq!(status(ConsoleError::Forbidden("x".into())), 403);
    }
}
