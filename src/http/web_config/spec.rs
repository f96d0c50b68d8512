//! The web config as written (exporter-toolkit's `web-configuration.md`) and its validation: every
//! toolkit key either means here what it means there, or is refused with a message that names
//! it and says why. Nothing in this module reads a file the config names; building TLS from the
//! result is [`super::tls`]' job.
//!
//! | key | here |
//! |---|---|
//! | `tls_server_config.cert_file` / `key_file` / `client_ca_file` | PEM files, relative to the web config |
//! | `tls_server_config.cert` / `key` / `client_ca` | the same PEMs inline (one of each pair) |
//! | `tls_server_config.client_auth_type` | `NoClientCert`, `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`; the unverified modes are refused |
//! | `tls_server_config.client_allowed_sans` | DNS, IP and URI names, exact match; e-mail names refused |
//! | `tls_server_config.min_version` / `max_version` | `TLS12`, `TLS13`; TLS 1.0/1.1 refused (rustls has neither) |
//! | `tls_server_config.cipher_suites` | Go names of the TLS 1.2 AEAD suites; CBC, RSA key exchange, 3DES, RC4 refused |
//! | `tls_server_config.prefer_server_cipher_suites` | whose order wins (default true) |
//! | `tls_server_config.curve_preferences` | `X25519`, `CurveP256`, `CurveP384`; `CurveP521` refused |
//! | `http_server_config.http2` | `false` accepted; `true` accepted with a warning (HTTP/1.1 only) |
//! | `http_server_config.headers` | the toolkit's five security headers, on every answer |
//! | `rate_limit.interval` / `burst` | one token bucket for the server; 429 when empty |
//! | `basic_auth_users` | bcrypt hashes |
//! | `auth_excluded_paths` | paths answered without basic auth (exact match) |

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;
use tokio_rustls::rustls::CipherSuite;

use super::client_sans::AllowedSan;
use super::error::WebConfigError;
use super::tls::{ClientAuth, Pem, TlsSpec, TlsVersion};
use super::tls_names::{self, SuiteName};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    auth_excluded_paths: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca_file: Option<String>,
    client_auth_type: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

/// By hand: `key` may hold a private key.
impl std::fmt::Debug for RawTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("client_ca_file", &self.client_ca_file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default, with = "humantime_serde")]
    interval: Option<Duration>,
    burst: Option<u32>,
}

/// A validated web config.
#[derive(Default)]
pub(super) struct Spec {
    pub tls: Option<TlsSpec>,
    /// User name → bcrypt hash.
    pub users: BTreeMap<String, String>,
    pub excluded_paths: Vec<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `Some(true)` when the file asks for HTTP/2, which is not served.
    pub http2: Option<bool>,
    /// `(interval, burst)`.
    pub rate_limit: Option<(Duration, u32)>,
}

/// By hand: user names only, never their hashes.
impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("tls", &self.tls)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("excluded_paths", &self.excluded_paths)
            .field("headers", &self.headers)
            .field("http2", &self.http2)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// The security headers exporter-toolkit lets a web config set, and the values it accepts
/// (none listed: any value).
const HEADERS: &[(&str, &[&str])] = &[
    ("Content-Security-Policy", &[]),
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
];

/// Parses and validates the text of a web config whose relative paths are relative to `base`.
pub(super) fn parse(text: &str, base: &Path) -> Result<Spec, WebConfigError> {
    // An empty file (or one holding only comments) means "no TLS, no auth", as in the toolkit.
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
        .map_err(|err| WebConfigError::invalid("web config", format!("invalid YAML: {err}")))?;
    if value.is_null() {
        return Ok(Spec::default());
    }
    let raw: RawWebConfig = serde_path_to_error::deserialize(
        serde_yaml_ng::Deserializer::from_str(text),
    )
    .map_err(|err| {
        let key = err.path().to_string();
        let key = if key == "." {
            "web config".to_owned()
        } else {
            key
        };
        WebConfigError::invalid(key, err.into_inner().to_string())
    })?;
    let http = raw.http_server_config.unwrap_or_default();
    Ok(Spec {
        tls: raw
            .tls_server_config
            .map(|tls| validate_tls(tls, base))
            .transpose()?,
        users: validate_users(raw.basic_auth_users.unwrap_or_default())?,
        excluded_paths: validate_excluded_paths(raw.auth_excluded_paths.unwrap_or_default())?,
        headers: validate_headers(http.headers.unwrap_or_default())?,
        http2: http.http2,
        rate_limit: raw
            .rate_limit
            .map(validate_rate_limit)
            .transpose()?
            .flatten(),
    })
}

/// One of an inline PEM and a file, or neither when `required` is false.
fn pem(
    inline_key: &str,
    inline: Option<String>,
    file_key: &str,
    file: Option<String>,
    base: &Path,
    required: bool,
) -> Result<Option<Pem>, WebConfigError> {
    let inline = inline.filter(|v| !v.trim().is_empty());
    let file = file.filter(|v| !v.trim().is_empty());
    match (inline, file) {
        (Some(_), Some(_)) => Err(WebConfigError::invalid(
            file_key,
            format!("{file_key} and {inline_key} are both set; choose one"),
        )),
        (Some(text), None) => Ok(Some(Pem::Inline(text))),
        (None, Some(path)) => Ok(Some(Pem::File(base.join(path)))),
        (None, None) if required => Err(WebConfigError::invalid(
            file_key,
            format!("missing: a PEM file is required (or the PEM inline in {inline_key})"),
        )),
        (None, None) => Ok(None),
    }
}

fn validate_tls(raw: RawTls, base: &Path) -> Result<TlsSpec, WebConfigError> {
    const PREFIX: &str = "tls_server_config";
    let key = |name: &str| format!("{PREFIX}.{name}");
    let cert = pem(
        &key("cert"),
        raw.cert,
        &key("cert_file"),
        raw.cert_file,
        base,
        true,
    )?;
    let private_key = pem(
        &key("key"),
        raw.key,
        &key("key_file"),
        raw.key_file,
        base,
        true,
    )?;
    let (Some(cert), Some(private_key)) = (cert, private_key) else {
        return Err(WebConfigError::invalid(key("cert_file"), "missing"));
    };
    let client_ca = pem(
        &key("client_ca"),
        raw.client_ca,
        &key("client_ca_file"),
        raw.client_ca_file,
        base,
        false,
    )?;
    let client_auth = match raw.client_auth_type.as_deref() {
        // As in the toolkit: a client CA without a policy means "require and verify".
        None | Some("") if client_ca.is_some() => ClientAuth::RequireAndVerifyClientCert,
        None => ClientAuth::NoClientCert,
        Some(text) => ClientAuth::parse(text)?,
    };
    if client_auth == ClientAuth::NoClientCert && client_ca.is_some() {
        return Err(WebConfigError::invalid(
            ClientAuth::KEY,
            "client_ca_file is set but client_auth_type is NoClientCert; set \
             VerifyClientCertIfGiven or RequireAndVerifyClientCert, or remove client_ca_file",
        ));
    }
    if client_auth != ClientAuth::NoClientCert && client_ca.is_none() {
        return Err(WebConfigError::invalid(
            key("client_ca_file"),
            format!("required when client_auth_type is {}", client_auth.as_str()),
        ));
    }
    let client_allowed_sans = raw
        .client_allowed_sans
        .unwrap_or_default()
        .iter()
        .map(|entry| AllowedSan::parse(entry))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| WebConfigError::invalid(key("client_allowed_sans"), message))?;
    if !client_allowed_sans.is_empty() && client_auth != ClientAuth::RequireAndVerifyClientCert {
        return Err(WebConfigError::invalid(
            key("client_allowed_sans"),
            format!(
                "needs client_auth_type RequireAndVerifyClientCert (is {}): without a required, \
                 verified certificate there is nothing to match",
                client_auth.as_str()
            ),
        ));
    }
    let min_version = match raw.min_version.as_deref() {
        None | Some("") => TlsVersion::Tls12,
        Some(text) => TlsVersion::parse(&key("min_version"), text)?,
    };
    let max_version = match raw.max_version.as_deref() {
        None | Some("") => TlsVersion::Tls13,
        Some(text) => TlsVersion::parse(&key("max_version"), text)?,
    };
    if min_version > max_version {
        return Err(WebConfigError::invalid(
            key("max_version"),
            "is lower than min_version",
        ));
    }
    let tls12_suites = validate_suites(raw.cipher_suites.unwrap_or_default(), min_version)?;
    let curves = match raw.curve_preferences.unwrap_or_default() {
        names if names.is_empty() => None,
        names => Some(
            names
                .iter()
                .map(|name| tls_names::curve(name))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| WebConfigError::invalid(key("curve_preferences"), message))?,
        ),
    };
    Ok(TlsSpec {
        cert,
        key: private_key,
        client_ca,
        client_auth,
        client_allowed_sans,
        min_version,
        max_version,
        tls12_suites,
        curves,
        prefer_server_cipher_suites: raw.prefer_server_cipher_suites.unwrap_or(true),
    })
}

/// The TLS 1.2 suites of `cipher_suites`, or `None` (rustls' defaults) for an empty list, as in
/// Go.
fn validate_suites(
    names: Vec<String>,
    min_version: TlsVersion,
) -> Result<Option<Vec<CipherSuite>>, WebConfigError> {
    const KEY: &str = "tls_server_config.cipher_suites";
    if names.is_empty() {
        return Ok(None);
    }
    let mut tls12 = Vec::new();
    for name in &names {
        match tls_names::cipher_suite(name) {
            Ok(SuiteName::Tls12(suite)) if !tls12.contains(&suite) => tls12.push(suite),
            Ok(_) => {}
            Err(message) => return Err(WebConfigError::invalid(KEY, message)),
        }
    }
    if tls12.is_empty() && min_version == TlsVersion::Tls12 {
        return Err(WebConfigError::invalid(
            KEY,
            "lists no TLS 1.2 suite, so TLS 1.2 clients could not connect; add one, or set \
             min_version: TLS13 (TLS 1.3's suites are not configurable, as in exporter-toolkit)",
        ));
    }
    Ok(Some(tls12))
}

fn validate_headers(
    headers: BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, WebConfigError> {
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let key = format!("http_server_config.headers.{name}");
        let Some((_, allowed)) = HEADERS.iter().find(|(known, _)| *known == name) else {
            return Err(WebConfigError::invalid(
                key,
                format!(
                    "this header cannot be configured; exporter-toolkit allows {}",
                    HEADERS
                        .iter()
                        .map(|(known, _)| *known)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(WebConfigError::invalid(
                key,
                format!("{value:?} is not one of {}", allowed.join(", ")),
            ));
        }
        let header_value = HeaderValue::from_str(&value).map_err(|_| {
            WebConfigError::invalid(&key, "not a valid HTTP header value (control characters?)")
        })?;
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| WebConfigError::invalid(&key, "not a valid header name"))?;
        out.push((header_name, header_value));
    }
    Ok(out)
}

/// `(interval, burst)`, or `None` without an interval (as in the toolkit, where a zero interval
/// means no limit).
fn validate_rate_limit(raw: RawRateLimit) -> Result<Option<(Duration, u32)>, WebConfigError> {
    let interval = raw.interval.unwrap_or(Duration::ZERO);
    if interval.is_zero() {
        return Ok(None);
    }
    match raw.burst.unwrap_or(0) {
        0 => Err(WebConfigError::invalid(
            "rate_limit.burst",
            "must be at least 1 with an interval (with 0 every request would be refused)",
        )),
        burst => Ok(Some((interval, burst))),
    }
}

fn validate_excluded_paths(paths: Vec<String>) -> Result<Vec<String>, WebConfigError> {
    for (index, path) in paths.iter().enumerate() {
        if !path.starts_with('/') {
            return Err(WebConfigError::invalid(
                format!("auth_excluded_paths[{index}]"),
                format!("{path:?} must be a path starting with /"),
            ));
        }
    }
    Ok(paths)
}

fn validate_users(
    users: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, WebConfigError> {
    for (user, hash) in &users {
        let key = format!("basic_auth_users.{user}");
        if user.is_empty() || user.contains(':') {
            return Err(WebConfigError::invalid(
                key,
                "a user name must be non-empty and cannot contain ':'",
            ));
        }
        // Never echo the hash: it is a password equivalent for offline guessing.
        hash.parse::<bcrypt::HashParts>().map_err(|_| {
            WebConfigError::invalid(
                key,
                "not a bcrypt hash (expected $2a$, $2b$ or $2y$, a cost and 53 characters; \
                 make one with `htpasswd -nbBC 10 USER PASSWORD`)",
            )
        })?;
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";

    fn parsed(yaml: &str) -> Result<Spec, String> {
        parse(yaml, Path::new("/etc/exporter")).map_err(|e| e.to_string())
    }

    fn refused(yaml: &str, key: &str, words: &str) {
        let err = parsed(yaml).expect_err("must be refused");
        assert!(
            err.starts_with(&format!("{key}: ")),
            "expected {key}: {err}"
        );
        assert!(err.contains(words), "expected {words:?} in {err}");
    }

    /// A web config with every exporter-toolkit key, as one might copy it from node_exporter.
    #[test]
    fn every_toolkit_key_is_accepted() {
        let spec = parsed(
            "tls_server_config:
  cert_file: server.pem
  key_file: server-key.pem
  client_ca_file: ca.pem
  client_auth_type: RequireAndVerifyClientCert
  client_allowed_sans: [prometheus.example, 10.0.0.7, 'spiffe://cluster/prometheus']
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
  curve_preferences: [X25519, CurveP256]
http_server_config:
  http2: false
  headers:
    Content-Security-Policy: default-src 'self'
    Strict-Transport-Security: max-age=31536000
    X-Content-Type-Options: nosniff
    X-Frame-Options: deny
    X-XSS-Protection: 1; mode=block
rate_limit:
  interval: 1s
  burst: 10
basic_auth_users:
  prometheus: $2y$10$X0Wk5pQvBNy0GqOxV3sRjeyhaAr5ra.5XJ4Jv6u1y1bUcbKzN4Ib6
auth_excluded_paths: [/metrics]
",
        )
        .unwrap();
        let tls = spec.tls.expect("tls");
        assert_eq!(tls.cert, Pem::File("/etc/exporter/server.pem".into()));
        assert_eq!(
            tls.tls12_suites,
            Some(vec![CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256])
        );
        assert!(!tls.prefer_server_cipher_suites);
        assert_eq!(tls.client_allowed_sans.len(), 3);
        assert_eq!(spec.headers.len(), 5);
        assert_eq!(spec.http2, Some(false));
        assert_eq!(spec.rate_limit, Some((Duration::from_secs(1), 10)));
        assert_eq!(spec.excluded_paths, ["/metrics"]);
    }

    #[test]
    fn server_preference_is_the_toolkits_default() {
        assert!(
            parsed(CERT)
                .unwrap()
                .tls
                .unwrap()
                .prefer_server_cipher_suites
        );
    }

    #[test]
    fn inline_pems_replace_their_files_but_not_both() {
        let spec = parsed(
            "tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n  key_file: k.pem\n",
        )
        .unwrap();
        assert!(matches!(spec.tls.unwrap().cert, Pem::Inline(_)));
        refused(
            "tls_server_config:\n  cert: x\n  cert_file: c.pem\n  key_file: k.pem\n",
            "tls_server_config.cert_file",
            "both set",
        );
        refused(
            "tls_server_config:\n  cert_file: c.pem\n",
            "tls_server_config.key_file",
            "missing",
        );
    }

    #[test]
    fn suites_rustls_lacks_are_refused_with_the_reason() {
        refused(
            &format!("{CERT}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n"),
            "tls_server_config.cipher_suites",
            "CBC",
        );
        refused(
            &format!("{CERT}  cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]\n"),
            "tls_server_config.cipher_suites",
            "RSA key exchange",
        );
        refused(
            &format!("{CERT}  cipher_suites: [NOT_A_SUITE]\n"),
            "tls_server_config.cipher_suites",
            "unknown cipher suite",
        );
        // Only TLS 1.3 names while TLS 1.2 is allowed: TLS 1.2 clients would find nothing.
        refused(
            &format!("{CERT}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"),
            "tls_server_config.cipher_suites",
            "no TLS 1.2 suite",
        );
        assert!(parsed(&format!(
            "{CERT}  min_version: TLS13\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"
        ))
        .is_ok());
    }

    #[test]
    fn curves_rustls_lacks_are_refused_with_the_reason() {
        refused(
            &format!("{CERT}  curve_preferences: [CurveP521]\n"),
            "tls_server_config.curve_preferences",
            "P-521",
        );
        refused(
            &format!("{CERT}  curve_preferences: [secp256r1]\n"),
            "tls_server_config.curve_preferences",
            "unknown curve",
        );
    }

    #[test]
    fn allowed_sans_need_a_required_verified_certificate_and_no_emails() {
        let with_ca = format!("{CERT}  client_ca_file: ca.pem\n");
        refused(
            &format!(
                "{with_ca}  client_auth_type: VerifyClientCertIfGiven\n  client_allowed_sans: [a.example]\n"
            ),
            "tls_server_config.client_allowed_sans",
            "RequireAndVerifyClientCert",
        );
        refused(
            &format!("{with_ca}  client_allowed_sans: [ops@example.com]\n"),
            "tls_server_config.client_allowed_sans",
            "e-mail",
        );
    }

    #[test]
    fn only_the_toolkits_headers_with_their_values() {
        refused(
            "http_server_config:\n  headers:\n    Server: exporter\n",
            "http_server_config.headers.Server",
            "cannot be configured",
        );
        refused(
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "http_server_config.headers.X-Frame-Options",
            "deny, sameorigin",
        );
        refused(
            "http_server_config:\n  headers:\n    Content-Security-Policy: \"a\\nb\"\n",
            "http_server_config.headers.Content-Security-Policy",
            "not a valid HTTP header value",
        );
    }

    #[test]
    fn http2_true_is_accepted() {
        assert_eq!(
            parsed("http_server_config:\n  http2: true\n")
                .unwrap()
                .http2,
            Some(true)
        );
    }

    #[test]
    fn a_rate_limit_needs_a_burst_and_no_interval_means_none() {
        refused(
            "rate_limit:\n  interval: 1s\n",
            "rate_limit.burst",
            "at least 1",
        );
        assert_eq!(
            parsed("rate_limit:\n  burst: 5\n").unwrap().rate_limit,
            None
        );
        refused(
            "rate_limit:\n  interval: soon\n  burst: 1\n",
            "rate_limit.interval",
            "",
        );
    }

    #[test]
    fn excluded_paths_are_paths() {
        refused(
            "auth_excluded_paths: [metrics]\n",
            "auth_excluded_paths[0]",
            "starting with /",
        );
    }
}
