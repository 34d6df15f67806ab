//! Attribute names from the OpenTelemetry semantic conventions, taken from
//! `opentelemetry-semantic-conventions` (schema 1.42.0) rather than spelled out in the code.

#![cfg_attr(
    not(any(
        feature = "http",
        feature = "tonic",
        feature = "amqp",
        feature = "nats"
    )),
    allow(unused_imports, dead_code)
)]

pub(crate) use opentelemetry_semantic_conventions::attribute as attr;

/// gRPC spans keep the names Jaeger, Tempo and the other backends' RPC views key on
/// (`rpc.system`, `rpc.service`, `rpc.grpc.status_code`); schema 1.42 renames them
/// (`rpc.system.name`, the service folded into `rpc.method`, `rpc.response.status_code`).
#[allow(deprecated)]
#[cfg_attr(not(feature = "tonic"), allow(dead_code))]
pub(crate) mod rpc {
    use opentelemetry_semantic_conventions::attribute as a;

    pub(crate) const SYSTEM: &str = a::RPC_SYSTEM;
    pub(crate) const SERVICE: &str = a::RPC_SERVICE;
    pub(crate) const METHOD: &str = a::RPC_METHOD;
    pub(crate) const GRPC_STATUS_CODE: &str = a::RPC_GRPC_STATUS_CODE;
}

/// Where code is: the file and line of schema 1.42, and the module path under the name
/// `code.namespace`, which 1.42 folds into `code.function.name` (a module path alone has no
/// newer name).
pub(crate) mod code {
    use opentelemetry_semantic_conventions::attribute as a;

    pub(crate) const FILE_PATH: &str = a::CODE_FILE_PATH;
    pub(crate) const LINE_NUMBER: &str = a::CODE_LINE_NUMBER;
    #[allow(deprecated)]
    pub(crate) const NAMESPACE: &str = a::CODE_NAMESPACE;
}
