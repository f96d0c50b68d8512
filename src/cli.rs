//! Command-line flags (CONTRACT §2), in the Prometheus exporter-toolkit style. Every flag but
//! the switches can also come from the environment; secrets never come from flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::Shard;

/// The default port, 9825. The Prometheus wiki's exporter port range is fully allocated, so we
/// document ours in the README rather than claim a registration.
pub const DEFAULT_LISTEN: &str = ":9825";

#[derive(Debug, Parser)]
#[command(
    name = "codearts-repo-exporter",
    // build.rs always sets the revision: from the environment, from git, or "unknown".
    version = concat!(env!("CARGO_PKG_VERSION"), " (revision: ", env!("CODEARTS_EXPORTER_REVISION"), ")"),
    about = "Prometheus exporter for Huawei Cloud CodeArts Repo repository statistics status"
)]
pub struct Flags {
    /// YAML configuration file.
    #[arg(
        long = "config.file",
        env = "CODEARTS_EXPORTER_CONFIG",
        default_value = "codearts-repo-exporter.yml"
    )]
    pub config_file: PathBuf,

    /// Load and validate the configuration, print a summary, and exit.
    #[arg(long = "config.check")]
    pub config_check: bool,

    /// Address to listen on (`host:port`, or `:port` for all interfaces); may be repeated.
    #[arg(
        long = "web.listen-address",
        env = "CODEARTS_EXPORTER_LISTEN",
        default_value = DEFAULT_LISTEN,
        value_delimiter = ','
    )]
    pub listen_addresses: Vec<String>,

    /// Path under which to expose the metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,

    /// TLS and basic-auth configuration (exporter-toolkit web config format).
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,

    /// Log level.
    #[arg(long = "log.level", default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,

    /// Log format.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,

    /// Run against the built-in CodeArts simulator; needs no config and no credentials.
    #[arg(long)]
    pub demo: bool,

    /// Watch only the repositories whose id hashes to shard INDEX of COUNT.
    #[arg(long, value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

/// Resolves `host:port` or `:port` (all interfaces).
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    full.parse::<SocketAddr>().or_else(|_| {
        std::net::ToSocketAddrs::to_socket_addrs(&full)
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| format!("--web.listen-address {text:?} is not host:port"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_only_listens_everywhere() {
        assert_eq!(
            parse_listen_address(":9825").unwrap(),
            "0.0.0.0:9825".parse().unwrap()
        );
    }

    #[test]
    fn host_and_port() {
        assert_eq!(
            parse_listen_address("127.0.0.1:1234").unwrap(),
            "127.0.0.1:1234".parse().unwrap()
        );
        assert!(parse_listen_address("nonsense").is_err());
    }

    #[test]
    fn flags_follow_the_contract() {
        let flags = Flags::try_parse_from([
            "codearts-repo-exporter",
            "--config.file=/etc/x.yml",
            "--web.listen-address=:1",
            "--web.listen-address=127.0.0.1:2",
            "--web.telemetry-path=/m",
            "--log.level=debug",
            "--log.format=json",
            "--shard=1/4",
        ])
        .unwrap();
        assert_eq!(flags.config_file, PathBuf::from("/etc/x.yml"));
        assert_eq!(flags.listen_addresses, [":1", "127.0.0.1:2"]);
        assert_eq!(flags.telemetry_path, "/m");
        assert_eq!(flags.shard, Some(Shard { index: 1, count: 4 }));
        assert!(Flags::try_parse_from(["x", "--log.level=loud"]).is_err());
        assert!(Flags::try_parse_from(["x", "--shard=4/4"]).is_err());
    }
}
