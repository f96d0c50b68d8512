//! Turns the `tls_server_config` section of the web config into a rustls [`ServerConfig`]:
//! reads the PEM certificate chain, key and client CA (from files or inline), checks that the key
//! belongs to the certificate, and applies the client-auth policy and allowed SANs, the protocol
//! versions, cipher suites, curves and whose suite order wins.
//!
//! This module only builds; when to rebuild (rotated files) is decided in
//! [`super::web_config`]. Every error names the key whose file or value is at fault.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{
    self, version, CipherSuite, Error as RustlsError, InconsistentKeys, NamedGroup, RootCertStore,
    ServerConfig, SupportedProtocolVersion,
};

use super::client_sans::{AllowedSan, SanVerifier};
use super::error::WebConfigError;
use super::tls_names::NameError;
use crate::config::Secret;

/// Where a PEM comes from: a file (`cert_file`…), re-read when it changes, or the web config
/// itself (`cert`…). An inline PEM is a [`Secret`]: a key is one, and no PEM is worth printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pem {
    File(PathBuf),
    Inline(Secret),
}

impl Pem {
    fn read(&self, key: &'static str) -> Result<Cow<'_, [u8]>, WebConfigError> {
        match self {
            Pem::File(path) => read(key, path).map(Cow::Owned),
            Pem::Inline(text) => Ok(Cow::Borrowed(text.expose().as_bytes())),
        }
    }

    /// The file's path, or "inline" — never the PEM itself (an inline key is a secret).
    fn describe(&self) -> Cow<'_, str> {
        match self {
            Pem::File(path) => path.to_string_lossy(),
            Pem::Inline(_) => Cow::Borrowed("inline PEM"),
        }
    }

    fn file(&self) -> Option<&Path> {
        match self {
            Pem::File(path) => Some(path),
            Pem::Inline(_) => None,
        }
    }
}

/// The client-certificate policy (`tls_server_config.client_auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    NoClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// The exporter-toolkit name. The toolkit's `RequestClientCert` and `RequireAnyClientCert`
/// accept certificates nobody verified; we refuse them rather than give a false sense of client
/// authentication.
impl FromStr for ClientAuth {
    type Err = NameError;

    fn from_str(text: &str) -> Result<Self, NameError> {
        match text {
            "" | "NoClientCert" => Ok(Self::NoClientCert),
            "VerifyClientCertIfGiven" => Ok(Self::VerifyClientCertIfGiven),
            "RequireAndVerifyClientCert" => Ok(Self::RequireAndVerifyClientCert),
            "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
                Err(NameError::NotSupported {
                    name: text.to_owned(),
                    why: "it accepts client certificates without verifying them; use \
                          VerifyClientCertIfGiven or RequireAndVerifyClientCert with \
                          client_ca_file",
                })
            }
            other => Err(NameError::Unknown {
                what: "value",
                name: other.to_owned(),
                expected: "expected NoClientCert, VerifyClientCertIfGiven or \
                           RequireAndVerifyClientCert"
                    .to_owned(),
            }),
        }
    }
}

impl ClientAuth {
    pub(crate) const KEY: &'static str = "tls_server_config.client_auth_type";

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NoClientCert => "NoClientCert",
            Self::VerifyClientCertIfGiven => "VerifyClientCertIfGiven",
            Self::RequireAndVerifyClientCert => "RequireAndVerifyClientCert",
        }
    }
}

/// A TLS protocol version rustls implements (`min_version` / `max_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsVersion {
    Tls12,
    Tls13,
}

impl FromStr for TlsVersion {
    type Err = NameError;

    fn from_str(text: &str) -> Result<Self, NameError> {
        match text {
            "TLS12" => Ok(Self::Tls12),
            "TLS13" => Ok(Self::Tls13),
            "TLS10" | "TLS11" => Err(NameError::NotSupported {
                name: text.to_owned(),
                why: "only TLS12 and TLS13 are implemented",
            }),
            other => Err(NameError::Unknown {
                what: "value",
                name: other.to_owned(),
                expected: "expected TLS12 or TLS13".to_owned(),
            }),
        }
    }
}

impl TlsVersion {
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
pub(crate) struct TlsSpec {
    pub cert: Pem,
    pub key: Pem,
    pub client_ca: Option<Pem>,
    pub client_auth: ClientAuth,
    /// Empty: any client certificate the client CA signed.
    pub client_allowed_sans: Vec<AllowedSan>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// The TLS 1.2 suites allowed, in the server's order of preference; `None`: rustls' own.
    pub tls12_suites: Option<Vec<CipherSuite>>,
    /// The key-exchange groups, in order of preference; `None`: rustls' own.
    pub curves: Option<Vec<NamedGroup>>,
    /// Whether the server's suite order wins over the client's (exporter-toolkit's default).
    pub prefer_server_cipher_suites: bool,
}

impl TlsSpec {
    /// The files whose change means the server config must be rebuilt (inline PEMs change with
    /// the web config file itself).
    pub(crate) fn files(&self) -> Vec<&Path> {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(Pem::file)
            .collect()
    }

    fn versions(&self) -> Vec<&'static SupportedProtocolVersion> {
        [TlsVersion::Tls12, TlsVersion::Tls13]
            .into_iter()
            .filter(|v| (self.min_version..=self.max_version).contains(v))
            .map(TlsVersion::rustls)
            .collect()
    }

    /// The ring provider cut to the configured suites and groups.
    fn provider(&self) -> CryptoProvider {
        let mut provider = ring::default_provider();
        if let Some(wanted) = &self.tls12_suites {
            let all = std::mem::take(&mut provider.cipher_suites);
            // TLS 1.3's suites stay as they are (as in Go); TLS 1.2's follow the list's order.
            provider.cipher_suites = all
                .iter()
                .filter(|s| s.tls13().is_some())
                .copied()
                .collect();
            provider.cipher_suites.extend(
                wanted
                    .iter()
                    .filter_map(|name| all.iter().find(|s| s.suite() == *name).copied()),
            );
        }
        if let Some(wanted) = &self.curves {
            let all = std::mem::take(&mut provider.kx_groups);
            provider.kx_groups = wanted
                .iter()
                .filter_map(|name| all.iter().find(|g| g.name() == *name).copied())
                .collect();
        }
        provider
    }

    /// Reads the PEMs and builds the server config. Fails, naming the key, when a file is
    /// unreadable, holds no usable PEM, or the key does not belong to the certificate.
    pub(crate) fn build(&self) -> Result<Arc<ServerConfig>, WebConfigError> {
        // ring, the provider reqwest already uses; passed explicitly so that no process-wide
        // default has to be installed.
        let provider = Arc::new(self.provider());
        let certs = read_certs(cert_key(&self.cert), &self.cert)?;
        let key_key = key_key(&self.key);
        let key_bytes = self.key.read(key_key)?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|err| {
            WebConfigError::invalid(
                key_key,
                format!("{}: no usable PEM private key: {err}", self.key.describe()),
            )
        })?;
        // Load the key on its own first so that a bad key is blamed on the key, not the cert.
        provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|err| {
                WebConfigError::invalid(key_key, format!("{}: {err}", self.key.describe()))
            })?;

        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions())
            .map_err(|err| {
                WebConfigError::invalid("tls_server_config.cipher_suites", err.to_string())
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
                let verifier: Arc<dyn ClientCertVerifier> = verifier.build().map_err(|err| {
                    WebConfigError::invalid(client_ca_key(self.client_ca.as_ref()), err.to_string())
                })?;
                let verifier = if self.client_allowed_sans.is_empty() {
                    verifier
                } else {
                    Arc::new(SanVerifier::new(verifier, self.client_allowed_sans.clone()))
                };
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|err| match err {
                RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                    WebConfigError::invalid(
                        key_key,
                        format!(
                            "{} does not belong to the certificate in {}",
                            self.key.describe(),
                            self.cert.describe()
                        ),
                    )
                }
                other => WebConfigError::invalid(
                    cert_key(&self.cert),
                    format!("{}: {other}", self.cert.describe()),
                ),
            })?;
        config.ignore_client_order = self.prefer_server_cipher_suites;
        // We serve HTTP/1.1 only; saying so lets clients that offer h2 fall back cleanly.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn client_roots(&self) -> Result<Arc<RootCertStore>, WebConfigError> {
        let Some(pem) = &self.client_ca else {
            return Err(WebConfigError::invalid(
                "tls_server_config.client_ca_file",
                format!(
                    "required when client_auth_type is {}",
                    self.client_auth.as_str()
                ),
            ));
        };
        let key = client_ca_key(Some(pem));
        let mut roots = RootCertStore::empty();
        for cert in read_certs(key, pem)? {
            roots.add(cert).map_err(|err: rustls::Error| {
                WebConfigError::invalid(key, format!("{}: {err}", pem.describe()))
            })?;
        }
        Ok(Arc::new(roots))
    }
}

/// The key an error about each PEM names: the one the config used.
fn cert_key(pem: &Pem) -> &'static str {
    match pem {
        Pem::File(_) => "tls_server_config.cert_file",
        Pem::Inline(_) => "tls_server_config.cert",
    }
}

fn key_key(pem: &Pem) -> &'static str {
    match pem {
        Pem::File(_) => "tls_server_config.key_file",
        Pem::Inline(_) => "tls_server_config.key",
    }
}

fn client_ca_key(pem: Option<&Pem>) -> &'static str {
    match pem {
        Some(Pem::Inline(_)) => "tls_server_config.client_ca",
        _ => "tls_server_config.client_ca_file",
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
    pem: &Pem,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let bytes = pem.read(key)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            WebConfigError::invalid(key, format!("{}: invalid PEM: {err}", pem.describe()))
        })?;
    if certs.is_empty() {
        return Err(WebConfigError::invalid(
            key,
            format!("{}: no PEM certificate found", pem.describe()),
        ));
    }
    Ok(certs)
}
