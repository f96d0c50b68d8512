//! The exporter's own server in-process, on a free port, for the tests of its HTTP layer (TLS,
//! basic auth, limits, compression). The PKI and web-config pieces they use are
//! `codearts_testkit::pki`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use codearts_repo_exporter::App;
use codearts_repo_exporter::ServerConfig;
use codearts_repo_exporter::{router, serve, WebConfig};

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
