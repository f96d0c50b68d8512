//! Turns the `tls_server_config` section of the web config into a rustls [`ServerConfig`]:
//! reads the PEM certificate chain, key and client CA, checks that the key belongs to the
//! certificate, and applies the client-auth policy and protocol versions.
//!
//! This module only builds; when to rebuild (rotated files) is decided in
//! [`super::web_config`]. Every error names the key whose file or value is at fault.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{
    self, version, Error as RustlsError, InconsistentKeys, RootCertStore, ServerConfig,
    SupportedProtocolVersion,
};

use super::error::WebConfigError;

/// The client-certificate policy (`tls_server_config.client_auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    NoClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    pub(crate) const KEY: &'static str = "tls_server_config.client_auth_type";

    /// Parses the exporter-toolkit name. The toolkit's `RequestClientCert` and
    /// `RequireAnyClientCert` accept certificates nobody verified; we refuse them rather than
    /// give a false sense of client authentication.
    pub(crate) fn parse(text: &str) -> Result<Self, WebConfigError> {
        match text {
            "" | "NoClientCert" => Ok(Self::NoClientCert),
            "VerifyClientCertIfGiven" => Ok(Self::VerifyClientCertIfGiven),
            "RequireAndVerifyClientCert" => Ok(Self::RequireAndVerifyClientCert),
            "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
                Err(WebConfigError::invalid(
                    Self::KEY,
                    format!(
                        "{text} is not supported: it accepts client certificates without \
                         verifying them; use VerifyClientCertIfGiven or \
                         RequireAndVerifyClientCert with client_ca_file"
                    ),
                ))
            }
            other => Err(WebConfigError::invalid(
                Self::KEY,
                format!(
                    "unknown value {other:?}; expected NoClientCert, VerifyClientCertIfGiven \
                     or RequireAndVerifyClientCert"
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoClientCert => "NoClientCert",
            Self::VerifyClientCertIfGiven => "VerifyClientCertIfGiven",
            Self::RequireAndVerifyClientCert => "RequireAndVerifyClientCert",
        }
    }
}

/// A TLS protocol version rustls implements (`min_version` / `max_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    pub(crate) fn parse(key: &str, text: &str) -> Result<Self, WebConfigError> {
        match text {
            "TLS12" => Ok(Self::Tls12),
            "TLS13" => Ok(Self::Tls13),
            "TLS10" | "TLS11" => Err(WebConfigError::invalid(
                key,
                format!("{text} is not supported (only TLS12 and TLS13 are implemented)"),
            )),
            other => Err(WebConfigError::invalid(
                key,
                format!("unknown value {other:?}; expected TLS12 or TLS13"),
            )),
        }
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            Self::Tls12 => &version::TLS12,
            Self::Tls13 => &version::TLS13,
        }
    }
}

/// The validated `tls_server_config`; paths are already resolved against the web config's
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
    pub client_auth: ClientAuth,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
}

impl TlsSpec {
    /// The files whose change means the server config must be rebuilt.
    pub fn files(&self) -> Vec<&Path> {
        let mut files = vec![self.cert_file.as_path(), self.key_file.as_path()];
        files.extend(self.client_ca_file.as_deref());
        files
    }

    /// Reads the files and builds the server config. Fails, naming the key, when a file is
    /// unreadable, holds no usable PEM, or the key does not belong to the certificate.
    pub fn build(&self) -> Result<Arc<ServerConfig>, WebConfigError> {
        // ring, the provider reqwest already uses; passed explicitly so that no process-wide
        // default has to be installed.
        let provider = Arc::new(ring::default_provider());
        let certs = read_certs("tls_server_config.cert_file", &self.cert_file)?;
        let key_bytes = read("tls_server_config.key_file", &self.key_file)?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|err| {
            WebConfigError::invalid(
                "tls_server_config.key_file",
                format!(
                    "{}: no usable PEM private key: {err}",
                    self.key_file.display()
                ),
            )
        })?;
        // Load the key on its own first so that a bad key is blamed on key_file, not cert_file.
        provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|err| {
                WebConfigError::invalid(
                    "tls_server_config.key_file",
                    format!("{}: {err}", self.key_file.display()),
                )
            })?;

        let versions: Vec<&'static SupportedProtocolVersion> =
            [TlsVersion::Tls12, TlsVersion::Tls13]
                .into_iter()
                .filter(|v| (self.min_version..=self.max_version).contains(v))
                .map(TlsVersion::rustls)
                .collect();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|err| {
                WebConfigError::invalid("tls_server_config.min_version", err.to_string())
            })?;
        let builder = match self.client_auth {
            ClientAuth::NoClientCert => builder.with_no_client_auth(),
            mode => {
                let roots = self.client_roots()?;
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
                let verifier = if mode == ClientAuth::VerifyClientCertIfGiven {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier.build().map_err(|err| {
                    WebConfigError::invalid("tls_server_config.client_ca_file", err.to_string())
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|err| match err {
                RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                    WebConfigError::invalid(
                        "tls_server_config.key_file",
                        format!(
                            "{} does not belong to the certificate in {}",
                            self.key_file.display(),
                            self.cert_file.display()
                        ),
                    )
                }
                other => WebConfigError::invalid(
                    "tls_server_config.cert_file",
                    format!("{}: {other}", self.cert_file.display()),
                ),
            })?;
        // We serve HTTP/1.1 only; saying so lets clients that offer h2 fall back cleanly.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn client_roots(&self) -> Result<Arc<RootCertStore>, WebConfigError> {
        const KEY: &str = "tls_server_config.client_ca_file";
        let Some(path) = &self.client_ca_file else {
            return Err(WebConfigError::invalid(
                KEY,
                format!(
                    "required when client_auth_type is {}",
                    self.client_auth.as_str()
                ),
            ));
        };
        let mut roots = RootCertStore::empty();
        for cert in read_certs(KEY, path)? {
            roots.add(cert).map_err(|err: rustls::Error| {
                WebConfigError::invalid(KEY, format!("{}: {err}", path.display()))
            })?;
        }
        Ok(Arc::new(roots))
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, WebConfigError> {
    std::fs::read(path).map_err(|source| WebConfigError::File {
        key,
        path: path.display().to_string(),
        source,
    })
}

fn read_certs(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let bytes = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            WebConfigError::invalid(key, format!("{}: invalid PEM: {err}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(WebConfigError::invalid(
            key,
            format!("{}: no PEM certificate found", path.display()),
        ));
    }
    Ok(certs)
}
