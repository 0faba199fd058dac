//! The API document, `GET /v1/openapi.json` (OpenAPI 3.1), generated from
//! the handlers' `#[utoipa::path]` attributes and the shapes in
//! [`schemas`]. The router and the document come from the same route lists
//! (`utoipa_axum::routes!`), so a route is served exactly when it is
//! documented; which routes need a bearer token is taken from where the
//! session middleware sits, not written by hand.

pub mod schemas;

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::scopes_admitting;
use crate::AppState;

/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";
/// The name of the connected-app token scheme; its requirement lists the
/// scopes that admit the operation.
pub const APP_TOKEN: &str = "app_token";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Coffer service API",
        description = "Accounts, sessions, key escrow and the object store of Coffer, an \
                       encrypted backup service. Times are Unix milliseconds (UTC). Every \
                       error is `{\"error\":{\"code\",\"message\"}}` with a stable code \
                       (see docs/api.md)."
    ),
    components(schemas(schemas::ErrorBody, schemas::ErrorDetail))
)]
struct ApiDoc;

/// The document's own route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
async fn openapi_json() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| {
        crate::openapi()
            .to_json()
            .expect("the API document serialises")
    });
    ([(CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn operations_with_method(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, &mut item.get),
        (Method::PUT, &mut item.put),
        (Method::POST, &mut item.post),
        (Method::DELETE, &mut item.delete),
        (Method::OPTIONS, &mut item.options),
        (Method::HEAD, &mut item.head),
        (Method::PATCH, &mut item.patch),
        (Method::TRACE, &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// The whole document from the documents of the public and the signed-in
/// routes: signed-in operations require the bearer token and may answer
/// `401`; every operation may answer the error body.
pub fn document(public: OpenApi, mut signed_in: OpenApi) -> OpenApi {
    for (path, item) in signed_in.paths.paths.iter_mut() {
        for (method, operation) in operations_with_method(item) {
            let mut security = vec![SecurityRequirement::new(BEARER, Vec::<String>::new())];
            // The same table the middleware enforces.
            let scopes = scopes_admitting(&method, path);
            if !scopes.is_empty() {
                security.push(SecurityRequirement::new(
                    APP_TOKEN,
                    scopes.iter().map(|s| s.name()),
                ));
            }
            operation.security = Some(security);
            operation
                .responses
                .responses
                .entry("403".to_owned())
                .or_insert_with(|| {
                    error_response(
                        "scope_denied: a connected-app token without a scope that admits this \
                         operation",
                    )
                });
            operation
                .responses
                .responses
                .entry("401".to_owned())
                .or_insert_with(|| {
                    error_response(
                    "unauthorized (missing, unknown or revoked token) or token_expired (refresh \
                     it); with WWW-Authenticate: Bearer",
                )
                });
        }
    }
    let mut doc = ApiDoc::openapi();
    doc.merge(public);
    doc.merge(signed_in);
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| error_response("An error, with a stable code (docs/api.md)"));
        }
    }
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            APP_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A connected-app token (coffer_app_…) from POST /v1/apps. An operation \
                         lists the scopes that admit it (any one is enough); operations without \
                         this requirement need the person's own session",
                    ))
                    .build(),
            ),
        );
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The access token from POST /v1/sessions or /v1/sessions/refresh",
                    ))
                    .build(),
            ),
        );
    doc
}
