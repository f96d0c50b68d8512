//! Fixtures for the web-config tests (`tests/web.rs`, `tests/e2e_web.rs`, `tests/compression.rs`):
//! a throw-away PKI made with rcgen in a temp dir, HTTPS clients that trust it, web-config
//! sections, and the exporter's own server on a free port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codearts_repo_exporter::app::App;
use codearts_repo_exporter::config::ServerConfig;
use codearts_repo_exporter::http::{router, server::serve, web_config::WebConfig};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};

/// A test CA and the files of certificates it signed.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM and DER.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "codearts-repo-exporter test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write CA");
        Self { dir, ca }
    }

    /// A new PKI with a server certificate for `common_name` (serial 1) installed.
    pub fn with_server_cert(common_name: &str) -> Self {
        let pki = Self::new();
        pki.install_server_cert(&pki.server_cert(common_name, 1));
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server_cert(&self, common_name: &str, serial: u64) -> Issued {
        self.issue(
            common_name,
            serial,
            vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    pub fn client_cert(&self, common_name: &str) -> Issued {
        self.issue(common_name, 99, vec![], ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A client certificate with these Subject Alternative Names (DNS names, or IP addresses).
    pub fn client_cert_with_sans(&self, common_name: &str, sans: &[&str]) -> Issued {
        let names = sans.iter().map(|s| s.to_string()).collect();
        self.issue(common_name, 98, names, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(
        &self,
        common_name: &str,
        serial: u64,
        names: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Issued {
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.ca).expect("sign");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// Writes `issued` as `server.pem` / `server-key.pem`, each by rename so that a reader
    /// never sees half a file.
    pub fn install_server_cert(&self, issued: &Issued) {
        write_atomically(&self.path("server-key.pem"), &issued.key_pem);
        write_atomically(&self.path("server.pem"), &issued.cert_pem);
    }
}

pub fn write_atomically(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).expect("write");
    std::fs::rename(&temp, path).expect("rename");
}

/// A client that trusts only the test CA, opens a fresh connection per client, and reports
/// the peer certificate.
pub fn https_client(pki: &Pki, identity: Option<&Issued>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).expect("CA cert");
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(10));
    if let Some(issued) = identity {
        let pem = format!("{}{}", issued.cert_pem, issued.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    builder.build().expect("client")
}

/// A web config's `tls_server_config` serving the PKI's `server.pem` and `server-key.pem`.
pub const TLS_ONLY: &str =
    "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n";

/// A web config's `basic_auth_users` with `user` and a bcrypt hash of `password`.
pub fn users_yaml(user: &str, password: &str) -> String {
    // Cost 4 keeps the test fast; production hashes use 10 or more.
    let hash = bcrypt::hash(password, 4).unwrap();
    format!("basic_auth_users:\n  {user}: '{hash}'\n")
}

/// The exporter's server, running; stops (and drains) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// `<scheme>://<addr><path>`.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }
}

/// `app`'s router served on a free port with `limits` and, when given, the web config at
/// `web_config`.
pub async fn serve_app(app: Arc<App>, limits: &ServerConfig, web_config: Option<&Path>) -> Server {
    let web = web_config.map(|path| Arc::new(WebConfig::load(path).expect("web config")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(
        listener,
        router(app, "/metrics"),
        limits,
        web,
        stop_rx,
    ));
    Server { addr, _stop: stop }
}

/// The minimal exporter config the web tests need; the upstream is unreachable on purpose
/// (`/metrics` still answers 200), plus an optional `server:` section body.
pub fn exporter_config(server: &str) -> String {
    let mut yaml = "codearts:\n  endpoint: http://127.0.0.1:9\n  auth:\n    token: t\nrepositories:\n  - id: 1\nscrape:\n  retries: 0\n".to_owned();
    if !server.is_empty() {
        yaml.push_str("server:\n");
        yaml.push_str(server);
    }
    yaml
}
