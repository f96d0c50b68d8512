//! A throw-away PKI for the tests of the exporter's HTTPS: a test CA made with rcgen in a temp
//! dir, the server and client certificates it signs, HTTPS clients that trust only it, and the
//! pieces of a web config (`--web.config.file`) that use them, and the exporter binary started
//! with such a web config.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};

use crate::procs::{free_port, Proc};

/// A web config's `tls_server_config` serving the PKI's `server.pem` and `server-key.pem`.
pub const TLS_ONLY: &str =
    "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n";

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
    /// A new CA, its certificate written as `ca.pem` in a new temp dir.
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

    /// `name` in the PKI's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA's certificate.
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

    /// A client certificate without Subject Alternative Names.
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

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `text` to `path` by rename, so that a reader never sees half a file.
pub fn write_atomically(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).expect("write");
    std::fs::rename(&temp, path).expect("rename");
}

/// A client that trusts only the test CA, opens a fresh connection per request, and reports
/// the peer certificate; it presents `identity` when given.
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

/// A web config's `basic_auth_users` with `user` and a bcrypt hash of `password`.
pub fn users_yaml(user: &str, password: &str) -> String {
    // Cost 4 keeps the test fast; production hashes use 10 or more.
    let hash = bcrypt::hash(password, 4).expect("bcrypt");
    format!("basic_auth_users:\n  {user}: '{hash}'\n")
}

/// `binary` (the exporter) with `exporter.yml` and `web.yml` of `pki`'s directory.
pub fn web_exporter_command(binary: &str, pki: &Pki) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--config.file")
        .arg(pki.path("exporter.yml"))
        .arg("--web.config.file")
        .arg(pki.path("web.yml"));
    command
}

/// [`web_exporter_command`] running on a free port, its output in `exporter.log` of `pki`'s
/// directory; returns once the port accepts connections (it speaks TLS: no HTTP check).
pub fn start_web_exporter(binary: &str, pki: &Pki) -> (Proc, u16) {
    let port = free_port();
    let mut command = web_exporter_command(binary, pki);
    command.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let mut exporter = Proc::spawn("exporter", &mut command, pki.dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        exporter.assert_running();
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
    (exporter, port)
}
