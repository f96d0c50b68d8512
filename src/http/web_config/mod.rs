//! The `--web.config.file`: TLS and basic auth in the Prometheus exporter-toolkit format
//! (`tls_server_config`, `basic_auth_users`), loaded and validated at start, and re-read while
//! running so that rotated certificates and changed users apply without a restart.
//!
//! Re-reading: at most once per second, on a new TLS handshake or an authenticated request, the
//! web config file and the files it names are `stat`ed (device, inode, size, mtime); when any
//! changed, everything is re-read and validated and the result swapped in. A broken new version
//! is logged and the last good one kept: a half-written rotation never drops the server to
//! plain HTTP or locks everybody out. Whether TLS is on at all is fixed at start, for the same
//! reason.
//!
//! Not supported (an error naming the key, like any unknown key): `http_server_config`,
//! `rate_limit`, `cipher_suites`, `curve_preferences`, inline `cert`/`key`, TLS 1.0/1.1.

mod error;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Deserialize;
use tokio_rustls::rustls::ServerConfig;

pub use error::WebConfigError;
use tls::{ClientAuth, TlsSpec, TlsVersion};

use crate::watched_file::{Stamp, Throttle};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca_file: Option<String>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// A validated web config and what was built from it.
#[derive(Debug)]
pub(crate) struct Loaded {
    tls_spec: Option<TlsSpec>,
    /// `None` without `tls_server_config`.
    tls: Option<Arc<ServerConfig>>,
    /// User name → bcrypt hash.
    users: BTreeMap<String, String>,
    /// The files as they were just before they were read (the web config file first).
    stamps: Vec<Option<Stamp>>,
}

impl Loaded {
    /// The bcrypt hash of `user`.
    pub(crate) fn hash_of(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// Some configured hash, for spending the same bcrypt time on unknown users.
    pub(crate) fn any_hash(&self) -> Option<&str> {
        self.users.values().next().map(String::as_str)
    }

    pub(crate) fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    fn load(path: &Path) -> Result<Self, WebConfigError> {
        let web_stamp = Stamp::of(path).ok();
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let raw = parse(&text)?;
        let tls_spec = raw
            .tls_server_config
            .map(|tls| validate_tls(tls, base))
            .transpose()?;
        let users = validate_users(raw.basic_auth_users.unwrap_or_default())?;
        let mut stamps = vec![web_stamp];
        if let Some(spec) = &tls_spec {
            stamps.extend(Stamp::of_all(spec.files()));
        }
        let tls = tls_spec.as_ref().map(TlsSpec::build).transpose()?;
        Ok(Self {
            tls_spec,
            tls,
            users,
            stamps,
        })
    }

    fn current_stamps(&self, path: &Path) -> Vec<Option<Stamp>> {
        let mut paths = vec![path];
        if let Some(spec) = &self.tls_spec {
            paths.extend(spec.files());
        }
        Stamp::of_all(paths)
    }
}

/// The running web config; cheap to share, safe to use from every connection.
#[derive(Debug)]
pub struct WebConfig {
    path: PathBuf,
    tls_enabled: bool,
    current: ArcSwap<Loaded>,
    refresh: Mutex<Refresh>,
}

#[derive(Debug)]
struct Refresh {
    throttle: Throttle,
    /// The last reload error logged, so a file that stays broken is not logged every second.
    last_error: Option<String>,
}

impl WebConfig {
    /// Reads and validates the web config at `path` and the files it names.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let loaded = Loaded::load(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            tls_enabled: loaded.tls.is_some(),
            current: ArcSwap::from_pointee(loaded),
            refresh: Mutex::new(Refresh {
                throttle: Throttle::new(),
                last_error: None,
            }),
        })
    }

    /// Whether listeners serve HTTPS. Fixed for the life of the process.
    pub fn tls_enabled(&self) -> bool {
        self.tls_enabled
    }

    /// Whether basic auth is asked for now (users may be added to the file later).
    pub fn basic_auth_enabled(&self) -> bool {
        self.current.load().requires_auth()
    }

    /// Reads and validates the web config at `path` without reading the files it names
    /// (`--config.check-syntax-only`); returns its summary.
    pub fn check_syntax(path: &Path) -> Result<String, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let raw = parse(&text)?;
        let tls_spec = raw
            .tls_server_config
            .map(|tls| validate_tls(tls, base))
            .transpose()?;
        let users = validate_users(raw.basic_auth_users.unwrap_or_default())?;
        Ok(summary(tls_spec.as_ref(), users.len()))
    }

    /// One line for the start-up log; names no secret.
    pub fn summary(&self) -> String {
        let loaded = self.current.load();
        summary(loaded.tls_spec.as_ref(), loaded.users.len())
    }

    /// The TLS server config to use for a new handshake, after checking for rotated files.
    pub(crate) fn tls(&self) -> Option<Arc<ServerConfig>> {
        self.current().tls.clone()
    }

    /// The current config, after checking for changed files.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.refresh_if_due();
        self.current.load_full()
    }

    /// Re-reads everything when a file changed; keeps the last good config on any error.
    /// Blocking file I/O, but only `stat` calls on small local files, at most once a second,
    /// and only one caller at a time does it (the others use the current config).
    fn refresh_if_due(&self) {
        let Ok(mut refresh) = self.refresh.try_lock() else {
            return;
        };
        if !refresh.throttle.due() {
            return;
        }
        let current = self.current.load();
        if current.current_stamps(&self.path) == current.stamps {
            return;
        }
        let result = Loaded::load(&self.path).and_then(|next| {
            if next.tls.is_some() == self.tls_enabled {
                Ok(next)
            } else {
                Err(WebConfigError::invalid(
                    "tls_server_config",
                    "adding or removing TLS needs a restart",
                ))
            }
        });
        match result {
            Ok(next) => {
                self.current.store(Arc::new(next));
                refresh.last_error = None;
                tracing::info!(path = %self.path.display(), summary = %self.summary(), "web config reloaded");
            }
            Err(err) => {
                let message = err.to_string();
                if refresh.last_error.as_deref() != Some(message.as_str()) {
                    tracing::error!(path = %self.path.display(), error = %message,
                        "web config: keeping the last good configuration");
                    refresh.last_error = Some(message);
                }
            }
        }
    }
}

fn summary(tls: Option<&TlsSpec>, users: usize) -> String {
    let tls = match tls {
        Some(spec) => format!(
            "tls=on client_auth_type={} min_version={:?} max_version={:?}",
            spec.client_auth.as_str(),
            spec.min_version,
            spec.max_version
        ),
        None => "tls=off".to_owned(),
    };
    format!("{tls} basic_auth_users={users}")
}

fn parse(text: &str) -> Result<RawWebConfig, WebConfigError> {
    // An empty file (or one holding only comments) means "no TLS, no auth", as in the toolkit.
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
        .map_err(|err| WebConfigError::invalid("web config", format!("invalid YAML: {err}")))?;
    if value.is_null() {
        return Ok(RawWebConfig::default());
    }
    serde_path_to_error::deserialize(serde_yaml_ng::Deserializer::from_str(text)).map_err(|err| {
        let key = err.path().to_string();
        let key = if key == "." {
            "web config".to_owned()
        } else {
            key
        };
        WebConfigError::invalid(key, err.into_inner().to_string())
    })
}

fn validate_tls(raw: RawTls, base: &Path) -> Result<TlsSpec, WebConfigError> {
    let resolve = |key: &str, value: Option<String>| -> Result<PathBuf, WebConfigError> {
        match value {
            Some(v) if !v.trim().is_empty() => Ok(base.join(v)),
            _ => Err(WebConfigError::invalid(
                key,
                "missing: a PEM file is required",
            )),
        }
    };
    let cert_file = resolve("tls_server_config.cert_file", raw.cert_file)?;
    let key_file = resolve("tls_server_config.key_file", raw.key_file)?;
    let client_ca_file = match raw.client_ca_file {
        Some(v) if !v.trim().is_empty() => Some(base.join(v)),
        _ => None,
    };
    let client_auth = match raw.client_auth_type.as_deref() {
        // As in the toolkit: a client CA without a policy means "require and verify".
        None | Some("") if client_ca_file.is_some() => ClientAuth::RequireAndVerifyClientCert,
        None => ClientAuth::NoClientCert,
        Some(text) => ClientAuth::parse(text)?,
    };
    if client_auth == ClientAuth::NoClientCert && client_ca_file.is_some() {
        return Err(WebConfigError::invalid(
            ClientAuth::KEY,
            "client_ca_file is set but client_auth_type is NoClientCert; set \
             VerifyClientCertIfGiven or RequireAndVerifyClientCert, or remove client_ca_file",
        ));
    }
    if client_auth != ClientAuth::NoClientCert && client_ca_file.is_none() {
        return Err(WebConfigError::invalid(
            "tls_server_config.client_ca_file",
            format!("required when client_auth_type is {}", client_auth.as_str()),
        ));
    }
    let min_version = match raw.min_version.as_deref() {
        None | Some("") => TlsVersion::Tls12,
        Some(text) => TlsVersion::parse("tls_server_config.min_version", text)?,
    };
    let max_version = match raw.max_version.as_deref() {
        None | Some("") => TlsVersion::Tls13,
        Some(text) => TlsVersion::parse("tls_server_config.max_version", text)?,
    };
    if min_version > max_version {
        return Err(WebConfigError::invalid(
            "tls_server_config.max_version",
            "is lower than min_version",
        ));
    }
    Ok(TlsSpec {
        cert_file,
        key_file,
        client_ca_file,
        client_auth,
        min_version,
        max_version,
    })
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

    fn error_of(yaml: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        WebConfig::load(&path).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_means_no_tls_and_no_auth() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "# nothing yet\n").unwrap();
        let web = WebConfig::load(&path).unwrap();
        assert!(!web.tls_enabled());
        assert!(!web.current().requires_auth());
    }

    #[test]
    fn unknown_keys_are_named_at_any_level() {
        let err = error_of("basic_auth_users: {}\nrate_limit:\n  interval: 1s\n");
        assert!(err.contains("rate_limit"), "{err}");
        let err =
            error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: []\n");
        assert!(err.contains("cipher_suites"), "{err}");
        assert!(err.starts_with("tls_server_config"), "{err}");
        let err = error_of("http_server_config:\n  http2: false\n");
        assert!(err.contains("http_server_config"), "{err}");
    }

    #[test]
    fn unverified_client_cert_modes_are_refused() {
        for mode in ["RequestClientCert", "RequireAnyClientCert"] {
            let err = error_of(&format!(
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n  client_auth_type: {mode}\n"
            ));
            assert!(
                err.starts_with("tls_server_config.client_auth_type: ")
                    && err.contains("not supported"),
                "{err}"
            );
        }
    }

    #[test]
    fn client_verification_needs_a_client_ca() {
        let err = error_of(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
        );
        assert!(
            err.starts_with("tls_server_config.client_ca_file: required"),
            "{err}"
        );
    }

    #[test]
    fn missing_cert_file_is_named_with_its_path() {
        let err = error_of(
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n",
        );
        assert!(
            err.starts_with("tls_server_config.cert_file: cannot read /nonexistent/c.pem: "),
            "{err}"
        );
    }

    #[test]
    fn versions_are_checked() {
        let err =
            error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n");
        assert!(err.starts_with("tls_server_config.min_version: "), "{err}");
        let err = error_of(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n",
        );
        assert!(err.starts_with("tls_server_config.max_version: "), "{err}");
    }

    #[test]
    fn malformed_bcrypt_hash_is_named_but_not_echoed() {
        let err = error_of("basic_auth_users:\n  alice: plain-text-password\n");
        assert!(
            err.starts_with("basic_auth_users.alice: not a bcrypt hash"),
            "{err}"
        );
        assert!(!err.contains("plain-text-password"), "{err}");
    }

    #[test]
    fn user_names_cannot_hold_a_colon() {
        let hash = bcrypt::hash("x", 4).unwrap();
        let err = error_of(&format!("basic_auth_users:\n  'a:b': '{hash}'\n"));
        assert!(err.starts_with("basic_auth_users.a:b: "), "{err}");
    }
}
