//! The HTTP API of `redline proxy`: the subset of Toxiproxy's API that its network faults
//! need, with Toxiproxy's paths, JSON bodies and status codes, so existing Toxiproxy
//! clients can drive it.
//!
//! | request | does |
//! |---|---|
//! | `GET /version` | `{"version": ...}` |
//! | `GET /proxies` | every proxy (here: one) by name |
//! | `GET /proxies/{name}` | the proxy: name, listen, upstream, enabled, toxics |
//! | `POST /proxies/{name}` | `{"enabled": false}` refuses and closes connections; `true` reopens |
//! | `GET /proxies/{name}/toxics` | its toxics |
//! | `POST /proxies/{name}/toxics` | adds a toxic (`{"type": "latency", ...}`) |
//! | `GET /proxies/{name}/toxics/{toxic}` | one toxic |
//! | `POST /proxies/{name}/toxics/{toxic}` | updates its toxicity or attributes |
//! | `DELETE /proxies/{name}/toxics/{toxic}` | removes it (204) |
//! | `POST /reset` | removes every toxic and enables the proxy (204) |
//!
//! Errors are Toxiproxy's shape, `{"error": "...", "status": 400}`: 400 for a body that does
//! not parse or a toxic out of bounds, 404 for an unknown proxy or toxic, 409 for a toxic
//! name already taken. Creating or deleting proxies is not offered: one `redline proxy`
//! serves one proxy (start another for another upstream).

use super::toxic::ToxicRequest;
use super::{FaultProxy, ProxyError, Toxic};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// The proxy the API controls, under its name.
#[derive(Debug)]
pub struct ApiState {
    /// The name clients address it by (`/proxies/{name}`).
    pub name: String,
    /// The proxy.
    pub proxy: Arc<FaultProxy>,
}

/// The API's routes over one named proxy.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", axum::routing::post(reset))
        .route("/proxies", get(list_proxies))
        .route("/proxies/{name}", get(show_proxy).post(update_proxy))
        .route("/proxies/{name}/toxics", get(list_toxics).post(add_toxic))
        .route(
            "/proxies/{name}/toxics/{toxic}",
            get(show_toxic).post(update_toxic).delete(remove_toxic),
        )
        .with_state(state)
}

/// An error response in Toxiproxy's shape.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.1, "status": self.0.as_u16() });
        (self.0, Json(body)).into_response()
    }
}

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> ApiError {
        let status = match e {
            ProxyError::DuplicateToxic(_) => StatusCode::CONFLICT,
            ProxyError::NoSuchToxic(_) => StatusCode::NOT_FOUND,
            ProxyError::InvalidToxic { .. } => StatusCode::BAD_REQUEST,
            ProxyError::Listen { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// The proxy, when `name` is its name.
fn proxy<'a>(state: &'a ApiState, name: &str) -> Result<&'a FaultProxy, ApiError> {
    if name == state.name {
        Ok(&state.proxy)
    } else {
        Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "proxy not found: `{name}` (this server has `{}`)",
                state.name
            ),
        ))
    }
}

/// A body parsed as JSON of type `T`; the message names what did not parse.
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("bad request body: {e}")))
}

/// A proxy as Toxiproxy shows one.
fn proxy_json(state: &ApiState) -> Value {
    let p = &state.proxy;
    json!({
        "name": state.name,
        "listen": p.local_addr().to_string(),
        "upstream": p.upstream(),
        "enabled": p.is_enabled(),
        "toxics": p.toxics(),
    })
}

fn toxic_json(toxic: &Toxic) -> Response {
    Json(toxic).into_response()
}

async fn version() -> Response {
    Json(json!({ "version": concat!("redline ", env!("CARGO_PKG_VERSION")) })).into_response()
}

async fn reset(State(state): State<Arc<ApiState>>) -> ApiResult {
    state.proxy.remove_all_toxics();
    state.proxy.set_enabled(true)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_proxies(State(state): State<Arc<ApiState>>) -> Response {
    let mut all = serde_json::Map::new();
    all.insert(state.name.clone(), proxy_json(&state));
    Json(Value::Object(all)).into_response()
}

async fn show_proxy(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> ApiResult {
    proxy(&state, &name)?;
    Ok(Json(proxy_json(&state)).into_response())
}

/// What a client may post to `/proxies/{name}`: Toxiproxy clients send the whole proxy
/// back, so listen and upstream are accepted when unchanged.
#[derive(Debug, Deserialize)]
struct ProxyUpdate {
    name: Option<String>,
    listen: Option<String>,
    upstream: Option<String>,
    enabled: Option<bool>,
}

async fn update_proxy(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = proxy(&state, &name)?;
    let update: ProxyUpdate = parse(&body)?;
    if update.name.as_deref().is_some_and(|n| n != state.name) {
        return Err(bad_request("a proxy cannot be renamed"));
    }
    if let Some(listen) = update.listen.as_deref() {
        let same = listen.parse::<SocketAddr>().ok() == Some(p.local_addr());
        if !same {
            return Err(bad_request(format!(
                "listen cannot change (it is {}); start another `redline proxy` instead",
                p.local_addr()
            )));
        }
    }
    if update
        .upstream
        .as_deref()
        .is_some_and(|u| u != p.upstream())
    {
        return Err(bad_request(format!(
            "upstream cannot change (it is {}); start another `redline proxy` instead",
            p.upstream()
        )));
    }
    if let Some(enabled) = update.enabled {
        p.set_enabled(enabled)?;
    }
    Ok(Json(proxy_json(&state)).into_response())
}

async fn list_toxics(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> ApiResult {
    let p = proxy(&state, &name)?;
    Ok(Json(p.toxics()).into_response())
}

async fn add_toxic(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = proxy(&state, &name)?;
    let request: ToxicRequest = parse(&body)?;
    let toxic = request.into_toxic().map_err(bad_request)?;
    p.add_toxic(toxic.clone())?;
    Ok(toxic_json(&toxic))
}

fn find_toxic(p: &FaultProxy, toxic: &str) -> Result<Toxic, ApiError> {
    p.toxic(toxic)
        .ok_or_else(|| ProxyError::NoSuchToxic(toxic.to_string()).into())
}

async fn show_toxic(
    State(state): State<Arc<ApiState>>,
    Path((name, toxic)): Path<(String, String)>,
) -> ApiResult {
    let p = proxy(&state, &name)?;
    Ok(toxic_json(&find_toxic(p, &toxic)?))
}

async fn update_toxic(
    State(state): State<Arc<ApiState>>,
    Path((name, toxic)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let p = proxy(&state, &name)?;
    let existing = find_toxic(p, &toxic)?;
    let request: ToxicRequest = parse(&body)?;
    let updated = request.update(&existing).map_err(bad_request)?;
    p.update_toxic(updated.clone())?;
    Ok(toxic_json(&updated))
}

async fn remove_toxic(
    State(state): State<Arc<ApiState>>,
    Path((name, toxic)): Path<(String, String)>,
) -> ApiResult {
    let p = proxy(&state, &name)?;
    p.remove_toxic(&toxic)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
