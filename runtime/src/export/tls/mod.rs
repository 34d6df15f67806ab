//! TLS material for the network exporters: which certificate authorities to trust (the webpki
//! roots unless a CA file is given) and an optional client certificate (mutual TLS). PEM is
//! checked when it is set, so a bad file is one clear error rather than a handshake mystery.
// Only the OTLP exporters take TLS settings from the environment; the Zipkin exporter alone
// (feature `zipkin` without `otlp-http`) uses the defaults.
#![cfg_attr(not(feature = "otlp-http"), allow(dead_code))]

use std::fmt;

#[cfg(feature = "otlp-tls")]
pub(crate) mod connect;
#[cfg(feature = "otlp-tls")]
mod verify;

/// What a connection to a collector trusts and presents.
#[derive(Clone, Default)]
pub(crate) struct TlsSettings {
    /// Trust only these certificate authorities (PEM), instead of the webpki roots.
    ca_pem: Option<Vec<u8>>,
    /// A client certificate chain and its private key (PEM), for mutual TLS.
    client: Option<(Vec<u8>, Vec<u8>)>,
    /// The first problem found in the PEM given; every export fails with it, loudly.
    problem: Option<String>,
}

impl fmt::Debug for TlsSettings {
    // Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.client.is_some())
            .field("problem", &self.problem)
            .finish()
    }
}

impl TlsSettings {
    pub(crate) fn set_ca(&mut self, pem: Vec<u8>) {
        if let Err(e) = check_pem(&pem, Want::Certificate) {
            self.problem
                .get_or_insert(format!("the CA certificate {e}"));
        }
        self.ca_pem = Some(pem);
    }

    pub(crate) fn set_client(&mut self, cert: Vec<u8>, key: Vec<u8>) {
        if let Err(e) = check_pem(&cert, Want::Certificate) {
            self.problem
                .get_or_insert(format!("the client certificate {e}"));
        }
        if let Err(e) = check_pem(&key, Want::Key) {
            self.problem.get_or_insert(format!("the client key {e}"));
        }
        self.client = Some((cert, key));
    }

    /// Settings from the files the `OTEL_EXPORTER_OTLP_*CERTIFICATE` / `*CLIENT_KEY` variables
    /// name (each given as `(variable, path)`), with one line per problem for `init` to print.
    /// A file that cannot be read or holds no PEM makes every `https` export fail rather than
    /// quietly trust something other than what was asked for.
    pub(crate) fn from_files(
        ca: Option<(&str, &str)>,
        client_cert: Option<(&str, &str)>,
        client_key: Option<(&str, &str)>,
    ) -> (TlsSettings, Vec<String>) {
        let mut tls = TlsSettings::default();
        let mut warnings = Vec::new();
        fn read<'a>(
            file: Option<(&'a str, &str)>,
            warnings: &mut Vec<String>,
            problem: &mut Option<String>,
        ) -> Option<(&'a str, Vec<u8>)> {
            let (var, path) = file?;
            match std::fs::read(path) {
                Ok(pem) => Some((var, pem)),
                Err(e) => {
                    let why = format!("{var}={path:?} cannot be read ({e})");
                    warnings.push(format!("{why}; exports over https will fail"));
                    problem.get_or_insert(why);
                    None
                }
            }
        }
        let ca = read(ca, &mut warnings, &mut tls.problem);
        let cert = read(client_cert, &mut warnings, &mut tls.problem);
        let key = read(client_key, &mut warnings, &mut tls.problem);
        if let Some((var, pem)) = ca {
            if let Err(e) = check_pem(&pem, Want::Certificate) {
                warnings.push(format!("{var}: the file {e}; exports over https will fail"));
            }
            tls.set_ca(pem);
        }
        match (cert, key) {
            (Some((cvar, cert)), Some((kvar, key))) => {
                if let Err(e) = check_pem(&cert, Want::Certificate) {
                    warnings.push(format!(
                        "{cvar}: the file {e}; exports over https will fail"
                    ));
                }
                if let Err(e) = check_pem(&key, Want::Key) {
                    // Says what is wrong with the file, never what is in it.
                    warnings.push(format!(
                        "{kvar}: the file {e}; exports over https will fail"
                    ));
                }
                tls.set_client(cert, key);
            }
            (Some((var, _)), None) | (None, Some((var, _))) if tls.problem.is_none() => {
                let why = format!(
                    "{var} is set without its pair (mutual TLS needs both a client certificate                      and its key)"
                );
                warnings.push(format!("{why}; exports over https will fail"));
                tls.problem = Some(why);
            }
            _ => {}
        }
        (tls, warnings)
    }

    /// The configuration problem every export reports, if there is one.
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The rustls configuration of a connection to a collector: the configured CAs (or the
    /// webpki roots) through [`verify::CollectorVerifier`], the client certificate if any, and
    /// `alpn` (`h2` for gRPC). `Err` says why these settings cannot work.
    #[cfg(feature = "otlp-tls")]
    pub(crate) fn client_config(
        &self,
        alpn: &[&[u8]],
    ) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::sync::Arc;
        use ureq::tls::{PemItem, parse_pem};
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        let certs = |pem: &[u8]| -> Vec<CertificateDer<'static>> {
            parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(CertificateDer::from(c.der().to_vec())),
                    _ => None,
                })
                .collect()
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let pinned = match &self.ca_pem {
            Some(ca) => {
                let ca = certs(ca);
                let (added, _) = roots.add_parsable_certificates(ca.iter().cloned());
                if added == 0 {
                    return Err("the CA file holds no certificate rustls can use".to_owned());
                }
                ca
            }
            None => {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                Vec::new()
            }
        };
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(|e| format!("the trusted certificates cannot be used: {e}"))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::CollectorVerifier::new(
                webpki, pinned,
            )));
        let mut config = match &self.client {
            Some((cert, key)) => {
                let key = parse_pem(key)
                    .find_map(|item| match item {
                        Ok(PemItem::PrivateKey(k)) => Some(k),
                        _ => None,
                    })
                    .ok_or("the client key holds no private key")?;
                let key = PrivateKeyDer::try_from(key.der().to_vec())
                    .map_err(|e| format!("the client key: {e}"))?;
                builder
                    .with_client_auth_cert(certs(cert), key)
                    .map_err(|e| format!("the client certificate and key: {e}"))?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Want {
    Certificate,
    Key,
}

/// Whether `pem` holds at least one block of the kind wanted, and nothing malformed.
fn check_pem(pem: &[u8], want: Want) -> Result<(), String> {
    #[cfg(feature = "otlp-tls")]
    {
        use ureq::tls::{PemItem, parse_pem};
        let mut found = false;
        for item in parse_pem(pem) {
            match item {
                Ok(PemItem::Certificate(_)) if want == Want::Certificate => found = true,
                Ok(PemItem::PrivateKey(_)) if want == Want::Key => found = true,
                Ok(_) => {}
                Err(e) => return Err(format!("is not valid PEM ({e})")),
            }
        }
        if found {
            Ok(())
        } else {
            Err(match want {
                Want::Certificate => "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                Want::Key => "holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
            }
            .to_owned())
        }
    }
    #[cfg(not(feature = "otlp-tls"))]
    {
        let _ = (pem, want);
        Err("cannot be used: traceweave was built without its `otlp-tls` feature".to_owned())
    }
}

/// Whether a failed connection failed in TLS (an unknown issuer, a name mismatch, a refused
/// client certificate): a permanent error, worth a hint rather than a retry. Returns what to
/// tell the user.
#[cfg(feature = "otlp-tls")]
pub(crate) fn tls_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        // An io::Error's `source()` skips the error it wraps; look inside it too.
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(e), inner].into_iter().flatten() {
            if let Some(r) = candidate.downcast_ref::<rustls::Error>() {
                return Some(describe(r));
            }
        }
        // Under TLS 1.3 a server's refusal of the client certificate arrives after the client
        // thinks the handshake is done; hyper hands it over re-wrapped as text.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::InvalidData
        {
            let text = io.to_string();
            if let Some(alert) = text.strip_prefix("received fatal alert: ") {
                let hint = if matches!(
                    alert,
                    "CertificateRequired" | "BadCertificate" | "UnknownCA" | "HandshakeFailure"
                ) {
                    CLIENT_CERT_HINT
                } else {
                    ""
                };
                return Some(format!("TLS: {text}{hint}"));
            }
        }
        next = e.source();
    }
    None
}

#[cfg(feature = "otlp-tls")]
const CLIENT_CERT_HINT: &str = "; the collector refused the handshake (if it requires mutual \
     TLS, set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)";

/// A rustls error in the words of the export failure line: what is wrong with the certificate
/// and which setting to change.
#[cfg(feature = "otlp-tls")]
pub(crate) fn describe(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let since = |t: &rustls::pki_types::UnixTime| verify::utc(t.as_secs());
    let hint = match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "; the collector's certificate is not signed by a trusted authority (for a private \
             CA or a self-signed certificate, set OTEL_EXPORTER_OTLP_CERTIFICATE to its PEM file)"
                .to_owned()
        }
        E::InvalidCertificate(C::NotValidForNameContext { expected, .. }) => {
            let host = expected.to_str();
            let san = if matches!(expected, rustls::pki_types::ServerName::IpAddress(_)) {
                "IP"
            } else {
                "DNS"
            };
            format!(
                "; the certificate does not name \"{host}\", the host of the endpoint: use a \
                 name it lists in OTEL_EXPORTER_OTLP_ENDPOINT, or reissue it with \
                 subjectAltName={san}:{host}"
            )
        }
        E::InvalidCertificate(C::NotValidForName) => {
            "; the certificate does not name the host in the endpoint URL".to_owned()
        }
        E::InvalidCertificate(C::ExpiredContext { time, not_after }) => format!(
            "; the collector's certificate expired on {} (now {}): renew it on the collector",
            since(not_after),
            since(time)
        ),
        E::InvalidCertificate(C::Expired) => "; the collector's certificate has expired".to_owned(),
        E::InvalidCertificate(C::NotValidYetContext { time, not_before }) => format!(
            "; the collector's certificate is valid only from {} (now {}): check this host's \
             clock, or the certificate's dates",
            since(not_before),
            since(time)
        ),
        E::InvalidCertificate(C::InvalidPurpose | C::InvalidPurposeContext { .. }) => {
            "; the certificate is not made for a TLS server (its extendedKeyUsage lacks \
             serverAuth): reissue it"
                .to_owned()
        }
        E::InvalidCertificate(C::Other(other))
            if other.to_string().contains("CaUsedAsEndEntity") =>
        {
            "; the collector presents a certificate authority's certificate as its own (a \
             self-signed one made with openssl's defaults is one): set \
             OTEL_EXPORTER_OTLP_CERTIFICATE to that very certificate's PEM file to trust it"
                .to_owned()
        }
        E::InvalidCertificate(C::BadEncoding) => {
            "; the collector sent a certificate that cannot be parsed".to_owned()
        }
        E::AlertReceived(A::CertificateRequired | A::BadCertificate | A::UnknownCA)
        | E::AlertReceived(A::HandshakeFailure) => CLIENT_CERT_HINT.to_owned(),
        _ => String::new(),
    };
    format!("TLS: {e}{hint}")
}

#[cfg(all(test, feature = "otlp-tls"))]
mod tests {
    use super::*;

    #[test]
    fn unreadable_unpaired_or_non_pem_files_are_named_and_fail_the_exports() {
        let dir = std::env::temp_dir().join(format!("traceweave-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "hunter2 is not a key").unwrap();
        let junk = junk.to_str().unwrap();

        let (tls, w) = TlsSettings::from_files(Some(("CA_VAR", "/nonexistent/ca.pem")), None, None);
        assert!(
            w[0].contains("CA_VAR=\"/nonexistent/ca.pem\" cannot be read"),
            "{w:?}"
        );
        assert!(tls.problem().unwrap().contains("cannot be read"));

        let (tls, w) = TlsSettings::from_files(None, Some(("CERT_VAR", junk)), None);
        assert!(w[0].contains("CERT_VAR is set without its pair"), "{w:?}");
        assert!(tls.problem().is_some());

        let (tls, w) =
            TlsSettings::from_files(Some(("CA_VAR", junk)), Some(("C", junk)), Some(("K", junk)));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].contains("CA_VAR: the file holds no PEM certificate"),
            "{w:?}"
        );
        assert!(
            w[2].contains("K: the file holds no PEM private key"),
            "{w:?}"
        );
        let debug = format!("{tls:?}");
        let mut lines: Vec<&str> = w.iter().map(String::as_str).collect();
        lines.extend(tls.problem());
        lines.push(&debug);
        for line in lines {
            assert!(
                !line.contains("hunter2"),
                "file contents never printed: {line}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
