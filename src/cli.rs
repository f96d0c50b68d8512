//! Command-line flags (docs/configuration.md, "Command line"), in the Prometheus
//! exporter-toolkit style. Every flag but the switches can also come from the environment;
//! secrets never come from flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Parser;

use crate::config::Shard;
use crate::logging::Level;

/// The default port, 9825. The Prometheus wiki's exporter port range is fully allocated, so we
/// document ours in docs/configuration.md rather than claim a registration.
pub(crate) const DEFAULT_LISTEN: &str = ":9825";

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

    /// Like --config.check, but without the files the configuration names (secrets, CA,
    /// certificates) and with unset ${VAR}s left as written: for CI or a machine without the
    /// deployment's secrets (like promtool check config --syntax-only).
    #[arg(long = "config.check-syntax-only", conflicts_with_all = ["config_check", "demo"])]
    pub config_check_syntax_only: bool,

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

    /// TLS, response headers, a request rate limit and basic auth (exporter-toolkit web config
    /// format).
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,

    /// Log level; the config's log.level, while set, overrides it (and changes on reload).
    #[arg(
        long = "log.level",
        default_value = "info",
        value_parser = PossibleValuesParser::new(Level::NAMES)
            .try_map(|name| Level::parse(&name).ok_or("unknown level"))
    )]
    pub log_level: Level,

    /// Log format.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,

    /// Run against the built-in CodeArts simulator; needs no config and no credentials. The
    /// simulator accepts the demo credentials: token demo-token; IAM domain demo-domain, user
    /// demo, password demo-password; AK DEMOACCESSKEY, SK demo-secret-key.
    #[arg(long)]
    pub demo: bool,

    /// Where --demo's simulator listens (`host:port` or `:port`); default: a free port on
    /// 127.0.0.1, shown in the log and on the landing page.
    #[arg(long = "demo.listen-address", requires = "demo")]
    pub demo_listen_address: Option<String>,

    /// Watch only the repositories whose id hashes to shard INDEX of COUNT.
    #[arg(long, value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

/// Resolves `host:port` or `:port` (all interfaces); the error does not name the flag.
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
            .ok_or_else(|| format!("{text:?} is not host:port"))
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
    fn flags_are_the_documented_ones() {
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
        assert_eq!(flags.log_level, Level::Debug);
        assert_eq!(flags.shard, Some(Shard { index: 1, count: 4 }));
        assert!(Flags::try_parse_from(["x", "--log.level=loud"]).is_err());
        assert!(Flags::try_parse_from(["x", "--shard=4/4"]).is_err());
    }

    #[test]
    fn the_simulator_address_needs_demo() {
        let flags =
            Flags::try_parse_from(["x", "--demo", "--demo.listen-address=127.0.0.1:8081"]).unwrap();
        assert_eq!(flags.demo_listen_address.as_deref(), Some("127.0.0.1:8081"));
        assert_eq!(
            Flags::try_parse_from(["x", "--demo"])
                .unwrap()
                .demo_listen_address,
            None
        );
        assert!(Flags::try_parse_from(["x", "--demo.listen-address=:8081"]).is_err());
    }

    /// `--help` names the credentials the simulator really accepts.
    #[cfg(feature = "demo")]
    #[test]
    fn demo_help_names_the_simulators_credentials() {
        use clap::CommandFactory;
        let command = Flags::command();
        let help = command
            .get_arguments()
            .find(|arg| arg.get_id() == "demo")
            .and_then(|arg| arg.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let credentials = codearts_sim::SimCredentials::default();
        for expected in [
            format!("token {}", credentials.static_token),
            format!("IAM domain {}", credentials.iam_domain),
            format!("user {}", credentials.iam_user),
            format!("password {}", credentials.iam_password),
            format!("AK {}", credentials.access_key),
            format!("SK {}", credentials.secret_key),
        ] {
            assert!(help.contains(&expected), "{expected:?} not in: {help}");
        }
    }

    #[test]
    fn syntax_only_check_is_a_check_of_its_own() {
        let flags = Flags::try_parse_from(["x", "--config.check-syntax-only"]).unwrap();
        assert!(flags.config_check_syntax_only && !flags.config_check);
        for other in ["--config.check", "--demo"] {
            assert!(
                Flags::try_parse_from(["x", "--config.check-syntax-only", other]).is_err(),
                "{other}"
            );
        }
    }
}
