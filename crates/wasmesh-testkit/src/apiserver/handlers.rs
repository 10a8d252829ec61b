//! One HTTP request in, one answer out: discovery, and the verbs on resources (get, list,
//! watch, create, update, patch, delete). Every error leaves here as a `Status` object.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use super::discovery;
use super::kinds::ResourceKind;
use super::patch::{merge, PatchType};
use super::query::Query;
use super::router::{route, Route, Target};
use super::selector::{FieldSelector, LabelSelector};
use super::shared::Shared;
use super::status::{deleted, ApiError};
use super::store::{set_type, Store};
use super::table;
use super::watch;

/// The body of every answer: whole, or a watch's stream of events.
pub type Body = BoxBody<Bytes, Infallible>;

/// A JSON answer.
pub fn json_response(status: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())).boxed())
        .expect("a response of a valid status and header")
}

fn error_response(error: &ApiError) -> Response<Body> {
    json_response(error.code_and_reason().0, &error.to_status())
}

/// Answers one request.
pub async fn handle<B>(shared: Arc<Shared>, request: Request<B>) -> Response<Body>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    match answer(&shared, request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn answer<B>(shared: &Arc<Shared>, request: Request<B>) -> Result<Response<Body>, ApiError>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    let (parts, body) = request.into_parts();
    let query = Query::parse(parts.uri.query());
    let route = route(shared.store().registry(), parts.uri.path());
    if !matches!(route, Route::Resource(_)) && parts.method != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    let ok = |v: Value| Ok(json_response(200, &v));
    match route {
        Route::Version => {
            shared.count("discovery");
            ok(discovery::version())
        }
        Route::Health => Ok(Response::new(Full::new(Bytes::from_static(b"ok")).boxed())),
        Route::OpenApiV3 => {
            shared.count("discovery");
            ok(json!({ "paths": {} }))
        }
        Route::OpenApiV2 => {
            shared.count("discovery");
            Ok(Response::builder()
                .header(
                    "content-type",
                    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                )
                .body(Full::new(Bytes::from_static(discovery::OPENAPI_V2)).boxed())
                .expect("a response of a valid header"))
        }
        Route::CoreVersions => {
            shared.count("discovery");
            ok(discovery::core_versions(&shared.address))
        }
        Route::Groups => {
            shared.count("discovery");
            ok(discovery::groups(shared.store().registry()))
        }
        Route::Group(group) => {
            shared.count("discovery");
            discovery::group(shared.store().registry(), &group).map_or(Err(ApiError::NoResource), ok)
        }
        Route::Resources { group, version } => {
            shared.count("discovery");
            discovery::resources(shared.store().registry(), &group, &version)
                .map_or(Err(ApiError::NoResource), ok)
        }
        Route::NotFound => Err(ApiError::NoResource),
        Route::Resource(target) => {
            let content_type = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let accept = parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            // a CRD's printer columns, when kubectl asks for a Table
            let columns = target
                .kind
                .columns(&target.version)
                .filter(|_| table::wanted(accept) && parts.method == Method::GET && !query.flag("watch"))
                .map(<[Value]>::to_vec);
            let body = read_body(body).await?;
            let response = resource(shared, &parts.method, &target, &query, &content_type, body)?;
            match columns {
                Some(columns) => as_table(response, &columns).await,
                None => Ok(response),
            }
        }
    }
}

/// A get's or a list's JSON answer as the Table of `columns` (see `table`).
async fn as_table(response: Response<Body>, columns: &[Value]) -> Result<Response<Body>, ApiError> {
    let status = response.status().as_u16();
    let bytes = read_body(response.into_body()).await?;
    let answer = parse_json(&bytes)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let table = match answer["items"].as_array() {
        Some(items) => table::table(items, columns, Some(&answer["metadata"]), now),
        None => table::table(std::slice::from_ref(&answer), columns, None, now),
    };
    Ok(json_response(status, &table))
}

async fn read_body<B>(body: B) -> Result<Bytes, ApiError>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))
}

/// The body of a create or an update must be JSON: a client that sends protobuf (kubectl
/// does for built-in kinds) is told 415, on which client-go sends JSON instead.
fn json_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media != "application/json" && media != "*/*" {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(body)
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body of the request is not JSON (YAML is not read here): {e}"
        ))
    })
}

/// The object as answered at the version of the path.
fn served(mut object: Value, target: &Target) -> Value {
    set_type(&mut object, &target.kind, &target.version);
    object
}

fn resource(
    shared: &Arc<Shared>,
    method: &Method,
    target: &Target,
    query: &Query,
    content_type: &str,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let namespace = target.namespace_key();
    let ok = |v: Value| Ok(json_response(200, &served(v, target)));
    match (method, &target.name) {
        (&Method::GET, Some(name)) => {
            shared.count("get");
            ok(shared.store().get(&target.kind, namespace, name)?)
        }
        (&Method::GET, None) if query.flag("watch") => {
            shared.count("watch");
            watch::start(shared, target, query)
        }
        (&Method::GET, None) => {
            shared.count("list");
            list(shared, target, query)
        }
        (&Method::POST, None) if target.namespace.is_some() || !target.kind.namespaced => {
            shared.count("create");
            let object = json_body(content_type, &body)?;
            let created = write(shared, query, |store| {
                store.create(&target.kind, namespace, object)
            })?;
            Ok(json_response(201, &served(created, target)))
        }
        (&Method::PUT, Some(name)) => {
            shared.count("update");
            let object = json_body(content_type, &body)?;
            let part = target.part;
            ok(write(shared, query, |store| {
                store.update(&target.kind, namespace, name, object, part)
            })?)
        }
        (&Method::PATCH, Some(name)) => {
            shared.count("patch");
            let patch_type = PatchType::from_content_type(content_type)?;
            let patch = parse_json(&body)?;
            if patch_type == PatchType::Apply {
                field_manager(query)?;
            }
            let (status, object) = write(shared, query, |store| {
                match store.get(&target.kind, namespace, name) {
                    Ok(mut object) => {
                        merge(&mut object, &patch);
                        Ok((
                            200,
                            store.update(&target.kind, namespace, name, object, target.part)?,
                        ))
                    }
                    // a server-side apply creates what is missing
                    Err(ApiError::NotFound { .. }) if patch_type == PatchType::Apply => {
                        Ok((201, store.create(&target.kind, namespace, patch)?))
                    }
                    Err(e) => Err(e),
                }
            })?;
            Ok(json_response(status, &served(object, target)))
        }
        (&Method::DELETE, Some(name)) => {
            shared.count("delete");
            let gone = write(shared, query, |store| store.delete(&target.kind, namespace, name))?;
            let uid = gone["metadata"]["uid"].as_str().unwrap_or_default();
            Ok(json_response(
                200,
                &deleted(&target.kind.plural, &target.kind.group, name, uid),
            ))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// Runs a write on the store, or with `dryRun=All` a dry run of it (answered the same,
/// stored nowhere).
fn write<T>(
    shared: &Shared,
    query: &Query,
    write: impl FnOnce(&mut Store) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut store = shared.store();
    match query.get("dryRun") {
        None => write(&mut store),
        Some("All") => store.dry_run(write),
        Some(other) => Err(ApiError::BadRequest(format!(
            "unsupported dry run option {other:?}: only All"
        ))),
    }
}

/// A server-side apply must name its field manager.
fn field_manager(query: &Query) -> Result<(), ApiError> {
    match query.get("fieldManager") {
        Some(_) => Ok(()),
        None => Err(ApiError::BadRequest(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".to_string(),
        )),
    }
}

/// The selectors of a list or watch of `kind`.
pub fn selectors(query: &Query, kind: &ResourceKind) -> Result<(LabelSelector, FieldSelector), ApiError> {
    Ok((
        LabelSelector::parse(query.get("labelSelector").unwrap_or_default())?,
        FieldSelector::parse(
            query.get("fieldSelector").unwrap_or_default(),
            &kind.selectable_fields(),
        )?,
    ))
}

/// A list, in pages of `limit` when asked (the `continue` token is the offset of the next
/// page; pages are read from the current state, not from one snapshot).
fn list(shared: &Shared, target: &Target, query: &Query) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(query, &target.kind)?;
    let (objects, rv) = {
        let store = shared.store();
        (
            store.list(&target.kind, target.namespace.as_deref()),
            store.resource_version(),
        )
    };
    let mut items: Vec<Value> = objects
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .map(|o| served(o, target))
        .collect();
    let start: usize = match query.get("continue") {
        Some(token) => token
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("invalid continue token {token:?}")))?,
        None => 0,
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    items = items.split_off(start.min(items.len()));
    if let Some(limit) = limit {
        if items.len() > limit {
            let remaining = items.len() - limit;
            items.truncate(limit);
            metadata["continue"] = json!((start + limit).to_string());
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    let list = json!({
        "kind": target.kind.list_kind,
        "apiVersion": target.kind.api_version(&target.version),
        "metadata": metadata,
        "items": items,
    });
    Ok(json_response(200, &list))
}
