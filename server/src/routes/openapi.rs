//! `GET /v1/openapi.json`: the OpenAPI 3 document of the `/v1` API,
//! generated from the handlers' `#[utoipa::path]` annotations and the
//! types they take and answer (sync-core's with its `openapi` feature).
//!
//! The errors most routes share are described once here ([`Authed`],
//! [`Storage`], [`JsonBody`], [`BadQuery`]); each handler names the ones
//! it can answer, beside its own.

use std::collections::BTreeMap;

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, response::Response};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::error::ErrorBody;

/// The name of the bearer security scheme in the document.
pub(crate) const BEARER: &str = "bearer";

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Doorstep relay API",
        description = "The `/v1` API of the Doorstep relay: login and tokens, sync (binary), \
            wish cards and their workflow, households and visits, statistics and exports, \
            the wish wall, devices and held work, and photos. Every error answers \
            `{\"error\": code, \"message\": text}` (see `ErrorBody`). Authenticated routes take \
            `Authorization: Bearer <access token>` from `POST /v1/auth/login`; the dashboard's \
            session cookie also works there.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::auth::login,
        super::auth::refresh,
        super::sync::sync,
        super::wishes::list,
        super::wishes::get,
        super::wishes::history,
        super::wishes::review,
        super::wishes::assign,
        super::wishes::fulfil,
        super::wishes::feedback,
        super::wishes::release,
        super::wishes::cancel,
        super::wishes::withdraw,
        super::wishes::conflicts,
        super::wishes::resolve,
        super::households::list,
        super::households::get,
        super::households::visits,
        super::stats::stats,
        super::stats::fulfilments,
        super::export::wishes,
        super::export::stats,
        super::points::ledger_csv,
        super::points::leaderboards,
        super::names::names,
        super::names::claimants,
        super::wall::view,
        super::wall::claim,
        super::wall::check_in,
        super::wall::fulfil,
        super::wall::release,
        super::wall_photos::take,
        super::live::poll,
        super::devices::list,
        super::devices::held,
        super::devices::accept,
        super::devices::discard,
        super::photos::original,
        super::photos::thumbnail,
        super::photos::purge,
        super::photos::pending,
        super::photo_uploads::progress,
        super::photo_uploads::upload,
        super::users::list,
        super::users::create,
        super::users::change,
        super::users::disable,
        super::users::enable,
        super::users::reset_password,
        super::users::own_password,
        super::audit::list,
        super::audit::export,
        document,
        super::ops::healthz,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme),
)]
pub(crate) struct ApiDoc;

/// Adds the bearer scheme that authenticated operations name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".to_owned());
        http.description = Some(
            "An access token (a JWT) from `POST /v1/auth/login` or `POST /v1/auth/refresh`"
                .to_owned(),
        );
        components.add_security_scheme(BEARER, SecurityScheme::Http(http));
    }
}

/// The document as JSON.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)),
)]
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// One error answer with the [`ErrorBody`].
fn error(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

fn responses(list: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| ((*status).to_owned(), error(description)))
        .collect()
}

/// What any route that reads or writes the database can answer when its
/// storage fails: nothing of the request was stored; `Retry-After` says
/// when to try again.
pub(crate) struct Storage;

impl IntoResponses for Storage {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (
                "503",
                "The relay's database cannot be written or is failing \
                 (`storage_read_only`, `storage_unavailable`); nothing was stored",
            ),
            (
                "507",
                "The relay's storage is full (`storage_full`); nothing was stored",
            ),
        ])
    }
}

/// What a route that needs a bearer token answers without a valid one, or
/// to a caller it refuses; with [`Storage`].
pub(crate) struct Authed;

impl IntoResponses for Authed {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut all = responses(&[
            (
                "401",
                "No access token (`unauthorized`), or one that is expired, forged or \
                 otherwise not valid (`invalid_token`)",
            ),
            (
                "403",
                "The caller's role or scopes do not allow this (`forbidden`), or the device \
                 was revoked (`device_revoked`)",
            ),
        ]);
        all.append(&mut Storage::responses());
        all
    }
}

/// What a route with a JSON body answers to one it cannot read.
pub(crate) struct JsonBody;

impl IntoResponses for JsonBody {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (
                "400",
                "The body is not JSON (`bad_request`), or a field's value is refused",
            ),
            ("413", "The body is larger than 64 KiB (`too_large`)"),
            (
                "415",
                "The body is not sent as `application/json` (`unsupported_media_type`)",
            ),
            (
                "422",
                "The JSON lacks a field or has one of the wrong type (`invalid_body`)",
            ),
        ])
    }
}

/// What a route with query parameters answers to ones it cannot read.
pub(crate) struct BadQuery;

impl IntoResponses for BadQuery {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[(
            "400",
            "A query parameter does not parse or is refused (`bad_request`)",
        )])
    }
}

/// Bytes of the media type the operation names: a sync message, a photo,
/// a CSV file.
pub(crate) struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}
