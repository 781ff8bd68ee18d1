//! JSON Web Key Sets (RFC 7517): a [`KeySet`]'s public keys published and read back (OKP keys of RFC
//! 8037), and consent-token keys read from a set of `oct` keys.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Serialize};

use super::{JwsError, KeySet, Material};
use crate::{HmacKey, KeyId, b64};

impl KeySet {
    /// The public keys as a JWK Set (RFC 7517, OKP keys of RFC 8037). HMAC secrets are never included.
    pub fn jwks(&self) -> Jwks {
        let keys = self
            .keys
            .iter()
            .filter_map(|(kid, m)| {
                let public = match m {
                    Material::Ed25519(k) => k.verifying_key(),
                    Material::Ed25519Public(k) => *k,
                    Material::Hmac(_) => return None,
                };
                Some(Jwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    x: b64::encode(public.as_bytes()),
                    kid: kid.to_string(),
                    alg: Some("EdDSA".into()),
                    r#use: Some("sig".into()),
                })
            })
            .collect();
        Jwks { keys }
    }

    /// [`KeySet::jwks`] as JSON, as served at `/.well-known/jwks.json`.
    pub fn jwks_json(&self) -> String {
        serde_json::to_string(&self.jwks()).unwrap_or_else(|_| "{\"keys\":[]}".into())
    }

    /// A verification-only key set from a published JWK Set (JSON). Keys other than OKP/Ed25519 are
    /// rejected, so that a JWK Set cannot smuggle in an HMAC key.
    pub fn from_jwks_json(json: &str) -> Result<KeySet, JwsError> {
        let jwks: Jwks = serde_json::from_str(json).map_err(|e| JwsError::Jwks(e.to_string()))?;
        let mut set = KeySet::new();
        for k in jwks.keys {
            if k.kty != "OKP"
                || k.crv != "Ed25519"
                || k.alg.as_deref().is_some_and(|a| a != "EdDSA")
            {
                return Err(JwsError::Jwks(format!(
                    "key `{}` is not an OKP Ed25519 EdDSA key",
                    k.kid
                )));
            }
            let kid: KeyId = k
                .kid
                .parse()
                .map_err(|_| JwsError::Jwks(format!("bad kid `{}`", k.kid)))?;
            let x: [u8; 32] = b64::decode(&k.x)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| {
                    JwsError::Jwks(format!("key `{kid}`: x is not 32 bytes of base64url"))
                })?;
            set = set.with_ed25519_public(kid, x)?;
        }
        Ok(set)
    }
}

impl crate::TokenKeys {
    /// Token keys from a JWK Set of `oct` keys (RFC 7517) with `"use": "consent-token"`; other keys in
    /// the set are ignored. The first token key signs; all of them verify.
    ///
    /// ```
    /// let jwks = r#"{"keys":[{"kty":"oct","kid":"t25","alg":"HS256","use":"consent-token",
    ///                          "k":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}]}"#;
    /// let keys = consent_core::TokenKeys::from_jwks_json(jwks)?;
    /// assert_eq!(keys.active().as_str(), "t25");
    /// # Ok::<(), consent_core::JwsError>(())
    /// ```
    pub fn from_jwks_json(json: &str) -> Result<crate::TokenKeys, JwsError> {
        #[derive(Deserialize)]
        struct Oct {
            kty: String,
            kid: String,
            #[serde(default)]
            r#use: Option<String>,
            #[serde(default)]
            alg: Option<String>,
            #[serde(default)]
            k: Option<String>,
        }
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<Oct>,
        }
        let set: Set = serde_json::from_str(json).map_err(|e| JwsError::Jwks(e.to_string()))?;
        let mut out: Option<crate::TokenKeys> = None;
        for k in set
            .keys
            .into_iter()
            .filter(|k| k.r#use.as_deref() == Some("consent-token"))
        {
            if k.kty != "oct" || k.alg.as_deref().is_some_and(|a| a != "HS256") {
                return Err(JwsError::Jwks(format!(
                    "token key `{}` is not an oct HS256 key",
                    k.kid
                )));
            }
            let kid: KeyId = k
                .kid
                .parse()
                .map_err(|_| JwsError::Jwks(format!("bad kid `{}`", k.kid)))?;
            let secret: [u8; 32] =
                k.k.as_deref()
                    .and_then(|s| b64::decode(s).ok())
                    .and_then(|v| v.try_into().ok())
                    .ok_or_else(|| {
                        JwsError::Jwks(format!("token key `{kid}`: k is not 32 bytes of base64url"))
                    })?;
            let key = HmacKey::from_bytes(secret);
            out = Some(match out {
                None => crate::TokenKeys::new(kid, key),
                Some(keys) => keys.with_verify_only(kid, key),
            });
        }
        out.ok_or_else(|| JwsError::Jwks("no keys with \"use\": \"consent-token\"".into()))
    }
}

/// A JSON Web Key Set.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// One public JSON Web Key (OKP, Ed25519).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP`.
    pub kty: String,
    /// Curve: `Ed25519`.
    pub crv: String,
    /// Public key, base64url.
    pub x: String,
    /// Key id.
    pub kid: String,
    /// Algorithm: `EdDSA`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alg: Option<String>,
    /// Use: `sig`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub r#use: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_sets_public_half_reads_back_and_bad_keys_are_named() {
        let keys = KeySet::new()
            .with_ed25519("ed1".parse().unwrap(), [1; 32])
            .with_hs256("hs1".parse().unwrap(), HmacKey::from_bytes([2; 32]))
            .activate("ed1".parse().unwrap())
            .unwrap();
        let json = keys.jwks_json();
        assert!(
            !json.contains("hs1"),
            "HMAC secrets are never published: {json}"
        );
        let public = KeySet::from_jwks_json(&json).unwrap();
        let jws = keys.sign("receipt+jwt", b"{}").unwrap();
        assert!(public.verify(&jws, "receipt+jwt").is_ok());
        let bad = json.replace(&keys.jwks().keys[0].x, "AAAA");
        let err = KeySet::from_jwks_json(&bad).unwrap_err();
        assert_eq!(
            err,
            JwsError::Jwks("key `ed1`: x is not 32 bytes of base64url".into())
        );
    }
}
