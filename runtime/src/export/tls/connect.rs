//! TLS connections made with traceweave's own rustls configuration
//! ([`TlsSettings::client_config`](super::TlsSettings::client_config)): ureq and tonic take no
//! certificate verifier from outside, so each gets a connector that does the handshake itself.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// The host of a URI as a TLS server name (IPv6 brackets removed).
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned())
        .map_err(|e| format!("{host:?} is no TLS server name: {e}"))
}

/// The ureq link that wraps an `https` connection in TLS (the `ureq::Agent` of every HTTP
/// exporter chains it after the TCP connector).
pub(crate) struct UreqTls {
    /// The configuration, or why the TLS settings cannot work (said on every `https` export).
    pub(crate) config: Result<Arc<ClientConfig>, String>,
}

impl std::fmt::Debug for UreqTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UreqTls")
            .field("usable", &self.config.is_ok())
            .finish()
    }
}

impl<In: Transport> Connector<In> for UreqTls {
    type Out = Either<In, UreqTlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let config = self.config.clone().map_err(|why| {
            ureq::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, why))
        })?;
        let host = details.uri.host().unwrap_or_default();
        let name = server_name(host).map_err(|why| {
            ureq::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, why))
        })?;
        let mut conn = ClientConnection::new(config, name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(UreqTlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// A TLS connection as ureq reads and writes it.
pub(crate) struct UreqTlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for UreqTlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UreqTlsTransport")
    }
}

impl Transport for UreqTlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// tonic's connector for an `https` collector: TCP, then TLS with h2 negotiated. The channel's
/// own URI says `http` (tonic would otherwise try its own TLS), its origin says `https`.
#[cfg(any(feature = "otlp-grpc", feature = "skywalking"))]
#[derive(Clone)]
pub(crate) struct TonicTls {
    pub(crate) config: Arc<ClientConfig>,
}

#[cfg(any(feature = "otlp-grpc", feature = "skywalking"))]
impl std::fmt::Debug for TonicTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TonicTls")
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "skywalking"))]
impl tower_service::Service<http::Uri> for TonicTls {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        Box::pin(async move {
            let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
            let host = uri
                .host()
                .ok_or_else(|| invalid(format!("{uri} names no host")))?;
            let name = server_name(host).map_err(invalid)?;
            let port = uri.port_u16().unwrap_or(443);
            let tcp = tokio::net::TcpStream::connect((name.to_str().as_ref(), port)).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(name, tcp).await?;
            Ok(hyper_util::rt::TokioIo::new(tls))
        })
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "skywalking"))]
/// The endpoint to dial and, for `https`, the connector that does TLS with traceweave's own
/// verifier (tonic takes none from outside): the channel then dials `http://host:port` through
/// it, and its origin keeps `https` in the requests.
pub(crate) fn tonic_channel(
    endpoint: &str,
    https: bool,
    tls: &super::TlsSettings,
) -> Result<(tonic::transport::Endpoint, Option<TonicTls>), (String, crate::export::ExportErrorKind)>
{
    use crate::export::ExportErrorKind;
    let invalid = |e: &dyn std::fmt::Display| {
        (
            format!("invalid endpoint {endpoint:?}: {e}"),
            ExportErrorKind::Configuration,
        )
    };
    let uri: http::Uri = endpoint.parse().map_err(|e| invalid(&e))?;
    if !https {
        return tonic::transport::Endpoint::from_shared(endpoint.to_owned())
            .map(|e| (e, None))
            .map_err(|e| invalid(&e));
    }
    let config = tls.client_config(&[b"h2"]).map_err(|problem| {
        (
            format!("{problem}; the TLS settings cannot work, nothing is sent"),
            ExportErrorKind::Tls,
        )
    })?;
    let host = uri.host().ok_or_else(|| invalid(&"no host"))?;
    let port = uri.port_u16().unwrap_or(443);
    let path = uri.path_and_query().map_or("", |p| p.as_str());
    let dial = if host.contains(':') && !host.starts_with('[') {
        format!("http://[{host}]:{port}{path}")
    } else {
        format!("http://{host}:{port}{path}")
    };
    let e = tonic::transport::Endpoint::from_shared(dial)
        .map_err(|e| invalid(&e))?
        .origin(uri);
    Ok((e, Some(TonicTls { config })))
}
