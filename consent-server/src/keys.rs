//! The server's keys: receipt signing keys, token keys, and the keys for pseudonyms and unsubscribe
//! links. Kept in one JSON file with mode 0600; `Debug` never shows key material.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::tlog::{KeyName, NoteSigner};
use consent_core::{HmacKey, KeyId, KeySet, Timestamp, TokenKeys};
use serde::{Deserialize, Serialize};

/// Why keys could not be loaded or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing the file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        error: std::io::Error,
    },
    /// The file is not a key file.
    #[error("{path}: not a valid key file: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The operating system's random number generator failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptKeyFile {
    kid: String,
    alg: String,
    secret: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenKeyFile {
    kid: String,
    secret: String,
}

/// The key file's format.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// Generated for development by `serve` (never for production).
    development: bool,
    /// Receipt signing keys; the first one signs.
    receipt_keys: Vec<ReceiptKeyFile>,
    /// Consent-token keys; the first one signs.
    token_keys: Vec<TokenKeyFile>,
    /// Key of the keyed hash that turns external subject ids into lookups.
    pseudonym_key: String,
    /// Key of the one-click unsubscribe links.
    unsubscribe_key: String,
    /// Seed of the log's Ed25519 note key (checkpoints). Files written before the log have none:
    /// `consent-server keygen --add-log-key FILE` adds it (`ServerKeys::add_log_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_key: Option<String>,
}

/// The loaded keys.
#[derive(Clone)]
pub struct ServerKeys {
    /// Receipt keys, active one set.
    pub receipts: KeySet,
    /// Token keys.
    pub tokens: TokenKeys,
    /// The token keys as a JWK Set of `oct` keys, for backends (secret: never served).
    pub token_jwks: String,
    /// Keyed hash of external subject ids.
    pub pseudonym: HmacKey,
    /// Unsubscribe-link MAC key.
    pub unsubscribe: HmacKey,
    /// Seed of the log's note key (checkpoints), if the file has one; the key's name is the log's
    /// origin, from the configuration ([`ServerKeys::log_signer`]).
    log_seed: Option<[u8; 32]>,
    /// Development keys.
    pub development: bool,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys")
            .field("receipts", &self.receipts)
            .field("tokens", &self.tokens.active())
            .field("pseudonym", &self.pseudonym)
            .field("unsubscribe", &self.unsubscribe)
            .field("log_key", &self.log_seed.map(|_| "<redacted>"))
            .field("development", &self.development)
            .finish()
    }
}

/// 32 random bytes from the operating system.
pub fn random32() -> Result<[u8; 32], KeyError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

/// 16 random bytes from the operating system.
pub fn random16() -> Result<[u8; 16], KeyError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Key ids from the date: `ed-YYYYMMDD`, `tYYMMDD`.
fn kid_suffix(now: Timestamp) -> String {
    now.to_string()
        .get(..10)
        .unwrap_or("0000-00-00")
        .replace('-', "")
}

impl KeyFile {
    fn generate(now: Timestamp, development: bool) -> Result<KeyFile, KeyError> {
        let day = kid_suffix(now);
        Ok(KeyFile {
            development,
            receipt_keys: vec![ReceiptKeyFile {
                kid: format!("ed-{day}"),
                alg: "EdDSA".into(),
                secret: b64(&random32()?),
            }],
            token_keys: vec![TokenKeyFile {
                kid: format!("t{}", day.get(2..).unwrap_or("")),
                secret: b64(&random32()?),
            }],
            pseudonym_key: b64(&random32()?),
            unsubscribe_key: b64(&random32()?),
            log_key: Some(b64(&random32()?)),
        })
    }
}

fn secret(path: &str, what: &str, s: &str) -> Result<[u8; 32], KeyError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| KeyError::Invalid {
            path: path.into(),
            message: format!("{what} is not 32 bytes of base64url"),
        })
}

fn kid(path: &str, s: &str) -> Result<KeyId, KeyError> {
    s.parse().map_err(|e| KeyError::Invalid {
        path: path.into(),
        message: format!("key id `{s}`: {e}"),
    })
}

impl ServerKeys {
    fn from_file(path: &str, f: &KeyFile) -> Result<ServerKeys, KeyError> {
        let invalid = |m: &str| KeyError::Invalid {
            path: path.into(),
            message: m.into(),
        };
        let mut receipts = KeySet::new();
        for k in &f.receipt_keys {
            let s = secret(path, &format!("receipt key {}", k.kid), &k.secret)?;
            receipts = match k.alg.as_str() {
                "EdDSA" => receipts.with_ed25519(kid(path, &k.kid)?, s),
                "HS256" => receipts.with_hs256(kid(path, &k.kid)?, HmacKey::from_bytes(s)),
                other => {
                    return Err(invalid(&format!(
                        "receipt key {}: alg `{other}` is not EdDSA or HS256",
                        k.kid
                    )));
                }
            };
        }
        let active = f
            .receipt_keys
            .first()
            .ok_or_else(|| invalid("no receipt keys"))?;
        let receipts = receipts
            .activate(kid(path, &active.kid)?)
            .map_err(|e| invalid(&e.to_string()))?;
        let mut tokens: Option<TokenKeys> = None;
        let mut jwks = Vec::new();
        for k in &f.token_keys {
            let s = secret(path, &format!("token key {}", k.kid), &k.secret)?;
            jwks.push(serde_json::json!({"kty": "oct", "kid": k.kid, "alg": "HS256", "use": "consent-token", "k": k.secret}));
            let key = HmacKey::from_bytes(s);
            tokens = Some(match tokens {
                None => TokenKeys::new(kid(path, &k.kid)?, key),
                Some(t) => t.with_verify_only(kid(path, &k.kid)?, key),
            });
        }
        Ok(ServerKeys {
            receipts,
            tokens: tokens.ok_or_else(|| invalid("no token keys"))?,
            token_jwks: serde_json::json!({ "keys": jwks }).to_string(),
            pseudonym: HmacKey::from_bytes(secret(path, "pseudonym_key", &f.pseudonym_key)?),
            unsubscribe: HmacKey::from_bytes(secret(path, "unsubscribe_key", &f.unsubscribe_key)?),
            log_seed: f
                .log_key
                .as_deref()
                .map(|k| secret(path, "log_key", k))
                .transpose()?,
            development: f.development,
        })
    }

    /// The log's note signer for `origin` (the key is named after the log's origin), if the key file
    /// has a log key.
    pub fn log_signer(&self, origin: &KeyName) -> Option<NoteSigner> {
        self.log_seed
            .map(|seed| NoteSigner::from_seed(origin.clone(), seed))
    }

    /// Adds a log key to a key file written before the log (the one migration of key files): the
    /// other keys stay as they are. A file that has one is left alone (`Ok(false)`).
    pub fn add_log_key(path: &Path) -> Result<bool, KeyError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::Io {
            path: p.clone(),
            error,
        })?;
        let mut file: KeyFile = serde_json::from_str(&text).map_err(|e| KeyError::Invalid {
            path: p.clone(),
            message: e.to_string(),
        })?;
        if file.log_key.is_some() {
            return Ok(false);
        }
        file.log_key = Some(b64(&random32()?));
        ServerKeys::from_file(&p, &file)?;
        let tmp = path.with_extension("adding-log-key");
        write_new(&tmp, &file)?;
        std::fs::rename(&tmp, path).map_err(|error| KeyError::Io { path: p, error })?;
        Ok(true)
    }

    /// Loads a key file.
    pub fn load(path: &Path) -> Result<ServerKeys, KeyError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::Io {
            path: p.clone(),
            error,
        })?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| KeyError::Invalid {
            path: p.clone(),
            message: e.to_string(),
        })?;
        ServerKeys::from_file(&p, &file)
    }

    /// Writes a new key file (mode 0600), refusing to overwrite one.
    pub fn generate(
        path: &Path,
        now: Timestamp,
        development: bool,
    ) -> Result<ServerKeys, KeyError> {
        let file = KeyFile::generate(now, development)?;
        write_new(path, &file)?;
        ServerKeys::from_file(&path.display().to_string(), &file)
    }

    /// Adds new active receipt and token keys to an existing file; old keys stay to verify.
    pub fn rotate(path: &Path, now: Timestamp) -> Result<ServerKeys, KeyError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::Io {
            path: p.clone(),
            error,
        })?;
        let mut file: KeyFile = serde_json::from_str(&text).map_err(|e| KeyError::Invalid {
            path: p.clone(),
            message: e.to_string(),
        })?;
        let fresh = KeyFile::generate(now, file.development)?;
        for (new, old) in fresh.receipt_keys.iter().zip(&file.receipt_keys) {
            if new.kid == old.kid {
                return Err(KeyError::Invalid {
                    path: p,
                    message: format!("key {} already exists: rotate at most once a day", new.kid),
                });
            }
        }
        file.receipt_keys.splice(0..0, fresh.receipt_keys);
        file.token_keys.splice(0..0, fresh.token_keys);
        let tmp = path.with_extension("rotating");
        write_new(&tmp, &file)?;
        std::fs::rename(&tmp, path).map_err(|error| KeyError::Io {
            path: p.clone(),
            error,
        })?;
        ServerKeys::from_file(&p, &file)
    }
}

fn write_new(path: &Path, file: &KeyFile) -> Result<(), KeyError> {
    use std::io::Write as _;
    let p = path.display().to_string();
    let json = serde_json::to_string_pretty(file).map_err(|e| KeyError::Invalid {
        path: p.clone(),
        message: e.to_string(),
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|error| KeyError::Io {
        path: p.clone(),
        error,
    })?;
    f.write_all(json.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|error| KeyError::Io { path: p, error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_load_rotate_and_mode() {
        let dir = std::env::temp_dir().join(format!("consent-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let _ = std::fs::remove_file(&path);
        let now = Timestamp::from_unix(1_750_000_000);
        let k = ServerKeys::generate(&path, now, false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(
            ServerKeys::generate(&path, now, false).is_err(),
            "never overwrites"
        );
        let loaded = ServerKeys::load(&path).unwrap();
        assert_eq!(loaded.receipts.active(), k.receipts.active());
        let shown = format!("{loaded:?}");
        assert!(
            shown.contains("<redacted>") && !shown.contains(&b64(loaded.pseudonym.expose_secret())),
            "{shown}"
        );
        assert!(ServerKeys::rotate(&path, now).is_err(), "same day");
        let rotated = ServerKeys::rotate(&path, now.add_seconds(86_400)).unwrap();
        assert_ne!(rotated.receipts.active(), k.receipts.active());
        assert_eq!(rotated.receipts.kids().count(), 2);
        assert!(rotated.log_seed.is_some() && rotated.log_seed == k.log_seed);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_file_from_before_the_log_gets_a_log_key() {
        let dir = std::env::temp_dir().join(format!("consent-keys-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let _ = std::fs::remove_file(&path);
        let k = ServerKeys::generate(&path, Timestamp::from_unix(1_750_000_000), false).unwrap();
        // The file as it was before the log: no `log_key`.
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        json.as_object_mut().unwrap().remove("log_key");
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, json.to_string()).unwrap();
        let origin: KeyName = consent_core::tlog::DEFAULT_ORIGIN.parse().unwrap();
        let old = ServerKeys::load(&path).unwrap();
        assert!(old.log_signer(&origin).is_none());
        assert!(ServerKeys::add_log_key(&path).unwrap());
        assert!(!ServerKeys::add_log_key(&path).unwrap(), "added once");
        let new = ServerKeys::load(&path).unwrap();
        assert!(new.log_signer(&origin).is_some());
        assert_eq!(
            new.receipts.active(),
            k.receipts.active(),
            "other keys kept"
        );
        assert!(!format!("{new:?}").contains(&b64(&new.log_seed.unwrap())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
