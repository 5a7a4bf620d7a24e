//! The OpenAPI document: assembled by utoipa from the handlers' `#[utoipa::path]`
//! annotations and the wire types' schemas as the routes are registered, so it
//! lists exactly what the router serves.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's frame: title, version and the two bearer schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "usage",
        description = "Usage facts of a city's services: record calls, read events, summaries and a user's own usage."
    ),
    modifiers(&BearerSchemes),
    tags(
        (name = "operator", description = "Operator token: record, events, summary"),
        (name = "user", description = "User token (JWT): the caller's own usage"),
        (name = "ops", description = "Liveness, metrics, this document"),
    )
)]
pub struct ApiDoc;

struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        let mut jwt = Http::new(HttpAuthScheme::Bearer);
        jwt.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("user", SecurityScheme::Http(jwt));
    }
}
