//! The HTTP side: one axum handler that dispatches GET/LIST/WATCH/POST/PUT/PATCH/DELETE on any
//! resource path, answers errors as `Status` objects, and logs every request.

use crate::error::ApiError;
use crate::patch::PatchKind;
use crate::path::{self, Target};
use crate::record::RequestRecord;
use crate::selector::Selectors;
use crate::shared::Shared;
use crate::store::{Key, StatusMode};
use crate::watch::{self, WatchRequest};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Query parameters, decoded.
type Params = HashMap<String, String>;

/// The router serving `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async { Json(json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0-standin"})) }),
        )
        .fallback(handle)
        .with_state(shared)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    let response = dispatch(&shared, &method, uri.path(), &params, &headers, &body)
        .unwrap_or_else(|e| (status_code(e.code), Json(e.to_status())).into_response());
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
    shared.record(RequestRecord {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        field_manager: params.get("fieldManager").cloned(),
        user_agent: header("user-agent"),
        client: header("x-standin-client").or_else(|| header("user-agent")),
        status: response.status().as_u16(),
    });
    response
}

fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn dispatch(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let target = path::parse(path).ok_or_else(|| ApiError::not_found(format!("path {path:?}")))?;
    let Target { resource: res, namespace, name, status } = &target;
    let ns = namespace.as_deref().unwrap_or("");
    let mode = if *status { StatusMode::Only } else { StatusMode::Main };
    let param = |k: &str| params.get(k).map(String::as_str);
    let ok = |v: Value| Ok(Json(v).into_response());
    let Some(name) = name else {
        return match *method {
            Method::GET if matches!(param("watch"), Some("true" | "1")) => watch_response(shared, &target, params),
            Method::GET => {
                let selectors = Selectors::parse(param("labelSelector"), param("fieldSelector"))?;
                let store = shared.store();
                let items: Vec<Value> =
                    store.list(res, namespace.as_deref()).filter(|o| selectors.matches(o)).cloned().collect();
                let kind = items
                    .first()
                    .and_then(|o| o.get("kind"))
                    .and_then(Value::as_str)
                    .map_or_else(|| res.kind(), String::from);
                ok(json!({
                    "kind": format!("{kind}List"), "apiVersion": res.api_version(),
                    "metadata": {"resourceVersion": store.rv.to_string()}, "items": items,
                }))
            }
            Method::POST if namespace.is_some() || res.cluster_scoped() => {
                let obj = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
                let created = shared.write(|s| s.create(res, ns, obj, StatusMode::Main))?;
                Ok((StatusCode::CREATED, Json(created)).into_response())
            }
            _ => Err(ApiError::method_not_allowed()),
        };
    };
    let key = Key::new(res, ns, name);
    match *method {
        Method::GET => shared
            .store()
            .get(&key)
            .cloned()
            .map_or_else(|| Err(ApiError::not_found(format!("{} {name:?}", res.plural))), ok),
        Method::PUT => {
            let obj = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            ok(shared.write(|s| s.replace(res, &key, obj, mode))?)
        }
        Method::PATCH => {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let kind = PatchKind::from_content_type(content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
            ok(shared.write(|s| match s.get(&key).cloned() {
                Some(mut obj) => {
                    kind.apply(&mut obj, body)?;
                    s.replace(res, &key, obj, mode)
                }
                None if kind == PatchKind::Apply && !status => {
                    let mut obj = json!({"metadata": {"name": name}});
                    kind.apply(&mut obj, body)?;
                    s.create(res, ns, obj, StatusMode::Main)
                }
                None => Err(ApiError::not_found(format!("{} {name:?}", res.plural))),
            })?)
        }
        Method::DELETE if !status => ok(shared.write(|s| s.delete(res, &key))?),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn watch_response(shared: &Arc<Shared>, target: &Target, params: &Params) -> Result<Response, ApiError> {
    let param = |k: &str| params.get(k).map(String::as_str);
    let timeout = match param("timeoutSeconds") {
        Some(t) => {
            Duration::from_secs(t.parse().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?)
        }
        None => watch::DEFAULT_TIMEOUT,
    };
    let since = watch::parse_since(param("resourceVersion"))?;
    let send_initial = param("sendInitialEvents") == Some("true");
    let req = WatchRequest {
        resource: target.resource.clone(),
        namespace: target.namespace.clone(),
        selectors: Selectors::parse(param("labelSelector"), param("fieldSelector"))?,
        since: since.unwrap_or(0),
        initial_events: since.is_none() || send_initial,
        initial_events_end: send_initial && param("allowWatchBookmarks") == Some("true"),
        timeout,
    };
    let body: Body = watch::body(Arc::clone(shared), req);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
