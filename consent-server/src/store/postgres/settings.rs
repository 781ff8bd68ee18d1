//! The `database` setting for PostgreSQL: a `postgres://` URL (libpq's form), its TLS mode and CA file,
//! and the size of the connection pool.
//!
//! The driver reads the URL, except for what it does not know and we do: `sslmode` takes libpq's five
//! values (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`), `sslrootcert` names a PEM file
//! of CA certificates (or `system`: the Mozilla roots), and `pool_max_size` the number of connections
//! of one instance. TLS is rustls with aws-lc-rs, the provider reqwest already brings.

use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode};

use crate::store::StoreError;

/// Connections per instance unless the URL says `pool_max_size`.
pub const DEFAULT_POOL_MAX_SIZE: usize = 16;

/// libpq's `sslmode`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TlsMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, its certificate not checked (libpq's default).
    Prefer,
    /// TLS always, its certificate not checked (as libpq, unless a CA file is given: then as `verify-ca`).
    Require,
    /// TLS always, the certificate checked against the CA file, not the host name.
    VerifyCa,
    /// TLS always, the certificate checked against the CA file and the host name.
    VerifyFull,
}

impl TlsMode {
    fn parse(s: &str) -> Result<TlsMode, String> {
        Ok(match s {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode `{other}`: expected disable, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }

    /// As written in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// A PostgreSQL connection URL, parsed. Its password never appears in `Display` or `Debug`.
///
/// ```
/// use consent_server::store::{PostgresUrl, TlsMode};
///
/// let url = PostgresUrl::parse("postgres://consent:secret@db.example.kz:5432/consent?sslmode=verify-full&sslrootcert=/etc/ca.pem&pool_max_size=8").unwrap();
/// assert_eq!(url.tls_mode(), TlsMode::VerifyFull);
/// assert_eq!(url.pool_max_size(), 8);
/// assert_eq!(url.to_string(), "postgres://consent@db.example.kz:5432/consent?sslmode=verify-full");
/// assert!(!format!("{url:?}").contains("secret"));
/// assert!(PostgresUrl::parse("postgres://db/consent?sslmode=verify-full").is_err()); // which CA?
/// ```
#[derive(Clone)]
pub struct PostgresUrl {
    config: tokio_postgres::Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
    pool_max_size: usize,
}

impl PostgresUrl {
    /// Parses `postgres://user:password@host:port/database?param=value&…`.
    pub fn parse(url: &str) -> Result<PostgresUrl, String> {
        if !is_postgres_url(url) {
            return Err("a PostgreSQL URL starts with postgres:// or postgresql://".into());
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut tls = TlsMode::Prefer;
        let mut root_cert = None;
        let mut pool_max_size = DEFAULT_POOL_MAX_SIZE;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => tls = TlsMode::parse(&percent_decode(value)?)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(value)?)),
                "pool_max_size" => {
                    pool_max_size = percent_decode(value)?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("pool_max_size must be a number of connections, at least 1")?;
                }
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" | "sslsni"
                | "requiressl" => {
                    return Err(format!("`{key}` is not supported (see the README)"));
                }
                _ => rest.push(pair),
            }
        }
        if matches!(tls, TlsMode::VerifyCa | TlsMode::VerifyFull) && root_cert.is_none() {
            return Err(format!(
                "sslmode={} needs sslrootcert: a PEM file of the CA certificates to trust, or `system`",
                tls.as_str()
            ));
        }
        let driver_url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&driver_url).map_err(|e| {
            let detail = std::error::Error::source(&e).map_or(String::new(), |s| format!(": {s}"));
            format!("{e}{detail}")
        })?;
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("consent-server");
        }
        Ok(PostgresUrl {
            config,
            tls,
            root_cert,
            pool_max_size,
        })
    }

    /// The TLS mode (`sslmode`).
    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    /// Connections of one instance's pool (`pool_max_size`, default 16).
    pub fn pool_max_size(&self) -> usize {
        self.pool_max_size
    }

    /// The driver's configuration: the URL's, with the session settings the store needs (a commit is
    /// durable before it returns: `synchronous_commit = on`, whatever the server's default or the
    /// role's setting).
    pub(super) fn driver_config(&self) -> tokio_postgres::Config {
        let mut config = self.config.clone();
        let options = match config.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} -c synchronous_commit=on"),
            _ => "-c synchronous_commit=on".to_owned(),
        };
        config.options(options);
        config
    }

    /// One connection made as the store's pool makes them (the URL's TLS mode and CA file, the same
    /// session settings), its driver spawned on the current Tokio runtime: for tools that work on the
    /// database beside the server, such as the load generator's ceiling, which must pay for TLS as
    /// the server does.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, StoreError> {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(
            self.tls_config()
                .map_err(|e| StoreError::Backend(e.into()))?,
        );
        let (client, connection) = self
            .driver_config()
            .connect(tls)
            .await
            .map_err(super::fault::store_error)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection ended");
            }
        });
        Ok(client)
    }

    /// The rustls configuration for the TLS mode.
    pub(super) fn tls_config(&self) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let roots = match &self.root_cert {
            Some(path) => Some(Arc::new(self.roots(path)?)),
            None => None,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match (self.tls, roots) {
            (TlsMode::VerifyFull, Some(roots)) => {
                WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
                    .build()
                    .map_err(|e| format!("TLS: {e}"))?
            }
            // `require` with a CA file is `verify-ca`, as in libpq.
            (TlsMode::VerifyCa | TlsMode::Require, Some(roots)) => Arc::new(AnyName(
                WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
                    .build()
                    .map_err(|e| format!("TLS: {e}"))?,
            )),
            _ => Arc::new(Unchecked(provider)),
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }

    fn roots(&self, path: &std::path::Path) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        if path.as_os_str() == "system" {
            for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
                // A root the parser cannot take is skipped, as rustls' own loaders do.
                let _ = roots.add(cert.clone());
            }
            return Ok(roots);
        }
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!(
                "sslrootcert {}: no certificate in it",
                path.display()
            ));
        }
        Ok(roots)
    }
}

/// Whether `s` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in `{s}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8"))
}

impl std::fmt::Display for PostgresUrl {
    /// `postgres://user@host:port/database?sslmode=…`: no password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("postgres://")?;
        if let Some(user) = self.config.get_user() {
            write!(f, "{user}@")?;
        }
        let ports = self.config.get_ports();
        for (i, host) in self.config.get_hosts().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match host {
                Host::Tcp(h) => f.write_str(h)?,
                #[cfg(unix)]
                Host::Unix(p) => write!(f, "{}", p.display())?,
            }
            if let Some(p) = ports.get(i).or(ports.first()) {
                write!(f, ":{p}")?;
            }
        }
        if let Some(db) = self.config.get_dbname() {
            write!(f, "/{db}")?;
        }
        write!(f, "?sslmode={}", self.tls.as_str())
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// `sslmode=prefer` and `require` without a CA file: encrypted, the certificate not checked (libpq's
/// behaviour; the handshake's signatures are still verified). `verify-full` is what production uses.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA; the name in the certificate is not compared with
/// the host's.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_our_parameters_and_hide_the_password() {
        let u = PostgresUrl::parse(
            "postgresql://app:p%40ss@127.0.0.1:5433/consent?connect_timeout=3&sslmode=require",
        )
        .unwrap();
        assert_eq!(u.tls_mode(), TlsMode::Require);
        assert_eq!(u.pool_max_size(), DEFAULT_POOL_MAX_SIZE);
        assert_eq!(u.config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(
            u.to_string(),
            "postgres://app@127.0.0.1:5433/consent?sslmode=require"
        );
        assert_eq!(
            u.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
        let d = u.driver_config();
        assert_eq!(d.get_options(), Some("-c synchronous_commit=on"));
        // Options of the URL are kept (tests give each a schema this way).
        let u = PostgresUrl::parse("postgres://h/db?options=-c%20search_path%3Dt1").unwrap();
        assert_eq!(
            u.driver_config().get_options(),
            Some("-c search_path=t1 -c synchronous_commit=on")
        );
        assert_eq!(u.tls_mode(), TlsMode::Prefer);
        for bad in [
            "postgres://h/db?sslmode=allow",
            "postgres://h/db?sslmode=verify-ca",
            "postgres://h/db?pool_max_size=0",
            "postgres://h/db?sslkey=/k.pem",
            "postgres://h/db?nonsense=1",
            "consent.db",
        ] {
            assert!(PostgresUrl::parse(bad).is_err(), "{bad}");
        }
        let e = PostgresUrl::parse("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent")
            .unwrap()
            .tls_config()
            .unwrap_err();
        assert!(e.contains("/nonexistent"), "{e}");
        let system = PostgresUrl::parse("postgres://h/db?sslmode=verify-full&sslrootcert=system");
        assert!(system.unwrap().tls_config().is_ok());
    }
}
