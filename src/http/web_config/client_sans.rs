//! `tls_server_config.client_allowed_sans`: after the client certificate's chain is verified, one
//! of its Subject Alternative Names must equal an entry of the list, as in exporter-toolkit
//! (exact comparison, no wildcard matching).
//!
//! The certificate is read with rustls-webpki, which exposes DNS and URI names and matches IP
//! addresses; it does not read e-mail names, so an e-mail entry is refused when the web config is
//! loaded rather than never matching.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme,
};

/// One entry of `client_allowed_sans`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AllowedSan {
    Dns(String),
    Ip(IpAddr),
    Uri(String),
}

/// Why an entry of `client_allowed_sans` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SanError {
    #[error("an entry is empty")]
    Empty,
    #[error(
        "{0:?} looks like an e-mail address: e-mail names are not supported \
         (rustls-webpki reads DNS, IP and URI names); use one of those"
    )]
    Email(String),
}

impl AllowedSan {
    /// Reads an entry: an IP address, a URI (anything with a `:`), or a DNS name. An e-mail
    /// address is refused with the reason.
    pub(crate) fn parse(entry: &str) -> Result<Self, SanError> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err(SanError::Empty);
        }
        if let Ok(ip) = entry.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        if entry.contains(':') {
            return Ok(Self::Uri(entry.to_owned()));
        }
        if entry.contains('@') {
            return Err(SanError::Email(entry.to_owned()));
        }
        Ok(Self::Dns(entry.to_owned()))
    }

    fn matches(&self, cert: &webpki::EndEntityCert<'_>) -> bool {
        match self {
            Self::Dns(name) => cert.valid_dns_names().any(|n| n == name),
            Self::Uri(uri) => cert.valid_uri_names().any(|u| u == uri),
            Self::Ip(ip) => cert
                .verify_is_valid_for_subject_name(&ServerName::IpAddress((*ip).into()))
                .is_ok(),
        }
    }
}

impl FromStr for AllowedSan {
    type Err = SanError;

    fn from_str(entry: &str) -> Result<Self, SanError> {
        Self::parse(entry)
    }
}

/// A client-certificate verifier that also requires an allowed SAN.
#[derive(Debug)]
pub(crate) struct SanVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<AllowedSan>,
}

impl SanVerifier {
    pub(crate) fn new(inner: Arc<dyn ClientCertVerifier>, allowed: Vec<AllowedSan>) -> Self {
        Self { inner, allowed }
    }
}

impl ClientCertVerifier for SanVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if self.allowed.iter().any(|san| san.matches(&cert)) {
            Ok(verified)
        } else {
            tracing::debug!(
                "client certificate refused: none of its SANs is in client_allowed_sans"
            );
            Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_ips_uris_or_dns_names_and_emails_are_refused() {
        assert_eq!(
            AllowedSan::parse("10.0.0.1"),
            Ok(AllowedSan::Ip("10.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            AllowedSan::parse("::1"),
            Ok(AllowedSan::Ip("::1".parse().unwrap()))
        );
        assert_eq!(
            AllowedSan::parse("spiffe://cluster/ns/monitoring/sa/prometheus"),
            Ok(AllowedSan::Uri(
                "spiffe://cluster/ns/monitoring/sa/prometheus".to_owned()
            ))
        );
        assert_eq!(
            AllowedSan::parse("prometheus.example"),
            Ok(AllowedSan::Dns("prometheus.example".to_owned()))
        );
        assert!(AllowedSan::parse("ops@example.com")
            .unwrap_err()
            .to_string()
            .contains("e-mail"));
        assert!(AllowedSan::parse(" ").is_err());
    }
}
