//! exporter-toolkit's names for cipher suites and curves (Go's `crypto/tls` names) and what
//! rustls, with the *ring* provider this exporter is built with, makes of them: a suite or
//! group it implements, or a reason it does not.
//!
//! As in Go, `cipher_suites` governs TLS 1.2 only: TLS 1.3's three suites are always offered, and
//! naming one of them is accepted and changes nothing.

use std::str::FromStr;

use tokio_rustls::rustls::{CipherSuite, NamedGroup};

/// Why a name in `tls_server_config` is refused. Which key it was under is added by the
/// deserializer that read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NameError {
    /// A name exporter-toolkit accepts that this exporter deliberately does not implement.
    #[error("{name} is not supported: {why}")]
    NotSupported { name: String, why: &'static str },
    /// A name nobody knows; `expected` says which are accepted.
    #[error("unknown {what} {name:?}; {expected}")]
    Unknown {
        what: &'static str,
        name: String,
        expected: String,
    },
}

/// What a name in `cipher_suites` means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SuiteName {
    /// A TLS 1.2 suite rustls implements.
    Tls12(CipherSuite),
    /// A TLS 1.3 suite: always on, as in Go.
    Tls13,
}

/// The TLS 1.2 suites of Go's `tls.CipherSuites()` that rustls implements (all AEAD with
/// ECDHE), by Go's name; Go's older names without `_SHA256` too.
const TLS12: &[(&str, CipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// Go's TLS 1.3 suite names.
const TLS13: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites Go knows and rustls deliberately leaves out, with the reason.
const NOT_IMPLEMENTED: &[(&str, &str)] = &[
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", CBC),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", CBC),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", CBC),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", CBC),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", CBC),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", CBC),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", RSA_KX),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", RSA_KX),
    ("TLS_RSA_WITH_AES_128_CBC_SHA256", RSA_KX),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", RSA_KX),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", RSA_KX),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", BROKEN),
    ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", BROKEN),
    ("TLS_RSA_WITH_RC4_128_SHA", BROKEN),
    ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", BROKEN),
    ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", BROKEN),
];

const CBC: &str = "rustls implements no CBC-mode suite (only AEAD: AES-GCM and ChaCha20-Poly1305)";
const RSA_KX: &str =
    "rustls implements no RSA key exchange (no forward secrecy); use an ECDHE_RSA suite";
const BROKEN: &str = "rustls implements neither 3DES nor RC4 (both broken)";

/// The suite `name` stands for, or why it cannot be used.
pub(crate) fn cipher_suite(name: &str) -> Result<SuiteName, NameError> {
    if let Some((_, suite)) = TLS12.iter().find(|(known, _)| *known == name) {
        return Ok(SuiteName::Tls12(*suite));
    }
    if TLS13.contains(&name) {
        return Ok(SuiteName::Tls13);
    }
    if let Some((_, why)) = NOT_IMPLEMENTED.iter().find(|(known, _)| *known == name) {
        return Err(NameError::NotSupported {
            name: name.to_owned(),
            why,
        });
    }
    Err(NameError::Unknown {
        what: "cipher suite",
        name: name.to_owned(),
        expected: format!(
            "supported: {}",
            TLS12
                .iter()
                .map(|(known, _)| *known)
                .chain(TLS13.iter().copied())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

impl FromStr for SuiteName {
    type Err = NameError;

    fn from_str(name: &str) -> Result<Self, NameError> {
        cipher_suite(name)
    }
}

/// The key-exchange group a `curve_preferences` entry stands for, or why it cannot be used.
pub(crate) fn curve(name: &str) -> Result<NamedGroup, NameError> {
    let not_supported = |why| NameError::NotSupported {
        name: name.to_owned(),
        why,
    };
    match name {
        "CurveP256" => Ok(NamedGroup::secp256r1),
        "CurveP384" => Ok(NamedGroup::secp384r1),
        "X25519" => Ok(NamedGroup::X25519),
        "CurveP521" => Err(not_supported(
            "rustls' ring provider has no P-521 key exchange",
        )),
        "X25519MLKEM768" => Err(not_supported(
            "the post-quantum hybrid is in rustls' aws-lc-rs provider, not the ring provider \
             this exporter is built with",
        )),
        other => Err(NameError::Unknown {
            what: "curve",
            name: other.to_owned(),
            expected: "supported: CurveP256, CurveP384, X25519".to_owned(),
        }),
    }
}

/// A `curve_preferences` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Curve(pub NamedGroup);

impl FromStr for Curve {
    type Err = NameError;

    fn from_str(name: &str) -> Result<Self, NameError> {
        curve(name).map(Curve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names_map_to_rustls_suites_or_a_reason() {
        assert_eq!(
            cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            Ok(SuiteName::Tls12(
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            ))
        );
        assert_eq!(
            cipher_suite("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"),
            cipher_suite("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
        );
        assert_eq!(cipher_suite("TLS_AES_128_GCM_SHA256"), Ok(SuiteName::Tls13));
        let cbc = cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
            .unwrap_err()
            .to_string();
        assert!(cbc.contains("CBC"), "{cbc}");
        let rsa = cipher_suite("TLS_RSA_WITH_AES_128_GCM_SHA256")
            .unwrap_err()
            .to_string();
        assert!(rsa.contains("RSA key exchange"), "{rsa}");
        let unknown = cipher_suite("TLS_MADE_UP").unwrap_err().to_string();
        assert!(unknown.starts_with("unknown cipher suite"), "{unknown}");
    }

    #[test]
    fn every_tls12_suite_named_is_one_the_ring_provider_has() {
        let provider = tokio_rustls::rustls::crypto::ring::default_provider();
        for (name, suite) in TLS12 {
            assert!(
                provider.cipher_suites.iter().any(|s| s.suite() == *suite),
                "{name}"
            );
        }
    }

    #[test]
    fn curves_map_to_groups_or_a_reason() {
        assert_eq!(curve("X25519"), Ok(NamedGroup::X25519));
        assert_eq!(curve("CurveP384"), Ok(NamedGroup::secp384r1));
        assert!(curve("CurveP521")
            .unwrap_err()
            .to_string()
            .contains("P-521"));
        assert!(curve("P-256")
            .unwrap_err()
            .to_string()
            .starts_with("unknown curve"));
        let provider = tokio_rustls::rustls::crypto::ring::default_provider();
        for name in ["CurveP256", "CurveP384", "X25519"] {
            let group = curve(name).unwrap();
            assert!(
                provider.kx_groups.iter().any(|g| g.name() == group),
                "{name}"
            );
        }
    }
}
