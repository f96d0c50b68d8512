//! The `--web.config.file`, in the Prometheus exporter-toolkit format: TLS, HTTP response
//! headers, a request rate limit and basic auth ([`spec`] lists every key and what it does
//! here), loaded and validated at start, and re-read while running so that rotated certificates
//! and changed users apply without a restart.
//!
//! Re-reading: at most once per second, on a new TLS handshake or a request, the web config file
//! and the files it names are `stat`ed (device, inode, size, mtime); when any changed,
//! everything is re-read and validated and the result swapped in. A broken new version is
//! logged and the last good one kept: a half-written rotation never drops the server to plain
//! HTTP or locks everybody out. Whether TLS is on at all is fixed at start, for the same reason.

mod client_sans;
mod error;
mod rate_limit;
mod spec;
mod tls;
mod tls_names;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::http::{HeaderName, HeaderValue};
use tokio_rustls::rustls::ServerConfig;

pub(crate) use error::WebConfigError;
use rate_limit::RequestLimit;
use spec::{BcryptHash, Spec};
use tls::TlsSpec;

use crate::watched_file::{Stamp, Throttle};

/// A validated web config and what was built from it.
#[derive(Debug)]
pub(crate) struct Loaded {
    tls_spec: Option<TlsSpec>,
    /// `None` without `tls_server_config`.
    tls: Option<Arc<ServerConfig>>,
    /// User name → bcrypt hash.
    users: BTreeMap<String, BcryptHash>,
    excluded_paths: BTreeSet<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    limit: Option<RequestLimit>,
    /// The files as they were just before they were read (the web config file first).
    stamps: Vec<Option<Stamp>>,
    /// `http_server_config.http2: true`, accepted but not served.
    http2_asked: bool,
}

impl Loaded {
    /// The bcrypt hash of `user`.
    pub(crate) fn hash_of(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(BcryptHash::expose)
    }

    /// Some configured hash, for spending the same bcrypt time on unknown users.
    pub(crate) fn any_hash(&self) -> Option<&str> {
        self.users.values().next().map(BcryptHash::expose)
    }

    pub(crate) fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether `path` is answered without basic auth (`auth_excluded_paths`).
    pub(crate) fn auth_excluded(&self, path: &str) -> bool {
        self.excluded_paths.contains(path)
    }

    /// The `http_server_config.headers` to set on every answer.
    pub(crate) fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Takes a token of `rate_limit`; `true` without one.
    pub(crate) fn admit(&self) -> bool {
        self.limit.as_ref().is_none_or(RequestLimit::try_acquire)
    }

    fn load(path: &Path) -> Result<Self, WebConfigError> {
        let web_stamp = Stamp::of(path).ok();
        let spec = read_spec(path)?;
        let mut stamps = vec![web_stamp];
        if let Some(tls) = &spec.tls {
            stamps.extend(Stamp::of_all(tls.files()));
        }
        let tls = spec.tls.as_ref().map(TlsSpec::build).transpose()?;
        Ok(Self {
            tls,
            tls_spec: spec.tls,
            users: spec.users,
            excluded_paths: spec.excluded_paths.into_iter().collect(),
            headers: spec.headers,
            limit: spec
                .rate_limit
                .map(|(interval, burst)| RequestLimit::new(interval, burst)),
            stamps,
            http2_asked: spec.http2 == Some(true),
        })
    }

    /// What is worth a warning in this config, one sentence each.
    fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.http2_asked {
            warnings.push(
                "http_server_config.http2: true is accepted, but only HTTP/1.1 is served: \
                 TLS clients are offered http/1.1 (ALPN) and use it"
                    .to_owned(),
            );
        }
        if self.tls.is_none() && self.requires_auth() {
            warnings.push(
                "basic auth without TLS: passwords cross the network in clear text".to_owned(),
            );
        }
        warnings
    }

    fn current_stamps(&self, path: &Path) -> Vec<Option<Stamp>> {
        let mut paths = vec![path];
        if let Some(spec) = &self.tls_spec {
            paths.extend(spec.files());
        }
        Stamp::of_all(paths)
    }
}

/// Reads and validates the web config at `path`, without the files it names.
fn read_spec(path: &Path) -> Result<Spec, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    spec::parse(&text, path.parent().unwrap_or(Path::new(".")))
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

    /// What is worth a warning in the config in force, one sentence each (basic auth without
    /// TLS, HTTP/2 asked for). The start logs them, `--config.check` prints them, and a re-read
    /// logs those of the new version.
    pub fn warnings(&self) -> Vec<String> {
        self.current.load().warnings()
    }

    /// Reads and validates the web config at `path` without reading the files it names
    /// (`--config.check-syntax-only`); returns its summary.
    pub fn check_syntax(path: &Path) -> Result<String, WebConfigError> {
        let spec = read_spec(path)?;
        let limit = spec
            .rate_limit
            .map(|(interval, burst)| RequestLimit::new(interval, burst));
        Ok(summary(
            spec.tls.as_ref(),
            spec.users.len(),
            spec.headers.len(),
            limit.as_ref(),
        ))
    }

    /// One line for the start-up log; names no secret.
    pub fn summary(&self) -> String {
        let loaded = self.current.load();
        summary(
            loaded.tls_spec.as_ref(),
            loaded.users.len(),
            loaded.headers.len(),
            loaded.limit.as_ref(),
        )
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
                for warning in self.warnings() {
                    tracing::warn!(path = %self.path.display(), "{warning}");
                }
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

fn summary(
    tls: Option<&TlsSpec>,
    users: usize,
    headers: usize,
    limit: Option<&RequestLimit>,
) -> String {
    let mut line = match tls {
        Some(spec) => format!(
            "tls=on client_auth_type={} min_version={:?} max_version={:?}",
            spec.client_auth.as_str(),
            spec.min_version,
            spec.max_version
        ),
        None => "tls=off".to_owned(),
    };
    line.push_str(&format!(" basic_auth_users={users}"));
    if headers > 0 {
        line.push_str(&format!(" headers={headers}"));
    }
    if let Some(limit) = limit {
        line.push_str(&format!(" rate_limit=\"{}\"", limit.describe()));
    }
    line
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
        let err = error_of("basic_auth_users: {}\nip_socket_config:\n  dscp: 46\n");
        assert!(
            err.starts_with("ip_socket_config: ")
                && err.contains("unknown field `ip_socket_config`"),
            "{err}"
        );
        let err =
            error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suite: []\n");
        assert!(
            err.starts_with("tls_server_config.cipher_suite: ")
                && err.contains("unknown field `cipher_suite`"),
            "{err}"
        );
        let err = error_of("http_server_config:\n  http3: false\n");
        assert!(
            err.starts_with("http_server_config.http3: ") && err.contains("unknown field `http3`"),
            "{err}"
        );
    }

    #[test]
    fn debug_shows_neither_an_inline_key_nor_a_password_hash() {
        let pki_key =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
        let spec = spec::parse(
            &format!(
                "tls_server_config:\n  cert_file: c.pem\n  key: |\n    {}\nbasic_auth_users:\n  alice: '{}'\n",
                pki_key.trim_end().replace('\n', "\n    "),
                "$2y$10$X0Wk5pQvBNy0GqOxV3sRjeyhaAr5ra.5XJ4Jv6u1y1bUcbKzN4Ib6"
            ),
            Path::new("/etc"),
        )
        .unwrap();
        let shown = format!("{spec:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(!shown.contains("$2y$"), "{shown}");
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
