//! TLS for the tests: a private certificate authority made per test (rcgen), and a TLS front
//! that terminates TLS for a plaintext receiver — rotel's receivers speak plaintext only, so
//! the real collector sits behind it, as it would behind a load balancer or a sidecar.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA, a server certificate it signed for `localhost` and `127.0.0.1`, and a client
/// certificate it signed (for mutual TLS).
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate, PEM: what a client must trust.
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
    /// The client certificate, PEM.
    pub client_cert_pem: String,
    /// The client's private key, PEM.
    pub client_key_pem: String,
}

/// Where [`Pki::write`] put the PEM files.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, format!("traceweave test CA {name}"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

        let mut server =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &ca).unwrap();

        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::CommonName, "traceweave exporter");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().unwrap();
        let client_cert = client.signed_by(&client_key, &ca).unwrap();

        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server_der: server_cert.der().clone(),
            server_key: server_key.serialize_der(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    /// Writes the CA, the client certificate and the client key as PEM files in `dir`.
    pub fn write(&self, dir: &Path) -> PkiFiles {
        std::fs::create_dir_all(dir).unwrap();
        let files = PkiFiles {
            ca: dir.join("ca.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        std::fs::write(&files.ca, &self.ca_pem).unwrap();
        std::fs::write(&files.client_cert, &self.client_cert_pem).unwrap();
        std::fs::write(&files.client_key, &self.client_key_pem).unwrap();
        files
    }

    fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = builder
            .with_single_cert(vec![self.server_der.clone()], key)
            .unwrap();
        // gRPC needs h2 negotiated; OTLP/HTTP clients ask for http/1.1 or nothing.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

/// Terminates TLS on a loopback port and forwards each connection to a plaintext receiver.
/// Records every handshake's outcome.
#[derive(Debug)]
pub struct TlsFront {
    pub port: u16,
    handshakes: Arc<Mutex<Vec<Result<(), String>>>>,
}

impl TlsFront {
    /// Listens on a free port; `require_client_cert` turns on mutual TLS (client certificates
    /// signed by `pki`'s CA).
    pub fn start(pki: &Pki, upstream_port: u16, require_client_cert: bool) -> TlsFront {
        Self::serving(pki.server_config(require_client_cert), upstream_port)
    }

    /// Listens on a free port presenting `cert` (one certificate, no chain) with its key.
    pub fn with_certificate(cert: &SelfSigned, upstream_port: u16) -> TlsFront {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("a PEM key");
        let der = CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).expect("a PEM cert");
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Self::serving(config, upstream_port)
    }

    fn serving(config: rustls::ServerConfig, upstream_port: u16) -> TlsFront {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let log = handshakes.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (acceptor, log) = (acceptor.clone(), log.clone());
                    tokio::spawn(async move {
                        let mut tls = match acceptor.accept(tcp).await {
                            Ok(tls) => {
                                log.lock().unwrap().push(Ok(()));
                                tls
                            }
                            Err(e) => {
                                log.lock().unwrap().push(Err(e.to_string()));
                                return;
                            }
                        };
                        let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    });
                }
            });
        });
        TlsFront { port, handshakes }
    }

    /// How many handshakes completed.
    pub fn accepted(&self) -> usize {
        self.handshakes
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.is_ok())
            .count()
    }

    /// How many handshakes failed, once at least `at_least` have (the front records its side of
    /// a refusal just after sending the alert the client reads, so a client that has exited may
    /// be ahead of it); then a moment more, so a retry would be counted too. Waits at most 30 s.
    pub fn refused_count(&self, at_least: usize) -> usize {
        let start = std::time::Instant::now();
        while self.refused().len() < at_least
            && start.elapsed() < std::time::Duration::from_secs(30)
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.refused().len()
    }

    /// Why each failed handshake failed.
    pub fn refused(&self) -> Vec<String> {
        (self.handshakes.lock().unwrap().iter())
            .filter_map(|h| h.as_ref().err().cloned())
            .collect()
    }
}

/// A self-signed server certificate, as people make one for a private collector.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate, PEM: what a client is told to trust.
    pub cert_pem: String,
    key_pem: String,
}

impl SelfSigned {
    /// The usual recipe: `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext
    /// subjectAltName=SAN` (its defaults mark the certificate `CA:TRUE`). Made in `dir`.
    pub fn openssl(dir: &Path, san: &str) -> SelfSigned {
        std::fs::create_dir_all(dir).unwrap();
        let (cert, key) = (dir.join("openssl-cert.pem"), dir.join("openssl-key.pem"));
        let out = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args(["-subj", "/CN=localhost", "-addext"])
            .arg(format!("subjectAltName={san}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs (Debian's openssl package; .ci/run installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
            "openssl's defaults make a CA:TRUE certificate: the case under test"
        );
        SelfSigned {
            cert_pem: std::fs::read_to_string(&cert).unwrap(),
            key_pem: std::fs::read_to_string(&key).unwrap(),
        }
    }

    /// The same shape (self-signed, `CA:TRUE`, names `localhost` and `127.0.0.1`) that expired on
    /// 2021-01-01.
    pub fn expired() -> SelfSigned {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        SelfSigned {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the certificate (what `OTEL_EXPORTER_OTLP_CERTIFICATE` names) into `dir`.
    pub fn write_cert(&self, dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &self.cert_pem).unwrap();
        path
    }
}
