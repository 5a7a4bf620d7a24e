//! Who is calling: the operator (one shared bearer token) or a user (a signed
//! JWT, HS256, naming their city and user, with an expiry). User tokens are
//! issued by `usage token issue` with the server's signing secret.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use crate::runtime::validate_city_name;

/// The audience every user token names, so tokens minted with the same secret
/// for another service are refused.
const AUDIENCE: &str = "usage";
/// Shortest accepted signing secret (HS256 keys should be at least 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest lifetime `usage token issue` grants.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);
/// Longest user name the guest accepts.
const MAX_USER_BYTES: usize = 128;

/// The claims of a user token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// The user.
    pub sub: String,
    pub city: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// A caller the server recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Operator,
    User { city: String, user: String },
}

/// The signing secret of user tokens.
#[derive(Clone)]
pub struct TokenSecret {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenSecret {
    pub fn new(secret: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the token secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
        );
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.as_bytes())?,
            decoding: DecodingKey::from_secret(secret.as_bytes())?,
        })
    }

    /// A token for `user` of `city`, valid for `ttl` from now.
    pub fn issue(&self, city: &str, user: &str, ttl: Duration) -> anyhow::Result<String> {
        validate_city_name(city)?;
        check_user(user).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            !ttl.is_zero() && ttl <= MAX_TTL,
            "the ttl must be between 1s and 366 days"
        );
        let iat = jsonwebtoken::get_current_timestamp();
        let claims = UserClaims {
            sub: user.to_owned(),
            city: city.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat,
            exp: iat.saturating_add(ttl.as_secs().max(1)),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks signature, algorithm, audience and expiry (no leeway: issuer and
    /// server share a clock); then that the claims name a usable city and user.
    pub fn verify(&self, token: &str) -> Result<UserClaims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        let data = jsonwebtoken::decode::<UserClaims>(token, &self.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized("the token has expired"),
                ErrorKind::InvalidSignature => {
                    ApiError::unauthorized("the token's signature does not match")
                }
                ErrorKind::InvalidAudience => {
                    ApiError::unauthorized("the token was not issued for this service")
                }
                ErrorKind::InvalidAlgorithm => {
                    ApiError::unauthorized("the token is not signed with HS256")
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    ApiError::unauthorized(format!("the token has no `{claim}` claim"))
                }
                // Garbage, bad base64 or JSON, wrong claim types: no detail worth more.
                _ => ApiError::unauthorized(
                    "not a user token issued by `usage token issue` (malformed)",
                ),
            },
        )?;
        let claims = data.claims;
        if validate_city_name(&claims.city).is_err() || check_user(&claims.sub).is_err() {
            return Err(ApiError::unauthorized(
                "invalid token: its city or user is not usable",
            ));
        }
        Ok(claims)
    }
}

fn check_user(user: &str) -> Result<(), String> {
    if user.is_empty() || user.len() > MAX_USER_BYTES || user.chars().any(char::is_control) {
        return Err(format!(
            "invalid user {user:?}: use 1 to {MAX_USER_BYTES} bytes without control characters"
        ));
    }
    Ok(())
}

/// How the server checks callers.
#[derive(Clone)]
pub struct Access {
    /// `None`: operator routes are open (loopback only; `serve` refuses otherwise).
    operator_token: Option<String>,
    /// `None`: no user tokens can be verified, so `/v1/me` always answers 401.
    secret: Option<TokenSecret>,
}

impl Access {
    pub fn new(operator_token: Option<String>, secret: Option<TokenSecret>) -> Self {
        Self {
            operator_token,
            secret,
        }
    }

    /// Whether both credentials are set (required off loopback).
    pub fn is_complete(&self) -> bool {
        self.operator_token.is_some() && self.secret.is_some()
    }

    /// The caller behind the `Authorization` header.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token = bearer(headers)?;
        if let Some(expected) = &self.operator_token
            && constant_time_eq(token.as_bytes(), expected.as_bytes())
        {
            return Ok(Caller::Operator);
        }
        match &self.secret {
            Some(secret) => {
                let claims = secret.verify(token)?;
                Ok(Caller::User {
                    city: claims.city,
                    user: claims.sub,
                })
            }
            None => Err(ApiError::unauthorized(
                "the token is not the operator token, and this server verifies no user tokens",
            )),
        }
    }

    /// Operator routes: record, events, summary, metrics.
    pub fn require_operator(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.operator_token.is_none() {
            return Ok(());
        }
        match self.caller(headers)? {
            Caller::Operator => Ok(()),
            Caller::User { .. } => Err(ApiError::forbidden(
                "a user token may only read its own usage at /v1/me",
            )),
        }
    }

    /// `/v1/me`: the city and user come from the token, nowhere else.
    pub fn require_user(&self, headers: &HeaderMap) -> Result<(String, String), ApiError> {
        match self.caller(headers)? {
            Caller::User { city, user } => Ok((city, user)),
            Caller::Operator => Err(ApiError::forbidden(
                "the operator token names no user; /v1/me needs a user token",
            )),
        }
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthorized(
            "expected Authorization: Bearer <token>",
        ));
    }
    Ok(token)
}

/// Compares without returning early on the first differing byte, so response
/// times do not reveal how much of the operator token a guess got right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
        h
    }

    fn access() -> Access {
        Access::new(
            Some("op-token".to_owned()),
            Some(TokenSecret::new(SECRET).expect("secret")),
        )
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenSecret::new("short").is_err());
    }

    #[test]
    fn issued_tokens_name_their_city_and_user() {
        let secret = TokenSecret::new(SECRET).expect("secret");
        let token = secret
            .issue("acme", "ana", Duration::from_secs(60))
            .expect("issued");
        let claims = secret.verify(&token).expect("valid");
        assert_eq!((claims.city.as_str(), claims.sub.as_str()), ("acme", "ana"));
        assert_eq!(claims.exp - claims.iat, 60);
        assert_eq!(
            access().require_user(&headers(&token)),
            Ok(("acme".to_owned(), "ana".to_owned()))
        );
    }

    #[test]
    fn bad_issue_requests_are_refused() {
        let secret = TokenSecret::new(SECRET).expect("secret");
        let hour = Duration::from_secs(3600);
        assert!(secret.issue("no spaces", "ana", hour).is_err());
        assert!(secret.issue("acme", "", hour).is_err());
        assert!(secret.issue("acme", "ana", Duration::ZERO).is_err());
        assert!(secret.issue("acme", "ana", MAX_TTL * 2).is_err());
    }

    #[test]
    fn another_secret_or_a_changed_payload_is_unauthorized() {
        let other = TokenSecret::new("another secret of at least 32 bytes!").expect("secret");
        let token = other
            .issue("acme", "ana", Duration::from_secs(60))
            .expect("issued");
        let err = access()
            .require_user(&headers(&token))
            .expect_err("refused");
        assert_eq!(err.status.as_u16(), 401);
    }

    #[test]
    fn access_rules() {
        let a = access();
        assert_eq!(a.require_operator(&headers("op-token")), Ok(()));
        let status = |r: Result<(), ApiError>| r.expect_err("refused").status.as_u16();
        assert_eq!(status(a.require_operator(&HeaderMap::new())), 401);
        assert_eq!(status(a.require_operator(&headers("op-tokem"))), 401);
        let user = TokenSecret::new(SECRET)
            .expect("secret")
            .issue("acme", "ana", Duration::from_secs(60))
            .expect("issued");
        assert_eq!(status(a.require_operator(&headers(&user))), 403);
        let op_on_me = a.require_user(&headers("op-token")).expect_err("refused");
        assert_eq!(op_on_me.status.as_u16(), 403);
    }

    #[test]
    fn without_an_operator_token_operator_routes_are_open() {
        let open = Access::new(None, None);
        assert!(!open.is_complete());
        assert_eq!(open.require_operator(&HeaderMap::new()), Ok(()));
        let me = open
            .require_user(&headers("anything"))
            .expect_err("no secret");
        assert_eq!(me.status.as_u16(), 401);
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer(&h).is_err());
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer(&h), Ok("abc"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
