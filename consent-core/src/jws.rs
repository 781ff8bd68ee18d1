//! JWS compact serialisation (RFC 7515) with EdDSA/Ed25519 (RFC 8037) and HS256, key sets with
//! rotation, and JWK Sets (RFC 7517).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{HmacKey, KeyId, b64};

mod jwks;

pub use jwks::{Jwk, Jwks};

/// Largest JWS accepted, in bytes.
pub const MAX_JWS_LEN: usize = 16 * 1024;

/// A JWS signature algorithm this library accepts. There is no `none`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Alg {
    /// EdDSA over Ed25519 (RFC 8037): anyone with the public key set can verify.
    EdDSA,
    /// HMAC-SHA256: only holders of the secret can verify.
    HS256,
}

impl Alg {
    /// The JOSE name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::HS256 => "HS256",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a JWS or a key set was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Over [`MAX_JWS_LEN`].
    #[error("JWS is longer than {MAX_JWS_LEN} bytes")]
    TooLong,
    /// Not three base64url parts separated by dots.
    #[error("JWS is not in compact form (three base64url parts separated by `.`)")]
    Malformed,
    /// A part is not strict base64url without padding.
    #[error("JWS {0} is not base64url without padding")]
    Base64(&'static str),
    /// The protected header is not the JSON object this library writes.
    #[error("JWS header is invalid: {0}")]
    Header(String),
    /// `alg` is not EdDSA or HS256 (this includes `none`).
    #[error("JWS algorithm `{0}` is not accepted")]
    UnsupportedAlg(String),
    /// `typ` is not the one expected (a token of another kind).
    #[error("JWS type `{found}` is not `{expected}`")]
    WrongType {
        /// Expected `typ`.
        expected: &'static str,
        /// Found `typ`.
        found: String,
    },
    /// No key with this `kid`.
    #[error("no key with kid `{0}`")]
    UnknownKey(String),
    /// The header's `alg` is not the algorithm of the key named by `kid` (algorithm confusion).
    #[error("JWS algorithm {header} does not match the {key} key `{kid}`")]
    AlgorithmMismatch {
        /// `alg` in the header.
        header: Alg,
        /// The key's algorithm.
        key: Alg,
        /// The key id.
        kid: String,
    },
    /// The signature does not verify.
    #[error("JWS signature does not verify")]
    BadSignature,
    /// The key set cannot sign (no active private key).
    #[error("key set has no active signing key")]
    NoSigningKey,
    /// A JWK Set that cannot be read.
    #[error("invalid JWK Set: {0}")]
    Jwks(String),
}

enum Material {
    Ed25519(Box<SigningKey>),
    Ed25519Public(VerifyingKey),
    Hmac(HmacKey),
}

impl Material {
    fn alg(&self) -> Alg {
        match self {
            Material::Ed25519(_) | Material::Ed25519Public(_) => Alg::EdDSA,
            Material::Hmac(_) => Alg::HS256,
        }
    }
}

impl Clone for Material {
    fn clone(&self) -> Self {
        match self {
            Material::Ed25519(k) => Material::Ed25519(k.clone()),
            Material::Ed25519Public(k) => Material::Ed25519Public(*k),
            Material::Hmac(k) => Material::Hmac(k.clone()),
        }
    }
}

/// Signing and verification keys, by key id, with one active signing key.
///
/// Sign with the active key; verify with any key whose `kid` the JWS names, provided its algorithm is
/// the one in the header. Retired keys stay in the set to verify old receipts. `Debug` shows key ids and
/// algorithms, never key material.
///
/// ```
/// use consent_core::{KeySet, Alg};
/// let keys = KeySet::new()
///     .with_ed25519("ed-2025".parse()?, [1; 32])
///     .with_hs256("hs-2025".parse()?, consent_core::HmacKey::from_bytes([2; 32]))
///     .activate("ed-2025".parse()?)?;
/// let jws = keys.sign("example+jwt", br#"{"hello":"world"}"#)?;
/// let (header, payload) = keys.verify(&jws, "example+jwt")?;
/// assert_eq!((header.alg, payload.as_slice()), (Alg::EdDSA, &br#"{"hello":"world"}"#[..]));
/// // The published JWK Set holds only the Ed25519 public key.
/// assert!(keys.jwks_json().contains(r#""kid":"ed-2025""#));
/// assert!(!keys.jwks_json().contains("hs-2025"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct KeySet {
    active: Option<KeyId>,
    keys: Vec<(KeyId, Material)>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|(kid, m)| {
                let kind = match m {
                    Material::Ed25519(_) => "EdDSA private",
                    Material::Ed25519Public(_) => "EdDSA public",
                    Material::Hmac(_) => "HS256 secret",
                };
                format!("{kid} ({kind})")
            })
            .collect();
        f.debug_struct("KeySet")
            .field("active", &self.active)
            .field("keys", &keys)
            .finish()
    }
}

/// The protected header of a JWS this library writes: `alg`, `kid`, `typ`, nothing else.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Algorithm.
    pub alg: Alg,
    /// Key id.
    pub kid: String,
    /// Media type of the whole JWS, e.g. `consent-receipt+jwt`.
    pub typ: String,
}

impl KeySet {
    /// An empty key set.
    pub fn new() -> Self {
        KeySet::default()
    }

    fn with(mut self, kid: KeyId, m: Material) -> Self {
        self.keys.retain(|(k, _)| *k != kid);
        self.keys.push((kid, m));
        self
    }

    /// Adds an Ed25519 key from its 32-byte secret seed (the caller draws it from a secure RNG).
    pub fn with_ed25519(self, kid: KeyId, seed: [u8; 32]) -> Self {
        self.with(
            kid,
            Material::Ed25519(Box::new(SigningKey::from_bytes(&seed))),
        )
    }

    /// Adds an Ed25519 public key (verification only).
    pub fn with_ed25519_public(self, kid: KeyId, public: [u8; 32]) -> Result<Self, JwsError> {
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| JwsError::Jwks("not an Ed25519 public key".into()))?;
        Ok(self.with(kid, Material::Ed25519Public(key)))
    }

    /// Adds an HS256 secret.
    pub fn with_hs256(self, kid: KeyId, key: HmacKey) -> Self {
        self.with(kid, Material::Hmac(key))
    }

    /// Makes `kid` the signing key. It must hold a private key or a secret.
    pub fn activate(mut self, kid: KeyId) -> Result<Self, JwsError> {
        match self.keys.iter().find(|(k, _)| *k == kid) {
            Some((_, Material::Ed25519Public(_))) | None => Err(JwsError::NoSigningKey),
            Some(_) => {
                self.active = Some(kid);
                Ok(self)
            }
        }
    }

    /// The active key id and its algorithm.
    pub fn active(&self) -> Option<(KeyId, Alg)> {
        let kid = self.active?;
        self.keys
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(k, m)| (*k, m.alg()))
    }

    /// Key ids and algorithms in the set.
    pub fn kids(&self) -> impl Iterator<Item = (KeyId, Alg)> + '_ {
        self.keys.iter().map(|(k, m)| (*k, m.alg()))
    }

    /// Signs `payload` with the active key into a JWS compact string with header `{alg, kid, typ}`.
    pub fn sign(&self, typ: &str, payload: &[u8]) -> Result<String, JwsError> {
        let kid = self.active.ok_or(JwsError::NoSigningKey)?;
        let material = self
            .keys
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(_, m)| m)
            .ok_or(JwsError::NoSigningKey)?;
        let header = Header {
            alg: material.alg(),
            kid: kid.to_string(),
            typ: typ.to_owned(),
        };
        let header_json =
            serde_json::to_vec(&header).map_err(|e| JwsError::Header(e.to_string()))?;
        let mut out = String::with_capacity((header_json.len() + payload.len() + 64) / 3 * 4 + 8);
        b64::encode_into(&header_json, &mut out);
        out.push('.');
        b64::encode_into(payload, &mut out);
        let sig = match material {
            Material::Ed25519(k) => k.sign(out.as_bytes()).to_bytes().to_vec(),
            Material::Hmac(k) => hs256(k, out.as_bytes()).finalize().into_bytes().to_vec(),
            Material::Ed25519Public(_) => return Err(JwsError::NoSigningKey),
        };
        out.push('.');
        b64::encode_into(&sig, &mut out);
        Ok(out)
    }

    /// Parses and verifies a JWS whose header must carry `typ`; returns the header and payload bytes.
    ///
    /// Rejects (in this order of checks): over 16 KiB; not three parts; bad base64url or padding;
    /// a header with other fields than `alg`, `kid`, `typ` or an `alg` other than EdDSA/HS256 (`none`
    /// included); the wrong `typ`; an unknown `kid`; an `alg` that is not the key's (algorithm
    /// confusion); a wrong signature.
    pub fn verify(&self, jws: &str, typ: &'static str) -> Result<(Header, Vec<u8>), JwsError> {
        let parsed = ParsedJws::parse(jws)?;
        self.verify_parsed(&parsed, typ)?;
        Ok((parsed.header, parsed.payload))
    }

    pub(crate) fn verify_parsed(&self, p: &ParsedJws, typ: &'static str) -> Result<(), JwsError> {
        if p.header.typ != typ {
            return Err(JwsError::WrongType {
                expected: typ,
                found: p.header.typ.clone(),
            });
        }
        let kid: KeyId = p
            .header
            .kid
            .parse()
            .map_err(|_| JwsError::UnknownKey(p.header.kid.clone()))?;
        let material = self
            .keys
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(_, m)| m)
            .ok_or_else(|| JwsError::UnknownKey(p.header.kid.clone()))?;
        if material.alg() != p.header.alg {
            return Err(JwsError::AlgorithmMismatch {
                header: p.header.alg,
                key: material.alg(),
                kid: kid.to_string(),
            });
        }
        let ok = match material {
            Material::Ed25519(k) => {
                verify_ed25519(&k.verifying_key(), &p.signing_input, &p.signature)
            }
            Material::Ed25519Public(k) => verify_ed25519(k, &p.signing_input, &p.signature),
            Material::Hmac(k) => hs256(k, &p.signing_input)
                .verify_slice(&p.signature)
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(JwsError::BadSignature)
        }
    }
}

fn hs256(key: &HmacKey, data: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    m.update(data);
    m
}

fn verify_ed25519(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    key.verify_strict(msg, &Signature::from_bytes(&bytes))
        .is_ok()
}

/// A JWS split and decoded, signature not checked.
pub(crate) struct ParsedJws {
    pub(crate) header: Header,
    pub(crate) payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl ParsedJws {
    pub(crate) fn parse(jws: &str) -> Result<ParsedJws, JwsError> {
        if jws.len() > MAX_JWS_LEN {
            return Err(JwsError::TooLong);
        }
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let header_bytes = b64::decode(h).map_err(|_| JwsError::Base64("header"))?;
        let payload = b64::decode(p).map_err(|_| JwsError::Base64("payload"))?;
        let signature = b64::decode(s).map_err(|_| JwsError::Base64("signature"))?;
        let value: serde_json::Value =
            serde_json::from_slice(&header_bytes).map_err(|e| JwsError::Header(e.to_string()))?;
        if let Some(alg) = value.get("alg").and_then(|a| a.as_str())
            && alg != "EdDSA"
            && alg != "HS256"
        {
            return Err(JwsError::UnsupportedAlg(alg.to_owned()));
        }
        let header: Header =
            serde_json::from_value(value).map_err(|e| JwsError::Header(e.to_string()))?;
        let signing_input = jws
            .get(..h.len() + 1 + p.len())
            .unwrap_or_default()
            .as_bytes()
            .to_vec();
        Ok(ParsedJws {
            header,
            payload,
            signing_input,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySet {
        KeySet::new()
            .with_ed25519("ed1".parse().unwrap(), [1; 32])
            .with_hs256("hs1".parse().unwrap(), HmacKey::from_bytes([2; 32]))
            .activate("ed1".parse().unwrap())
            .unwrap()
    }

    #[test]
    fn rfc8037_test_vector() {
        // RFC 8037 appendix A.4: Ed25519 signature of "Example of Ed25519 signing".
        let seed: [u8; 32] = b64::decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap()
            .try_into()
            .unwrap();
        let set = KeySet::new().with_ed25519("k".parse().unwrap(), seed);
        assert_eq!(
            set.jwks().keys[0].x,
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let SigningKeyOnly(k) = SigningKeyOnly(SigningKey::from_bytes(&seed));
        assert_eq!(
            b64::encode(&k.sign(input.as_bytes()).to_bytes()),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    struct SigningKeyOnly(SigningKey);

    #[test]
    fn sign_verify_both_algorithms_and_rotation() {
        let ed = keys();
        let jws = ed.sign("t+jwt", b"{}").unwrap();
        assert_eq!(ed.verify(&jws, "t+jwt").unwrap().0.alg, Alg::EdDSA);
        let hs = ed.clone().activate("hs1".parse().unwrap()).unwrap();
        let jws_hs = hs.sign("t+jwt", b"{}").unwrap();
        assert_eq!(hs.verify(&jws_hs, "t+jwt").unwrap().0.alg, Alg::HS256);
        // Rotation: a new active key; old receipts still verify.
        let rotated = ed
            .clone()
            .with_ed25519("ed2".parse().unwrap(), [3; 32])
            .activate("ed2".parse().unwrap())
            .unwrap();
        assert!(rotated.verify(&jws, "t+jwt").is_ok());
        assert!(
            rotated
                .sign("t+jwt", b"{}")
                .unwrap()
                .starts_with(&b64::encode(
                    br#"{"alg":"EdDSA","kid":"ed2","typ":"t+jwt"}"#
                ))
        );
        // Offline verification from the published JWK Set.
        let public = KeySet::from_jwks_json(&rotated.jwks_json()).unwrap();
        assert!(public.verify(&jws, "t+jwt").is_ok());
        assert_eq!(public.sign("t+jwt", b"{}"), Err(JwsError::NoSigningKey));
        assert!(!rotated.jwks_json().contains("hs1"));
    }

    #[test]
    fn rejections() {
        let k = keys();
        let jws = k.sign("t+jwt", b"{\"a\":1}").unwrap();
        let (h, rest) = jws.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let none = format!(
            "{}.{p}.",
            b64::encode(br#"{"alg":"none","kid":"ed1","typ":"t+jwt"}"#)
        );
        assert_eq!(
            k.verify(&none, "t+jwt"),
            Err(JwsError::UnsupportedAlg("none".into()))
        );
        // Algorithm confusion: HS256 over the Ed25519 key id, keyed with the public key bytes.
        let public = k.jwks().keys[0].x.clone();
        let confused_key = HmacKey::from_bytes(b64::decode(&public).unwrap().try_into().unwrap());
        let attacker = KeySet::new()
            .with_hs256("ed1".parse().unwrap(), confused_key)
            .activate("ed1".parse().unwrap())
            .unwrap();
        let forged = attacker.sign("t+jwt", b"{\"a\":1}").unwrap();
        assert!(matches!(
            k.verify(&forged, "t+jwt"),
            Err(JwsError::AlgorithmMismatch { .. })
        ));
        assert_eq!(
            k.verify(&format!("{h}.{}.{s}", b64::encode(b"{\"a\":2}")), "t+jwt"),
            Err(JwsError::BadSignature)
        );
        assert_eq!(
            k.verify(&format!("{jws}.x"), "t+jwt"),
            Err(JwsError::Malformed)
        );
        assert_eq!(
            k.verify(&format!("{jws}="), "t+jwt"),
            Err(JwsError::Base64("signature"))
        );
        assert_eq!(
            k.verify(&jws[..jws.len() - 2], "t+jwt"),
            Err(JwsError::BadSignature)
        );
        assert_eq!(
            k.verify(&"a".repeat(MAX_JWS_LEN + 1), "t+jwt"),
            Err(JwsError::TooLong)
        );
        assert!(matches!(
            k.verify(&jws, "other+jwt"),
            Err(JwsError::WrongType { .. })
        ));
        let other = KeySet::new().with_ed25519("zz".parse().unwrap(), [1; 32]);
        assert_eq!(
            other.verify(&jws, "t+jwt"),
            Err(JwsError::UnknownKey("ed1".into()))
        );
        let extra = format!(
            "{}.{p}.{s}",
            b64::encode(br#"{"alg":"EdDSA","kid":"ed1","typ":"t+jwt","crit":["x"]}"#)
        );
        assert!(matches!(
            k.verify(&extra, "t+jwt"),
            Err(JwsError::Header(_))
        ));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let shown = format!("{:?}", keys());
        assert!(
            shown.contains("ed1 (EdDSA private)") && shown.contains("hs1 (HS256 secret)"),
            "{shown}"
        );
        assert!(
            !shown.contains("[1, 1") && !shown.contains("2, 2"),
            "{shown}"
        );
    }
}
