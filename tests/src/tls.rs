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
        let acceptor =
            tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config(require_client_cert)));
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

    /// Why each failed handshake failed.
    pub fn refused(&self) -> Vec<String> {
        (self.handshakes.lock().unwrap().iter())
            .filter_map(|h| h.as_ref().err().cloned())
            .collect()
    }
}
