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
use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use serde::{de, Deserialize, Deserializer};
use tokio_rustls::rustls::CipherSuite;

use super::client_sans::AllowedSan;
use super::error::WebConfigError;
use super::tls::{ClientAuth, Pem, TlsSpec, TlsVersion};
use super::tls_names::{Curve, SuiteName};
use crate::config::{yaml_error, Secret};

/// The web config as written, each value typed as it is read: an unknown name or a malformed
/// hash is refused by the deserializer, naming its key.
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
    basic_auth_users: Option<BTreeMap<String, BcryptHash>>,
    #[serde(default)]
    auth_excluded_paths: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<Secret>,
    key: Option<Secret>,
    client_ca: Option<Secret>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca_file: Option<String>,
    #[serde(default, deserialize_with = "named")]
    client_auth_type: Option<ClientAuth>,
    #[serde(default, deserialize_with = "each_named")]
    client_allowed_sans: Option<Vec<AllowedSan>>,
    #[serde(default, deserialize_with = "named")]
    min_version: Option<TlsVersion>,
    #[serde(default, deserialize_with = "named")]
    max_version: Option<TlsVersion>,
    #[serde(default, deserialize_with = "each_named")]
    cipher_suites: Option<Vec<SuiteName>>,
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default, deserialize_with = "each_named")]
    curve_preferences: Option<Vec<Curve>>,
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

/// A name read with its `FromStr`; an empty string is no value, as in exporter-toolkit.
fn named<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if !text.is_empty() => text.parse().map(Some).map_err(de::Error::custom),
        _ => Ok(None),
    }
}

/// A list of names, each read with its `FromStr`. The error is the list's: the key names it,
/// and the message the entry.
fn each_named<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    Option::<Vec<String>>::deserialize(deserializer)?
        .map(|names| {
            names
                .iter()
                .map(|name| name.parse().map_err(de::Error::custom))
                .collect()
        })
        .transpose()
}

/// A bcrypt hash from `basic_auth_users`: a [`Secret`] (a password equivalent for offline
/// guessing), checked to be a bcrypt hash as it is read and never echoed.
#[derive(Debug, Clone)]
pub(super) struct BcryptHash(Secret);

impl BcryptHash {
    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl<'de> Deserialize<'de> for BcryptHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let hash = Secret::deserialize(deserializer)?;
        hash.expose().parse::<bcrypt::HashParts>().map_err(|_| {
            de::Error::custom(
                "not a bcrypt hash (expected $2a$, $2b$ or $2y$, a cost and 53 characters; \
                 make one with `htpasswd -nbBC 10 USER PASSWORD`)",
            )
        })?;
        Ok(Self(hash))
    }
}

/// A validated web config.
#[derive(Debug, Default)]
pub(super) struct Spec {
    pub tls: Option<TlsSpec>,
    /// User name → bcrypt hash.
    pub users: BTreeMap<String, BcryptHash>,
    pub excluded_paths: Vec<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `Some(true)` when the file asks for HTTP/2, which is not served.
    pub http2: Option<bool>,
    /// `(interval, burst)`.
    pub rate_limit: Option<(Duration, u32)>,
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
        let message = yaml_error::message_at(err.inner(), &key);
        WebConfigError::invalid(key, message)
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
    inline: Option<Secret>,
    file_key: &str,
    file: Option<String>,
    base: &Path,
    required: bool,
) -> Result<Option<Pem>, WebConfigError> {
    let inline = inline.filter(|v| !v.expose().trim().is_empty());
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

/// The checks across keys: one PEM of each pair, a client CA that goes with the client-auth
/// policy, versions in order, suites TLS 1.2 clients can use.
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
    let client_auth = match raw.client_auth_type {
        Some(client_auth) => client_auth,
        // As in the toolkit: a client CA without a policy means "require and verify".
        None if client_ca.is_some() => ClientAuth::RequireAndVerifyClientCert,
        None => ClientAuth::NoClientCert,
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
    let client_allowed_sans = raw.client_allowed_sans.unwrap_or_default();
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
    let min_version = raw.min_version.unwrap_or(TlsVersion::Tls12);
    let max_version = raw.max_version.unwrap_or(TlsVersion::Tls13);
    if min_version > max_version {
        return Err(WebConfigError::invalid(
            key("max_version"),
            "is lower than min_version",
        ));
    }
    let tls12_suites = validate_suites(raw.cipher_suites.unwrap_or_default(), min_version)?;
    let curves = raw
        .curve_preferences
        .filter(|curves| !curves.is_empty())
        .map(|curves| curves.into_iter().map(|Curve(group)| group).collect());
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
    names: Vec<SuiteName>,
    min_version: TlsVersion,
) -> Result<Option<Vec<CipherSuite>>, WebConfigError> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut tls12 = Vec::new();
    for name in names {
        if let SuiteName::Tls12(suite) = name {
            if !tls12.contains(&suite) {
                tls12.push(suite);
            }
        }
    }
    if tls12.is_empty() && min_version == TlsVersion::Tls12 {
        return Err(WebConfigError::invalid(
            "tls_server_config.cipher_suites",
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

/// User names: the hashes were checked as they were read.
fn validate_users(
    users: BTreeMap<String, BcryptHash>,
) -> Result<BTreeMap<String, BcryptHash>, WebConfigError> {
    if let Some(user) = users
        .keys()
        .find(|user| user.is_empty() || user.contains(':'))
    {
        return Err(WebConfigError::invalid(
            format!("basic_auth_users.{user}"),
            "a user name must be non-empty and cannot contain ':'",
        ));
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

    #[test]
    fn a_value_refused_as_it_is_read_names_its_key_once_without_a_position() {
        for (yaml, key) in [
            (
                format!("{CERT}  min_version: TLS10\n"),
                "tls_server_config.min_version",
            ),
            (
                format!("{CERT}  client_auth_type: Maybe\n"),
                "tls_server_config.client_auth_type",
            ),
            (
                format!("{CERT}  cipher_suites: [TLS_AES_128_GCM_SHA256, NOPE]\n"),
                "tls_server_config.cipher_suites",
            ),
            (
                "basic_auth_users:\n  alice: plain\n".to_owned(),
                "basic_auth_users.alice",
            ),
            (
                "rate_limit:\n  interval: soon\n  burst: 1\n".to_owned(),
                "rate_limit.interval",
            ),
        ] {
            let err = parsed(&yaml).expect_err("must be refused");
            let message = err
                .strip_prefix(&format!("{key}: "))
                .unwrap_or_else(|| panic!("expected {key}: {err}"));
            let section = key.split(['.', '[']).next().unwrap_or(key);
            assert!(!message.contains(section), "the key twice: {err}");
            assert!(!message.contains(" at line "), "a position: {err}");
        }
    }
}
