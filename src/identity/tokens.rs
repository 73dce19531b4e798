//! Access tokens (short-lived JWTs) and opaque tokens (refresh, reset, API keys).
//!
//! Access tokens are HS256 JWTs with a `kid` header naming the key that signed them, so keys can
//! rotate: every configured key verifies, the active one signs. The algorithm is pinned: a token
//! claiming any other algorithm (`none`, RS256…) is refused before its signature is looked at.
//! Opaque tokens are 256 random bits; only their SHA-256 is stored.

use std::collections::HashMap;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::error::{AppError, AppResult, ErrorCode};

const ISSUER: &str = "aeternum";
const AUDIENCE: &str = "aeternum-api";

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The account id.
    pub sub: Uuid,
    /// The account's role.
    pub role: Role,
    /// The vendor of a VENDOR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vid: Option<Uuid>,
    /// The account's session version when the token was issued.
    #[serde(default)]
    pub ver: i32,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// The keys that sign and verify access tokens.
pub struct TokenKeys {
    signing_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    lifetime_seconds: i64,
}

impl TokenKeys {
    /// Keys from the configuration. With none configured, a random key is made for this process
    /// (tokens then die with it, and replicas do not share them): fine for development only.
    ///
    /// # Errors
    /// When the signing key id names no configured key, or a key is shorter than 32 bytes.
    pub fn from_settings(settings: &AuthSettings) -> anyhow::Result<Self> {
        let mut keys: Vec<(String, Vec<u8>)> =
            settings.jwt_keys.iter().map(|k| (k.kid.clone(), k.secret.expose().as_bytes().to_vec())).collect();
        if keys.is_empty() {
            tracing::warn!(
                "no auth.jwt_keys configured: signing with a random per-process key (tokens end at restart)"
            );
            keys.push(("ephemeral".to_owned(), random_bytes().to_vec()));
        }
        if let Some((kid, _)) = keys.iter().find(|(_, secret)| secret.len() < 32) {
            anyhow::bail!("the JWT key `{kid}` is shorter than 32 bytes");
        }
        let signing_kid = settings.jwt_signing_kid.clone().unwrap_or_else(|| keys[0].0.clone());
        let (_, signing_secret) = keys
            .iter()
            .find(|(kid, _)| *kid == signing_kid)
            .ok_or_else(|| anyhow::anyhow!("auth.jwt_signing_kid `{signing_kid}` names no configured key"))?;
        Ok(Self {
            encoding: EncodingKey::from_secret(signing_secret),
            decoding: keys.iter().map(|(kid, secret)| (kid.clone(), DecodingKey::from_secret(secret))).collect(),
            signing_kid,
            lifetime_seconds: i64::try_from(settings.access_token_seconds).unwrap_or(900),
        })
    }

    /// Signs an access token for an account; returns it with its expiry.
    ///
    /// # Errors
    /// `INTERNAL` if signing fails.
    pub fn issue(
        &self,
        user_id: Uuid,
        role: Role,
        vendor_id: Option<Uuid>,
        version: i32,
    ) -> AppResult<(String, DateTime<Utc>)> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            role,
            vid: vendor_id,
            ver: version,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.lifetime_seconds,
        };
        let header = Header { kid: Some(self.signing_kid.clone()), ..Header::new(Algorithm::HS256) };
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(AppError::internal)?;
        Ok((token, DateTime::from_timestamp(claims.exp, 0).unwrap_or_default()))
    }

    /// Verifies an access token: algorithm, key id, signature, issuer, audience and expiry.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for any token that is not one of ours and current.
    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let refused = || AppError::new(ErrorCode::Unauthenticated, "the access token is invalid or expired");
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused())?;
        if header.alg != Algorithm::HS256 {
            return Err(refused());
        }
        let key = header.kid.as_ref().and_then(|kid| self.decoding.get(kid)).ok_or_else(refused)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, key, &validation).map(|data| data.claims).map_err(|_| refused())
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new opaque token (256 random bits, URL-safe) with an optional prefix.
pub fn opaque_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes()))
}

/// The stored form of an opaque token: SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    crate::digest::sha256_hex(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{JwtKey, Secret, Settings};

    fn keys(kid: &str, secret: &str) -> TokenKeys {
        let mut settings = Settings::default().auth;
        settings.jwt_keys = vec![JwtKey { kid: kid.into(), secret: Secret::new(secret) }];
        TokenKeys::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn issued_tokens_verify_and_foreign_ones_do_not() {
        let ours = keys("k1", &"a".repeat(32));
        let (token, _) =
            ours.issue(Uuid::now_v7(), Role::Vendor, Some(Uuid::now_v7()), 0).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ours.verify(&token).map(|c| c.role).ok(), Some(Role::Vendor));
        assert!(keys("k1", &"b".repeat(32)).verify(&token).is_err(), "another secret");
        assert!(keys("k2", &"a".repeat(32)).verify(&token).is_err(), "an unknown kid");
    }

    #[test]
    fn opaque_tokens_are_random_and_stored_hashed() {
        let (a, b) = (opaque_token("aek_"), opaque_token("aek_"));
        assert_ne!(a, b);
        assert!(a.starts_with("aek_") && a.len() == 4 + 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
