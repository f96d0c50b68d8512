//! The exporter's own HTTP server: TLS, client certificates, basic auth and certificate
//! rotation from `--web.config.file`, and the `server:` limits (slowloris, idle keep-alive,
//! oversized headers, `max_connections`). Everything runs over real sockets on loopback; the
//! last tests start the binary, which refuses a broken web config with exit 2 and takes a
//! node_exporter web config with every section.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, CipherSuite, NamedGroup};

use codearts_repo_exporter::serve;
use codearts_repo_exporter::App;
use codearts_repo_exporter::Config;
use codearts_repo_exporter::WebConfig;

use crate::helpers::*;

/// The exporter with [`exporter_config`]`(server_yaml)`, served with its `server:` limits and,
/// when given, the web config at `web_config`.
async fn start(server_yaml: &str, web_config: Option<&std::path::Path>) -> Server {
    let config = Config::parse(&exporter_config(server_yaml), &|_| None).expect("config");
    let limits = config.server.clone();
    let app = App::new(config, None, None).expect("app");
    serve_app(app, &limits, web_config).await
}

/// Writes the web config `yaml` next to the PKI files and returns its path.
fn web_config(pki: &Pki, yaml: &str) -> std::path::PathBuf {
    let path = pki.path("web.yml");
    std::fs::write(&path, yaml).expect("write web config");
    path
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn peer_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("TLS info with a peer certificate")
        .to_vec()
}

/// `GET /healthz` and `GET /metrics` over `scheme` both answer 200; returns the metrics text.
async fn assert_healthz_and_metrics_ok(
    client: &reqwest::Client,
    server: &Server,
    scheme: &str,
) -> String {
    let health = client.get(server.url(scheme, "/healthz")).send();
    assert_eq!(health.await.unwrap().status(), StatusCode::OK);
    let metrics = client
        .get(server.url(scheme, "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    metrics.text().await.unwrap()
}

#[tokio::test]
async fn https_serves_healthz_and_metrics_with_the_test_ca() {
    let pki = Pki::with_server_cert("first");
    let server = start("", Some(&web_config(&pki, TLS_ONLY))).await;
    let client = https_client(&pki, None);

    let body = assert_healthz_and_metrics_ok(&client, &server, "https").await;
    assert!(body.contains("codearts_repo_statistics_up"), "{body}");
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_no_answer() {
    let pki = Pki::with_server_cert("first");
    let server = start("", Some(&web_config(&pki, TLS_ONLY))).await;
    let result = plain_client()
        .get(server.url("http", "/healthz"))
        .send()
        .await;
    assert!(result.is_err(), "plain HTTP must not be served: {result:?}");
}

#[tokio::test]
async fn required_client_cert_refuses_clients_without_one_and_accepts_a_signed_one() {
    let pki = Pki::with_server_cert("first");
    let yaml = format!(
        "{TLS_ONLY}  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n"
    );
    let server = start("", Some(&web_config(&pki, &yaml))).await;

    let anonymous = https_client(&pki, None)
        .get(server.url("https", "/healthz"))
        .send()
        .await;
    assert!(
        anonymous.is_err(),
        "no client cert must be refused: {anonymous:?}"
    );

    // A certificate from another CA is refused too.
    let stranger_pki = Pki::new();
    let stranger = https_client(&pki, Some(&stranger_pki.client_cert("stranger")))
        .get(server.url("https", "/healthz"))
        .send()
        .await;
    assert!(
        stranger.is_err(),
        "a foreign client cert must be refused: {stranger:?}"
    );

    let client = https_client(&pki, Some(&pki.client_cert("prometheus")));
    let answer = client
        .get(server.url("https", "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn basic_auth_guards_every_route_but_healthz() {
    let pki = Pki::new();
    let server = start(
        "",
        Some(&web_config(&pki, &users_yaml("prometheus", "s3cret"))),
    )
    .await;
    let client = plain_client();
    let get = |path: &str, password: Option<&str>| {
        let request = client.get(server.url("http", path));
        match password {
            Some(password) => request.basic_auth("prometheus", Some(password)),
            None => request,
        }
        .send()
    };

    let anonymous = get("/metrics", None).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic realm=\"codearts-repo-exporter\""
    );
    let wrong = get("/metrics", Some("guess")).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().contains_key("www-authenticate"));

    assert_eq!(
        get("/metrics", Some("s3cret")).await.unwrap().status(),
        StatusCode::OK
    );
    // Remembered now; the remembered success must not let another password through.
    assert_eq!(
        get("/metrics", Some("s3cret")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/", Some("s3cret-")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get("/readyz", Some("")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let other_user = client
        .get(server.url("http", "/metrics"))
        .basic_auth("admin", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(other_user.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get("/probe?repository_id=1", None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Liveness probes carry no credentials.
    assert_eq!(
        get("/healthz", None).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn changed_users_apply_without_restart() {
    let pki = Pki::new();
    let path = web_config(&pki, &users_yaml("alice", "one"));
    let server = start("", Some(&path)).await;
    let client = plain_client();
    let status = |user: &'static str, password: &'static str| {
        let request = client
            .get(server.url("http", "/metrics"))
            .basic_auth(user, Some(password));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status("alice", "one").await, StatusCode::OK);

    write_atomically(&path, &users_yaml("bob", "two"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while status("bob", "two").await != StatusCode::OK {
        assert!(Instant::now() < deadline, "new user not picked up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status("alice", "one").await, StatusCode::UNAUTHORIZED);

    // A broken file keeps bob working rather than locking everybody out.
    write_atomically(&path, "basic_auth_users:\n  bob: not-a-hash\n");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status("bob", "two").await, StatusCode::OK);
}

#[tokio::test]
async fn rotated_certificate_is_served_on_new_connections_without_restart() {
    let pki = Pki::new();
    let first = pki.server_cert("first", 1);
    pki.install_server_cert(&first);
    let server = start("", Some(&web_config(&pki, TLS_ONLY))).await;
    let served = |pki: &Pki| {
        let client = https_client(pki, None);
        let url = server.url("https", "/healthz");
        async move { peer_certificate(&client.get(url).send().await.unwrap()) }
    };
    assert_eq!(served(&pki).await, first.der);

    let second = pki.server_cert("second", 2);
    pki.install_server_cert(&second);
    let deadline = Instant::now() + Duration::from_secs(5);
    while served(&pki).await != second.der {
        assert!(Instant::now() < deadline, "rotated certificate not served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A broken rotation keeps the last good certificate, and TLS.
    write_atomically(
        &pki.path("server.pem"),
        "-----BEGIN CERTIFICATE-----\ngarbage\n",
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(served(&pki).await, second.der);
    let plain = plain_client()
        .get(server.url("http", "/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "never falls back to plain HTTP");
}

#[test]
fn unknown_keys_in_the_web_config_are_named() {
    let pki = Pki::new();
    let path = web_config(
        &pki,
        &format!("{TLS_ONLY}  prefer_server_ciphersuites: true\n"),
    );
    let err = WebConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("prefer_server_ciphersuites"), "{err}");
    assert!(err.starts_with("tls_server_config"), "{err}");

    let path = web_config(&pki, "basic_auth_user:\n  a: b\n");
    let err = WebConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("basic_auth_user"), "{err}");
}

#[test]
fn unsupported_client_auth_type_is_named() {
    let pki = Pki::with_server_cert("first");
    let path = web_config(
        &pki,
        &format!("{TLS_ONLY}  client_ca_file: ca.pem\n  client_auth_type: RequireAnyClientCert\n"),
    );
    let err = WebConfig::load(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "tls_server_config.client_auth_type: RequireAnyClientCert is not supported"
        ),
        "{err}"
    );
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let pki = Pki::new();
    let first = pki.server_cert("first", 1);
    let second = pki.server_cert("second", 2);
    std::fs::write(pki.path("server.pem"), &first.cert_pem).unwrap();
    std::fs::write(pki.path("server-key.pem"), &second.key_pem).unwrap();
    let err = WebConfig::load(&web_config(&pki, TLS_ONLY))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("tls_server_config.key_file: ") && err.contains("does not belong"),
        "{err}"
    );
}

// --- the other exporter-toolkit keys ----------------------------------------------------

/// What a rustls client negotiated with the server, or why the handshake failed.
#[derive(Debug)]
struct Negotiated {
    suite: CipherSuite,
    group: Option<NamedGroup>,
    alpn: Option<Vec<u8>>,
}

/// A TLS handshake offering only `suites` and `groups` (in that order of preference; empty:
/// rustls' own) over `versions`, with ALPN `h2` then `http/1.1`.
async fn handshake(
    server: &Server,
    pki: &Pki,
    suites: &[CipherSuite],
    groups: &[NamedGroup],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Negotiated, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !suites.is_empty() {
        provider
            .cipher_suites
            .retain(|s| suites.contains(&s.suite()));
        provider
            .cipher_suites
            .sort_by_key(|s| suites.iter().position(|x| *x == s.suite()));
    }
    if !groups.is_empty() {
        provider.kx_groups.retain(|g| groups.contains(&g.name()));
        provider
            .kx_groups
            .sort_by_key(|g| groups.iter().position(|x| *x == g.name()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|err| err.to_string())?;
    let (_, connection) = tls.get_ref();
    Ok(Negotiated {
        suite: connection.negotiated_cipher_suite().unwrap().suite(),
        group: connection.negotiated_key_exchange_group().map(|g| g.name()),
        alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
    })
}

const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
const AES128: CipherSuite = CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
const AES256: CipherSuite = CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384;
const CHACHA: CipherSuite = CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;

#[tokio::test]
async fn cipher_suites_limit_tls12_and_the_servers_order_wins_unless_told_otherwise() {
    let pki = Pki::with_server_cert("first");
    let suites = "  cipher_suites:\n    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n    - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256\n";
    let server = start("", Some(&web_config(&pki, &format!("{TLS_ONLY}{suites}")))).await;

    let refused = handshake(&server, &pki, &[AES256], &[], TLS12).await;
    assert!(refused.is_err(), "a suite not listed: {refused:?}");
    // The client prefers ChaCha; the server's list (AES first) wins, the toolkit's default.
    let chosen = handshake(&server, &pki, &[CHACHA, AES128], &[], TLS12)
        .await
        .unwrap();
    assert_eq!(chosen.suite, AES128);
    // TLS 1.3 is not governed by cipher_suites, as in Go.
    assert!(handshake(&server, &pki, &[], &[], TLS13).await.is_ok());

    let server = start(
        "",
        Some(&web_config(
            &pki,
            &format!("{TLS_ONLY}{suites}  prefer_server_cipher_suites: false\n"),
        )),
    )
    .await;
    let chosen = handshake(&server, &pki, &[CHACHA, AES128], &[], TLS12)
        .await
        .unwrap();
    assert_eq!(chosen.suite, CHACHA, "the client's order wins");
}

#[tokio::test]
async fn curve_preferences_limit_the_key_exchange() {
    let pki = Pki::with_server_cert("first");
    let yaml = format!("{TLS_ONLY}  curve_preferences: [CurveP384]\n");
    let server = start("", Some(&web_config(&pki, &yaml))).await;
    let refused = handshake(&server, &pki, &[], &[NamedGroup::X25519], TLS13).await;
    assert!(refused.is_err(), "a group not listed: {refused:?}");
    let chosen = handshake(
        &server,
        &pki,
        &[],
        &[NamedGroup::X25519, NamedGroup::secp384r1],
        TLS13,
    )
    .await
    .unwrap();
    assert_eq!(chosen.group, Some(NamedGroup::secp384r1));
}

#[tokio::test]
async fn http2_either_way_is_accepted_and_http11_is_negotiated() {
    let pki = Pki::with_server_cert("first");
    for http2 in ["false", "true"] {
        let yaml = format!("{TLS_ONLY}http_server_config:\n  http2: {http2}\n");
        let server = start("", Some(&web_config(&pki, &yaml))).await;
        let negotiated = handshake(&server, &pki, &[], &[], TLS13).await.unwrap();
        assert_eq!(
            negotiated.alpn.as_deref(),
            Some(&b"http/1.1"[..]),
            "http2: {http2}"
        );
    }
}

#[tokio::test]
async fn inline_certificate_and_key_serve_https_and_the_key_is_never_shown() {
    let pki = Pki::new();
    let issued = pki.server_cert("inline", 1);
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let yaml = format!(
        "tls_server_config:\n  cert: {}\n  key: {}\n",
        quote(&issued.cert_pem),
        quote(&issued.key_pem)
    );
    let path = web_config(&pki, &yaml);
    let server = start("", Some(&path)).await;
    let answer = https_client(&pki, None)
        .get(server.url("https", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(peer_certificate(&answer), issued.der);

    // A key of another certificate: refused naming the key, without showing it.
    let other = pki.server_cert("other", 2);
    std::fs::write(
        &path,
        format!(
            "tls_server_config:\n  cert: {}\n  key: {}\n",
            quote(&issued.cert_pem),
            quote(&other.key_pem)
        ),
    )
    .unwrap();
    let err = WebConfig::load(&path).unwrap_err().to_string();
    assert!(
        err.starts_with("tls_server_config.key: inline PEM does not belong"),
        "{err}"
    );
    let key_body = other.key_pem.lines().nth(1).unwrap();
    assert!(!err.contains(key_body), "{err}");
    let web = WebConfig::load(&web_config(&pki, &yaml)).unwrap();
    let shown = format!("{web:?} {}", web.summary());
    assert!(
        !shown.contains(issued.key_pem.lines().nth(1).unwrap()),
        "{shown}"
    );
}

#[tokio::test]
async fn client_allowed_sans_accept_only_certificates_naming_one() {
    let pki = Pki::with_server_cert("first");
    let yaml = format!(
        "{TLS_ONLY}  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n  client_allowed_sans: [prometheus.example, 10.0.0.7]\n"
    );
    let server = start("", Some(&web_config(&pki, &yaml))).await;
    let get = |identity: &crate::helpers::Issued| {
        https_client(&pki, Some(identity))
            .get(server.url("https", "/healthz"))
            .send()
    };
    for allowed in [
        pki.client_cert_with_sans("prometheus", &["prometheus.example"]),
        pki.client_cert_with_sans("by-ip", &["10.0.0.7"]),
    ] {
        assert_eq!(get(&allowed).await.unwrap().status(), StatusCode::OK);
    }
    for refused in [
        pki.client_cert_with_sans("intruder", &["intruder.example"]),
        // A wildcard is compared as written, as in exporter-toolkit.
        pki.client_cert_with_sans("wildcard", &["*.example"]),
        pki.client_cert("no-sans"),
    ] {
        let result = get(&refused).await;
        assert!(result.is_err(), "{result:?}");
    }
}

#[tokio::test]
async fn headers_go_on_every_answer_401_and_healthz_included() {
    let pki = Pki::new();
    let yaml = format!(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"default-src 'self'\"\n{}",
        users_yaml("prometheus", "s3cret")
    );
    let server = start("", Some(&web_config(&pki, &yaml))).await;
    for (path, status) in [
        ("/metrics", StatusCode::UNAUTHORIZED),
        ("/healthz", StatusCode::OK),
    ] {
        let answer = plain_client()
            .get(server.url("http", path))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{path}");
        assert_eq!(answer.headers()["x-frame-options"], "deny", "{path}");
        assert_eq!(
            answer.headers()["content-security-policy"],
            "default-src 'self'",
            "{path}"
        );
    }
}

#[tokio::test]
async fn rate_limit_answers_429_beyond_the_burst_but_never_to_healthz() {
    let pki = Pki::new();
    let server = start(
        "",
        Some(&web_config(
            &pki,
            "rate_limit:\n  interval: 1h\n  burst: 2\n",
        )),
    )
    .await;
    let status = |path: &'static str| {
        let request = plain_client().get(server.url("http", path)).send();
        async move { request.await.unwrap().status() }
    };
    assert_eq!(status("/").await, StatusCode::OK);
    assert_eq!(status("/").await, StatusCode::OK);
    assert_eq!(status("/").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(status("/metrics").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(status("/healthz").await, StatusCode::OK);
}

#[tokio::test]
async fn auth_excluded_paths_are_answered_without_credentials() {
    let pki = Pki::new();
    let yaml = format!(
        "{}auth_excluded_paths: [/metrics]\n",
        users_yaml("prometheus", "s3cret")
    );
    let server = start("", Some(&web_config(&pki, &yaml))).await;
    let status = |path: &'static str| {
        let request = plain_client().get(server.url("http", path)).send();
        async move { request.await.unwrap().status() }
    };
    assert_eq!(status("/metrics").await, StatusCode::OK);
    assert_eq!(status("/").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status("/metrics/").await,
        StatusCode::UNAUTHORIZED,
        "exact match only"
    );
}

// --- server limits ---------------------------------------------------------------------

/// Sends `request` on a fresh connection and returns whatever comes back until EOF.
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether the server closes `stream` within `within` (EOF or reset), reading nothing.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.read(&mut byte)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn idle_slowloris_connections_do_not_starve_real_requests_and_are_closed() {
    let server = start(
        "  read_header_timeout: 1s\n  idle_timeout: 30s\n  max_connections: 600\n",
        None,
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let opened = Instant::now();

    let client = plain_client();
    let started = Instant::now();
    assert_healthz_and_metrics_ok(&client, &server, "http").await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "answered in {:?} with 500 idle connections open",
        started.elapsed()
    );

    for stream in &mut idle {
        assert!(closed_within(stream, Duration::from_secs(5)).await);
    }
    let closed_after = opened.elapsed();
    assert!(
        closed_after < Duration::from_secs(4),
        "idle connections closed after {closed_after:?}, read_header_timeout is 1s"
    );
}

#[tokio::test]
async fn a_header_trickled_byte_by_byte_is_cut_at_read_header_timeout() {
    let server = start("  read_header_timeout: 1s\n", None).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut closed = false;
    for _ in 0..40 {
        // Keep sending a header byte every 100 ms, as slowloris does.
        if stream.write_all(b"X").await.is_err()
            || closed_within(&mut stream, Duration::from_millis(100)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "still open after 4s of trickling");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn keep_alive_connections_outlive_the_header_timeout_until_idle_timeout() {
    let server = start("  read_header_timeout: 1s\n  idle_timeout: 3s\n", None).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
    let mut buf = vec![0u8; 4096];

    stream.write_all(request).await.unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // Idle for longer than read_header_timeout: still open, as Prometheus expects between
    // scrapes.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream.write_all(request).await.unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let idle_since = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(6)).await);
    let idle = idle_since.elapsed();
    assert!(
        idle >= Duration::from_millis(2500) && idle < Duration::from_secs(5),
        "closed after {idle:?} idle; idle_timeout is 3s"
    );
}

/// Sends `request` while reading the answer (the server may stop reading at its limit).
async fn send_reading(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let write = async {
        let _ = writer.write_all(request).await;
    };
    let read = async {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut answer)).await;
        answer
    };
    let ((), answer) = tokio::join!(write, read);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_oversized_request_header_is_refused_with_431() {
    let server = start("", None).await;
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 100 * 1024));

    let mut complete = head.clone();
    complete.extend(b"\r\n\r\n");
    let answer = send_reading(server.addr, &complete).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    // Without the end of the head, the server stops buffering at the limit all the same.
    let answer = send_reading(server.addr, &head).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");

    let normal = raw_exchange(
        server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(normal.starts_with("HTTP/1.1 200"), "{normal}");
}

#[tokio::test]
async fn max_connections_makes_further_connections_wait_for_a_free_slot() {
    let server = start("  read_header_timeout: 30s\n  max_connections: 2\n", None).await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(700), third.read_to_end(&mut answer)).await;
    assert!(
        early.is_err(),
        "third connection was served while two were open: {answer:?}"
    );

    drop(first);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), third.read_to_end(&mut answer))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_and_closes_idle_connections() {
    // An upstream that accepts and never answers: a scrape takes request_timeout (1s).
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = upstream.accept().await {
            held.push(stream);
        }
    });
    let yaml = exporter_config("")
        .replace("http://127.0.0.1:9", &format!("http://{upstream_addr}"))
        + "  request_timeout: 1s\n";
    let config = Config::parse(&yaml, &|_| None).expect("config");
    let limits = config.server.clone();
    let app = App::new(config, None, None).unwrap();
    let router = codearts_repo_exporter::router(app, "/metrics");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(serve(listener, router, &limits, None, stop_rx));

    let mut idle = TcpStream::connect(addr).await.unwrap();
    let scrape = tokio::spawn(async move {
        let started = Instant::now();
        let answer = plain_client()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await;
        (answer.map(|a| a.status()), started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(true).unwrap();

    assert!(
        closed_within(&mut idle, Duration::from_millis(500)).await,
        "idle connection kept open"
    );
    let (status, took) = scrape.await.unwrap();
    assert_eq!(
        status.unwrap(),
        StatusCode::OK,
        "the scrape in flight is answered"
    );
    assert!(
        took >= Duration::from_millis(800),
        "the scrape was not cut short: {took:?}"
    );
    tokio::time::timeout(Duration::from_secs(2), serving)
        .await
        .expect("serve returns once drained")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[test]
fn a_broken_web_config_exits_2_naming_the_key() {
    let pki = Pki::new();
    std::fs::write(pki.path("exporter.yml"), exporter_config("")).unwrap();
    std::fs::write(
        pki.path("web.yml"),
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing-key.pem\n",
    )
    .unwrap();
    let output = web_exporter_command(EXPORTER, &pki)
        .arg("--web.listen-address=127.0.0.1:0")
        .output()
        .expect("run the exporter");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tls_server_config.cert_file: cannot read ")
            && stderr.contains("missing.pem")
            && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
}

/// A web config as node_exporter's users write it, with every section of exporter-toolkit's
/// format, starts the exporter (it used to stop it with exit 2 at `http_server_config`), which
/// then serves HTTPS with the configured headers and says that it serves HTTP/1.1 only.
#[tokio::test]
async fn a_node_exporter_web_config_with_every_section_starts_the_exporter() {
    let pki = Pki::with_server_cert("exporter");
    let hash = bcrypt::hash("scrape-secret", 4).expect("bcrypt");
    std::fs::write(
        pki.path("web.yml"),
        format!(
            "tls_server_config:
  cert_file: server.pem
  key_file: server-key.pem
  min_version: TLS12
  cipher_suites:
    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
  prefer_server_cipher_suites: true
  curve_preferences: [X25519, CurveP256]
http_server_config:
  http2: true
  headers:
    X-Content-Type-Options: nosniff
    Strict-Transport-Security: max-age=31536000
rate_limit:
  interval: 100ms
  burst: 20
basic_auth_users:
  prometheus: '{hash}'
auth_excluded_paths: [/readyz]
"
        ),
    )
    .unwrap();
    std::fs::write(pki.path("exporter.yml"), exporter_config("")).unwrap();
    let (_exporter, port) = start_web_exporter(EXPORTER, &pki);

    let client = https_client(&pki, None);
    let metrics = client
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .basic_auth("prometheus", Some("scrape-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), reqwest::StatusCode::OK);
    assert_eq!(metrics.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        metrics.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let readyz = client
        .get(format!("https://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_ne!(readyz.status(), reqwest::StatusCode::UNAUTHORIZED);

    let logged = std::fs::read_to_string(pki.path("exporter.log")).unwrap();
    assert!(
        logged.contains("http_server_config.http2: true is accepted, but only HTTP/1.1 is served"),
        "{logged}"
    );
}
