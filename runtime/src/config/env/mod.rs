//! Reading the `OTEL_*` environment variables, with one warning per value we could not use.

use std::time::Duration;

use crate::sampler::{AlwaysOff, AlwaysOn, ParentBased, RateLimiting, Sampler, TraceIdRatio};
use crate::span::{KeyValue, SpanLimits};
use crate::tracer::BatchConfig;

mod var;

use var::{Count, Millis, Positive, Rate, Ratio, Vars};

/// The longest delay or timeout the environment may set: one hour.
const MAX_DELAY: Millis = Millis(Duration::from_secs(3600));
/// The largest attribute, event or link count limit the environment may set.
const MAX_COUNT_LIMIT: u32 = 1 << 16;
/// The largest value length limit the environment may set (characters).
const MAX_LENGTH_LIMIT: u32 = 1 << 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExporterChoice {
    Console,
    None,
    Otlp,
    Zipkin,
    File,
    SkyWalking,
}

/// The SkyWalking agents' `SW_AGENT_*` settings, already validated.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SkyWalkingEnv {
    /// The OAP: `host:port`, or with an `http://` / `https://` scheme.
    pub(super) address: String,
    pub(super) http: bool,
    pub(super) token: Option<String>,
    pub(super) force_tls: bool,
    /// `(variable, path)` of the CA file, the client certificate chain and key.
    pub(super) certificate: Option<(String, String)>,
    pub(super) client_certificate: Option<(String, String)>,
    pub(super) client_key: Option<(String, String)>,
    pub(super) heartbeat: Duration,
}

impl Default for SkyWalkingEnv {
    fn default() -> Self {
        SkyWalkingEnv {
            address: "127.0.0.1:11800".into(),
            http: false,
            token: None,
            force_tls: false,
            certificate: None,
            client_certificate: None,
            client_key: None,
            heartbeat: Duration::from_secs(30),
        }
    }
}

/// `OTEL_EXPORTER_OTLP_COMPRESSION`, as far as this build can honour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Compression {
    #[default]
    None,
    Gzip,
    /// Only with the `zstd` feature, and only for the HTTP protocols.
    Zstd,
}

/// The `OTEL_EXPORTER_OTLP_*` settings (the `TRACES_` variants win), already validated.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OtlpEnv {
    /// The full URL requests go to (HTTP protocols).
    pub(super) url: String,
    /// The endpoint for gRPC, used as is.
    pub(super) grpc_endpoint: String,
    pub(super) json: bool,
    pub(super) grpc: bool,
    pub(super) headers: Vec<(String, String)>,
    pub(super) timeout: Duration,
    pub(super) compression: Compression,
    /// `(variable, path)` of the CA file (`..._CERTIFICATE`).
    pub(super) certificate: Option<(String, String)>,
    /// `(variable, path)` of the client certificate chain (`..._CLIENT_CERTIFICATE`).
    pub(super) client_certificate: Option<(String, String)>,
    /// `(variable, path)` of the client key (`..._CLIENT_KEY`).
    pub(super) client_key: Option<(String, String)>,
    /// `..._INSECURE`: plaintext gRPC for an endpoint without a scheme.
    pub(super) insecure: bool,
}

impl Default for OtlpEnv {
    fn default() -> Self {
        OtlpEnv {
            url: "http://localhost:4318/v1/traces".into(),
            grpc_endpoint: "http://localhost:4317".into(),
            json: false,
            grpc: false,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            compression: Compression::None,
            certificate: None,
            client_certificate: None,
            client_key: None,
            insecure: false,
        }
    }
}

/// What the `OTEL_*` variables say, with a warning for each value we could not use.
#[derive(Debug)]
pub(super) struct EnvConfig {
    pub(super) service_name: Option<String>,
    pub(super) resource: Vec<KeyValue>,
    pub(super) sampler: Option<Box<dyn Sampler>>,
    pub(super) exporters: Vec<ExporterChoice>,
    pub(super) max_queue_size: Option<usize>,
    pub(super) schedule_delay: Option<Duration>,
    pub(super) max_export_batch_size: Option<usize>,
    pub(super) export_timeout: Option<Duration>,
    /// The `OTEL_*_LIMIT` variables over the defaults.
    pub(super) span_limits: SpanLimits,
    pub(super) disabled: Option<bool>,
    /// `OTEL_PROPAGATORS`, validated.
    pub(super) propagators: Option<Vec<String>>,
    pub(super) otlp: OtlpEnv,
    pub(super) skywalking: SkyWalkingEnv,
    pub(super) zipkin_url: String,
    pub(super) zipkin_timeout: Duration,
    pub(super) file_path: String,
    pub(super) warnings: Vec<String>,
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig {
            service_name: None,
            resource: Vec::new(),
            sampler: None,
            exporters: vec![ExporterChoice::Console],
            max_queue_size: None,
            schedule_delay: None,
            max_export_batch_size: None,
            export_timeout: None,
            span_limits: SpanLimits::DEFAULT,
            disabled: None,
            propagators: None,
            otlp: OtlpEnv::default(),
            skywalking: SkyWalkingEnv::default(),
            zipkin_url: "http://localhost:9411/api/v2/spans".into(),
            zipkin_timeout: Duration::from_secs(10),
            file_path: "traces.otlp.jsonl".into(),
            warnings: Vec::new(),
        }
    }
}

impl EnvConfig {
    pub(super) fn read(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut c = EnvConfig::default();
        let mut vars = Vars::new(&get);
        c.read_vars(&mut vars);
        c.warnings = vars.warnings;
        c
    }

    fn read_vars(&mut self, vars: &mut Vars<'_>) {
        let c = self;
        c.disabled = vars.var::<bool>("OTEL_SDK_DISABLED", false);
        // The SkyWalking agents' name for the service wins: it is what a SkyWalking shop sets.
        c.service_name = vars
            .text("SW_AGENT_NAME")
            .or_else(|| vars.text("OTEL_SERVICE_NAME"));
        if let Some(v) = vars.text("OTEL_RESOURCE_ATTRIBUTES") {
            for pair in v.split(',').filter(|p| !p.trim().is_empty()) {
                match pair.split_once('=') {
                    Some((k, val)) if !k.trim().is_empty() => c.resource.push(KeyValue::new(
                        crate::propagation::percent::decode(k.trim()),
                        crate::propagation::percent::decode(val.trim()),
                    )),
                    _ => vars.warn(format!(
                        "OTEL_RESOURCE_ATTRIBUTES member {pair:?} is not key=value; ignoring it"
                    )),
                }
            }
        }
        if let Some(v) = vars.text("OTEL_TRACES_SAMPLER") {
            c.sampler = Self::parse_sampler(vars, &v);
        }
        if let Some(v) = vars.text("OTEL_TRACES_EXPORTER") {
            let mut list = Vec::new();
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match name {
                    "console" | "logging" => list.push(ExporterChoice::Console),
                    "none" => list.push(ExporterChoice::None),
                    "otlp" if cfg!(feature = "otlp-http") => list.push(ExporterChoice::Otlp),
                    "zipkin" if cfg!(feature = "zipkin") => list.push(ExporterChoice::Zipkin),
                    "file" if cfg!(feature = "file") => list.push(ExporterChoice::File),
                    "skywalking" if cfg!(feature = "skywalking") => {
                        list.push(ExporterChoice::SkyWalking)
                    }
                    "otlp" | "zipkin" | "file" | "skywalking" => vars.warn(format!(
                        "OTEL_TRACES_EXPORTER names {name:?}, but traceweave was built without \
                         its `{}` feature; using console instead",
                        if name == "otlp" { "otlp-http" } else { name }
                    )),
                    other => vars.warn(format!(
                        "OTEL_TRACES_EXPORTER names {other:?}, which traceweave does not have \
                         (it has: otlp, zipkin, skywalking, file, console, none); using console \
                         instead"
                    )),
                }
            }
            if list.is_empty() {
                list.push(ExporterChoice::Console);
            }
            c.exporters = list;
        }
        if let Some(v) = vars.text("OTEL_PROPAGATORS") {
            let mut names = Vec::new();
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match crate::propagation::by_name(name) {
                    Ok(_) if name == "none" => {}
                    Ok(_) => names.push(name.to_owned()),
                    Err(e) => vars.warn(format!("OTEL_PROPAGATORS: {e}; ignoring it")),
                }
            }
            c.propagators = Some(names);
        }
        c.read_otlp(vars);
        // An OTLP endpoint and no exporter named: the user wants OTLP, not the console tree
        // (the spec's default exporter is `otlp`; ours is the console so that a first run with
        // nothing set shows its spans).
        let endpoint_set = vars.text("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || vars.text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
        if vars.text("OTEL_TRACES_EXPORTER").is_none()
            && endpoint_set
            && cfg!(feature = "otlp-http")
        {
            c.exporters = vec![ExporterChoice::Otlp];
        }
        c.read_skywalking(vars);
        if let Some(v) = vars.text("SW_AGENT_INSTANCE_NAME") {
            c.resource
                .push(KeyValue::new(crate::semconv::attr::SERVICE_INSTANCE_ID, v));
        }
        // An OAP named and no exporter: the user wants SkyWalking (as an agent would).
        if vars.text("OTEL_TRACES_EXPORTER").is_none()
            && vars.text("SW_AGENT_COLLECTOR_BACKEND_SERVICES").is_some()
        {
            if cfg!(feature = "skywalking") {
                if endpoint_set {
                    c.exporters.push(ExporterChoice::SkyWalking);
                } else {
                    c.exporters = vec![ExporterChoice::SkyWalking];
                }
            } else {
                vars.warn(
                    "SW_AGENT_COLLECTOR_BACKEND_SERVICES is set, but traceweave was built \
                     without its `skywalking` feature; not reporting to SkyWalking"
                        .into(),
                );
            }
        }
        if let Some(v) = vars.text("OTEL_EXPORTER_ZIPKIN_ENDPOINT") {
            c.zipkin_url = v;
        }
        if let Some(Millis(timeout)) = vars.var("OTEL_EXPORTER_ZIPKIN_TIMEOUT", 10_000) {
            c.zipkin_timeout = timeout;
        }
        if let Some(v) = vars.text("TRACEWEAVE_EXPORTER_FILE_PATH") {
            c.file_path = v;
        }
        let size = |p: Positive| p.0.to_string();
        let millis = |m: Millis| m.0.as_millis().to_string();
        c.max_queue_size = (vars.var_at_most(
            "OTEL_BSP_MAX_QUEUE_SIZE",
            BatchConfig::DEFAULT_MAX_QUEUE_SIZE,
            Positive(BatchConfig::MAX_QUEUE_SIZE),
            size,
        ))
        .map(|p| p.0);
        c.max_export_batch_size = (vars.var_at_most(
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            512,
            Positive(BatchConfig::MAX_EXPORT_BATCH_SIZE),
            size,
        ))
        .map(|p| p.0);
        c.schedule_delay =
            (vars.var_at_most("OTEL_BSP_SCHEDULE_DELAY", 5000, MAX_DELAY, millis)).map(|m| m.0);
        c.export_timeout =
            (vars.var_at_most("OTEL_BSP_EXPORT_TIMEOUT", 30000, MAX_DELAY, millis)).map(|m| m.0);
        c.read_limits(vars);
    }

    /// The `SW_AGENT_*` variables of SkyWalking's agents (Java, Python, go2sky's examples).
    fn read_skywalking(&mut self, vars: &mut Vars<'_>) {
        let sw = &mut self.skywalking;
        if let Some(v) = vars.text("SW_AGENT_COLLECTOR_BACKEND_SERVICES") {
            let mut list = v.split(',').map(str::trim).filter(|s| !s.is_empty());
            let first = list.next().unwrap_or_default().to_owned();
            if list.next().is_some() {
                vars.warn(format!(
                    "SW_AGENT_COLLECTOR_BACKEND_SERVICES names several OAPs; traceweave reports \
                     to the first, {first}"
                ));
            }
            match check_oap_address(&first) {
                Ok(()) => sw.address = first,
                Err(why) => vars.warn(format!(
                    "SW_AGENT_COLLECTOR_BACKEND_SERVICES={first:?} {why}; using {}",
                    sw.address
                )),
            }
        }
        if let Some(v) = vars.text("SW_AGENT_PROTOCOL") {
            match v.to_ascii_lowercase().as_str() {
                "grpc" => sw.http = false,
                "http" => sw.http = true,
                other => vars.warn(format!(
                    "SW_AGENT_PROTOCOL={other:?} is not available (traceweave speaks grpc and \
                     http); using grpc"
                )),
            }
        }
        sw.token = vars.text("SW_AGENT_AUTHENTICATION");
        if let Some(on) = vars.var::<bool>("SW_AGENT_FORCE_TLS", false) {
            sw.force_tls = on;
        }
        let file = |vars: &Vars<'_>, name: &str| vars.text(name).map(|p| (name.to_owned(), p));
        sw.certificate = file(vars, "SW_AGENT_SSL_TRUSTED_CA_PATH");
        sw.client_certificate = file(vars, "SW_AGENT_SSL_CERT_CHAIN_PATH");
        sw.client_key = file(vars, "SW_AGENT_SSL_KEY_PATH");
        if let Some(Positive(secs)) = vars.var_at_most(
            "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD",
            30,
            Positive(3600),
            |p| p.0.to_string(),
        ) {
            sw.heartbeat = Duration::from_secs(secs as u64);
        }
    }

    /// The span limits: the span-specific variables win over the general ones.
    fn read_limits(&mut self, vars: &mut Vars<'_>) {
        let d = SpanLimits::DEFAULT;
        // A limit: 0 is allowed (keep none), larger than its maximum is clamped.
        let mut limit = |name: &str, max: u32| {
            let max = Count(u64::from(max));
            (vars.var_at_most(name, "the default", max, |c| c.0.to_string()))
                .map(|c| u32::try_from(c.0).unwrap_or(u32::MAX))
        };
        let general_count = limit("OTEL_ATTRIBUTE_COUNT_LIMIT", MAX_COUNT_LIMIT);
        let general_length = limit("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LENGTH_LIMIT);
        let mut count = |name: &str, default: u32| {
            limit(name, MAX_COUNT_LIMIT)
                .or(general_count)
                .unwrap_or(default)
        };
        let attribute_count = count("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", d.attribute_count);
        let attributes_per_event =
            count("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", d.attributes_per_event);
        let attributes_per_link = count("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", d.attributes_per_link);
        self.span_limits = SpanLimits {
            attribute_count,
            event_count: (limit("OTEL_SPAN_EVENT_COUNT_LIMIT", MAX_COUNT_LIMIT))
                .unwrap_or(d.event_count),
            link_count: (limit("OTEL_SPAN_LINK_COUNT_LIMIT", MAX_COUNT_LIMIT))
                .unwrap_or(d.link_count),
            attributes_per_event,
            attributes_per_link,
            attribute_value_length: (limit(
                "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                MAX_LENGTH_LIMIT,
            ))
            .or(general_length)
            .or(d.attribute_value_length),
        };
    }

    fn read_otlp(&mut self, vars: &mut Vars<'_>) {
        // The signal-specific variable wins over the general one.
        let pick = |vars: &Vars<'_>, name: &str| {
            let specific = format!("OTEL_EXPORTER_OTLP_TRACES_{name}");
            vars.text(&specific).map(|v| (specific, v)).or_else(|| {
                let general = format!("OTEL_EXPORTER_OTLP_{name}");
                vars.text(&general).map(|v| (general, v))
            })
        };
        let mut endpoint_var = None;
        if let Some(v) = vars.text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            self.otlp.url = v.clone();
            self.otlp.grpc_endpoint = v;
            endpoint_var = Some("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        } else if let Some(v) = vars.text("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self.otlp.url = format!("{}/v1/traces", v.trim_end_matches('/'));
            self.otlp.grpc_endpoint = v;
            endpoint_var = Some("OTEL_EXPORTER_OTLP_ENDPOINT");
        }
        if let Some((var, v)) = pick(vars, "PROTOCOL") {
            match v.as_str() {
                "http/protobuf" => self.otlp.json = false,
                "http/json" => self.otlp.json = true,
                "grpc" if cfg!(feature = "otlp-grpc") => self.otlp.grpc = true,
                other => vars.warn(format!(
                    "{var}={other:?} is not available (this build speaks http/protobuf, \
                     http/json{}); using http/protobuf",
                    if cfg!(feature = "otlp-grpc") {
                        " and grpc"
                    } else {
                        "; grpc needs the `otlp-grpc` feature"
                    }
                )),
            }
        }
        // Header values carry credentials: no message below prints one, only header names.
        if let Some((var, v)) = pick(vars, "HEADERS") {
            for (i, pair) in v.split(',').filter(|p| !p.trim().is_empty()).enumerate() {
                match pair.split_once('=') {
                    Some((k, val)) if !k.trim().is_empty() => {
                        let key = crate::propagation::percent::decode(k.trim());
                        let value = crate::propagation::percent::decode(val.trim());
                        if !crate::propagation::is_token(&key) {
                            vars.warn(format!(
                                "{var}: member {} has a name that is not a valid header name; \
                                 it is not sent",
                                i + 1
                            ));
                        } else if !value
                            .bytes()
                            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
                        {
                            vars.warn(format!(
                                "{var}: the value of header {key:?} is not valid header text \
                                 after percent-decoding (control characters or non-ASCII); it \
                                 is not sent"
                            ));
                        } else {
                            self.otlp.headers.push((key, value));
                        }
                    }
                    _ => vars.warn(format!(
                        "{var}: member {} is not key=value; ignoring it",
                        i + 1
                    )),
                }
            }
        }
        if let Some((var, _)) = pick(vars, "TIMEOUT")
            && let Some(Millis(timeout)) = vars.var(&var, 10_000)
        {
            self.otlp.timeout = timeout;
        }
        self.otlp.certificate = pick(vars, "CERTIFICATE");
        self.otlp.client_certificate = pick(vars, "CLIENT_CERTIFICATE");
        self.otlp.client_key = pick(vars, "CLIENT_KEY");
        if let Some((var, _)) = pick(vars, "INSECURE") {
            self.otlp.insecure = vars.var::<bool>(&var, false).unwrap_or(false);
        }
        if let Some(var) = endpoint_var {
            self.check_otlp_endpoint(vars, var);
        }
        if let Some((var, v)) = pick(vars, "COMPRESSION") {
            self.otlp.compression = match v.as_str() {
                "gzip" => Compression::Gzip,
                "none" => Compression::None,
                "zstd" if self.otlp.grpc => {
                    vars.warn(format!(
                        "{var}=zstd: OTLP/gRPC is sent with gzip here (zstd is for \
                         http/protobuf and http/json); using gzip"
                    ));
                    Compression::Gzip
                }
                "zstd" if cfg!(feature = "zstd") => Compression::Zstd,
                "zstd" => {
                    vars.warn(format!(
                        "{var}=zstd needs traceweave's `zstd` feature; using gzip"
                    ));
                    Compression::Gzip
                }
                other => {
                    vars.warn(format!(
                        "{var}={other:?} is not gzip, zstd or none; using none"
                    ));
                    Compression::None
                }
            };
        }
    }

    /// One line per endpoint problem that would lose every span, said at `init` rather than
    /// discovered in the collector's silence.
    fn check_otlp_endpoint(&self, vars: &mut Vars<'_>, var: &str) {
        let endpoint = if self.otlp.grpc {
            self.otlp.grpc_endpoint.clone()
        } else {
            self.otlp.url.clone()
        };
        let shown = redact_userinfo(&endpoint);
        // gRPC takes `host:port` too: TLS unless OTEL_EXPORTER_OTLP_INSECURE=true.
        let (scheme, rest) = match endpoint.split_once("://") {
            Some(parts) => parts,
            None if self.otlp.grpc => (
                if self.otlp.insecure { "http" } else { "https" },
                endpoint.as_str(),
            ),
            None => {
                vars.warn(format!(
                    "{var}={shown:?} has no scheme; write http://host:port or \
                     https://host:port (spans will not be delivered)"
                ));
                return;
            }
        };
        let tls_vars: Vec<&str> = [
            &self.otlp.certificate,
            &self.otlp.client_certificate,
            &self.otlp.client_key,
        ]
        .into_iter()
        .flatten()
        .map(|(v, _)| v.as_str())
        .collect();
        if scheme.eq_ignore_ascii_case("http") && !tls_vars.is_empty() {
            vars.warn(format!(
                "{} set, but {var}={shown:?} is plaintext http; the TLS settings are unused",
                tls_vars.join(" and ")
            ));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" if !cfg!(feature = "otlp-tls") => vars.warn(format!(
                "{var}={shown:?} needs TLS, and traceweave was built without its `otlp-tls` \
                 feature (on by default); spans will not be delivered"
            )),
            "https" => {}
            other => vars.warn(format!(
                "{var}={shown:?} has the scheme {other:?}; OTLP needs http:// or https:// \
                 (spans will not be delivered)"
            )),
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let port = authority
            .rsplit_once(':')
            .filter(|(_, p)| !p.contains(']'))
            .and_then(|(_, p)| p.parse::<u16>().ok());
        match (self.otlp.grpc, port) {
            (true, Some(4318)) => vars.warn(format!(
                "{var}={shown:?}: the protocol is grpc, but 4318 is the OTLP/HTTP port \
                 (gRPC receivers listen on 4317)"
            )),
            (false, Some(4317)) => vars.warn(format!(
                "{var}={shown:?}: the protocol is http, but 4317 is the OTLP/gRPC port \
                 (HTTP receivers listen on 4318; or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc)"
            )),
            _ => {}
        }
    }

    fn parse_sampler(vars: &mut Vars<'_>, name: &str) -> Option<Box<dyn Sampler>> {
        const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
        let ratio = |vars: &mut Vars<'_>| vars.var(ARG, "1.0").map_or(1.0, |Ratio(r)| r);
        let rate = |vars: &mut Vars<'_>| vars.var(ARG, 100).map_or(100.0, |Rate(r)| r);
        let s: Box<dyn Sampler> = match name {
            "always_on" => Box::new(AlwaysOn),
            "always_off" => Box::new(AlwaysOff),
            "traceidratio" => Box::new(TraceIdRatio::new(ratio(vars))),
            "parentbased_always_on" => Box::new(ParentBased::new(AlwaysOn)),
            "parentbased_always_off" => Box::new(ParentBased::new(AlwaysOff)),
            "parentbased_traceidratio" => {
                Box::new(ParentBased::new(TraceIdRatio::new(ratio(vars))))
            }
            "ratelimiting" => Box::new(RateLimiting::new(rate(vars))),
            "parentbased_ratelimiting" => Box::new(ParentBased::new(RateLimiting::new(rate(vars)))),
            other => {
                vars.warn(format!(
                    "OTEL_TRACES_SAMPLER={other:?} is not a known sampler (always_on, \
                     always_off, traceidratio, parentbased_always_on, parentbased_always_off, \
                     parentbased_traceidratio, ratelimiting, parentbased_ratelimiting); using \
                     parentbased_always_on"
                ));
                return None;
            }
        };
        Some(s)
    }
}

/// `https://user:secret@host` → `https://***@host`: an endpoint may carry credentials too.
/// Whether an OAP address can work: `host:port`, or a URL with an `http`/`https` scheme.
fn check_oap_address(address: &str) -> Result<(), &'static str> {
    let rest = match address.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            return if rest.trim_end_matches('/').is_empty() {
                Err("names no host")
            } else {
                Ok(())
            };
        }
        Some(_) => return Err("has a scheme other than http or https"),
        None => address,
    };
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(())
        }
        _ => Err("is not host:port"),
    }
}

fn redact_userinfo(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            return format!("{scheme}://***@{}", &rest[at + 1..]);
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> EnvConfig {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvConfig::read(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_with_nothing_set() {
        let c = read(&[]);
        assert!(c.warnings.is_empty());
        assert_eq!(c.exporters, vec![ExporterChoice::Console]);
        assert!(c.sampler.is_none() && c.disabled.is_none());
    }

    #[test]
    fn reads_the_otel_names() {
        let c = read(&[
            ("OTEL_SERVICE_NAME", "shop"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,team=a%20b",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
            ("OTEL_SDK_DISABLED", "TRUE"),
            (
                "OTEL_PROPAGATORS",
                "tracecontext, b3multi,jaeger,sw8,baggage",
            ),
        ]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.service_name.as_deref(), Some("shop"));
        assert_eq!(c.resource[1], KeyValue::new("team", "a b"));
        assert!(format!("{:?}", c.sampler).contains("0.25"));
        assert_eq!(c.exporters, vec![ExporterChoice::None]);
        assert_eq!(c.max_queue_size, Some(100));
        assert_eq!(c.schedule_delay, Some(Duration::from_millis(250)));
        assert_eq!(c.max_export_batch_size, Some(10));
        assert_eq!(c.export_timeout, Some(Duration::from_secs(1)));
        assert_eq!(c.disabled, Some(true));
        assert_eq!(
            c.propagators.as_deref().unwrap(),
            ["tracecontext", "b3multi", "jaeger", "sw8", "baggage"]
        );
        let none = read(&[("OTEL_PROPAGATORS", "none")]);
        assert_eq!(none.propagators.as_deref().unwrap(), [] as [String; 0]);
        let bad = read(&[("OTEL_PROPAGATORS", "tracecontext,xray")]);
        assert_eq!(bad.propagators.as_deref().unwrap(), ["tracecontext"]);
        assert!(bad.warnings[0].contains("\"xray\""), "{:?}", bad.warnings);
    }

    #[test]
    #[cfg(feature = "otlp-http")]
    fn an_endpoint_alone_means_otlp_and_a_named_exporter_still_wins() {
        let c = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]);
        assert_eq!(c.exporters, vec![ExporterChoice::Otlp]);
        let c = read(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces",
        )]);
        assert_eq!(c.exporters, vec![ExporterChoice::Otlp]);
        let c = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_TRACES_EXPORTER", "console,otlp"),
        ]);
        assert_eq!(
            c.exporters,
            vec![ExporterChoice::Console, ExporterChoice::Otlp]
        );
    }

    #[test]
    fn otlp_endpoint_rules_and_settings() {
        let c = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
        assert_eq!(c.otlp.url, "http://collector:4318/v1/traces");
        let c = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/custom/path",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s%20ecret,x-tenant=acme",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.otlp.url, "http://tempo:4318/custom/path");
        assert!(c.otlp.json && c.otlp.compression == Compression::Gzip);
        assert_eq!(
            c.otlp.headers[0],
            ("api-key".to_string(), "s ecret".to_string())
        );
        assert_eq!(c.otlp.timeout, Duration::from_millis(2500));
        let bad = read(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
        ]);
        assert_eq!(bad.warnings.len(), 2, "{:?}", bad.warnings);
        assert!(bad.warnings[0].contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\""));
        assert!(bad.warnings[1].contains("\"brotli\" is not gzip, zstd or none"));
        assert_eq!(bad.otlp.compression, Compression::None);
        let zstd = read(&[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")]);
        if cfg!(feature = "zstd") {
            assert!(zstd.warnings.is_empty(), "{:?}", zstd.warnings);
            assert_eq!(zstd.otlp.compression, Compression::Zstd);
        } else {
            assert!(zstd.warnings[0].contains("needs traceweave's `zstd` feature"));
            assert_eq!(zstd.otlp.compression, Compression::Gzip);
        }
        let grpc = read(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ]);
        assert_eq!(grpc.otlp.grpc, cfg!(feature = "otlp-grpc"));
        assert_eq!(
            grpc.otlp.grpc_endpoint, "http://collector:4317",
            "used as is for gRPC"
        );
    }

    #[test]
    fn endpoints_that_cannot_work_are_named_at_init_without_secrets() {
        let w = |vars: &[(&str, &str)]| read(vars).warnings;
        assert!(w(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]).is_empty());
        assert!(w(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector")]).is_empty());
        let unknown = w(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "htp://collector:4318")]);
        assert!(unknown[0].contains("scheme \"htp\""), "{unknown:?}");
        let none = w(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]);
        assert!(none[0].contains("no scheme"), "{none:?}");
        let wrong_port = w(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")]);
        assert!(
            wrong_port[0].contains("4317 is the OTLP/gRPC port"),
            "{wrong_port:?}"
        );
        if cfg!(feature = "otlp-grpc") {
            let grpc = w(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ]);
            assert!(grpc[0].contains("4318 is the OTLP/HTTP port"), "{grpc:?}");
        }
        let creds = w(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "ftp://user:hunter2@collector:4318",
        )]);
        assert!(creds[0].contains("ftp://***@collector:4318"), "{creds:?}");
        assert!(!creds[0].contains("hunter2"));
        // Header values are never printed, valid or not.
        let c = read(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20hunter2%0A,x-ok=1,bad name=hunter3,hunter4",
        )]);
        assert_eq!(c.otlp.headers, [("x-ok".to_string(), "1".to_string())]);
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("\"authorization\""));
        for line in &c.warnings {
            assert!(!line.contains("hunter"), "{line}");
        }
    }

    #[test]
    fn tls_variables_specific_first_and_checked_against_the_endpoint() {
        let c = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/general-ca.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/etc/ca.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/etc/client.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/etc/client.key"),
        ]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let var_path = |v: &Option<(String, String)>| v.clone().unwrap();
        assert_eq!(
            var_path(&c.otlp.certificate),
            (
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE".into(),
                "/etc/ca.pem".into()
            )
        );
        assert_eq!(var_path(&c.otlp.client_key).1, "/etc/client.key");
        // TLS files with a plaintext endpoint: said, since nothing will use them.
        let plain = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
        ]);
        assert!(
            plain.warnings[0].contains("OTEL_EXPORTER_OTLP_CERTIFICATE set")
                && plain.warnings[0].contains("TLS settings are unused"),
            "{:?}",
            plain.warnings
        );
        let bad = read(&[("OTEL_EXPORTER_OTLP_INSECURE", "yes")]);
        assert!(
            bad.warnings[0].contains("not true or false"),
            "{:?}",
            bad.warnings
        );
        if cfg!(feature = "otlp-grpc") {
            // gRPC takes host:port: TLS unless INSECURE, and no "no scheme" complaint.
            let tls = read(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ]);
            assert!(
                tls.warnings.is_empty() && !tls.otlp.insecure,
                "{:?}",
                tls.warnings
            );
            let insecure = read(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "TRUE"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
            ]);
            assert!(insecure.otlp.insecure);
            assert!(
                insecure.warnings[0].contains("TLS settings are unused"),
                "{:?}",
                insecure.warnings
            );
        }
    }

    #[test]
    fn huge_numbers_are_clamped_with_a_warning() {
        let c = read(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "1000000000"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1000000000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "99999999999"),
        ]);
        assert_eq!(c.max_queue_size, Some(BatchConfig::MAX_QUEUE_SIZE));
        assert_eq!(
            c.max_export_batch_size,
            Some(BatchConfig::MAX_EXPORT_BATCH_SIZE)
        );
        assert_eq!(c.schedule_delay, Some(MAX_DELAY.0));
        assert_eq!(c.warnings.len(), 3, "{:#?}", c.warnings);
        assert!(c.warnings[0].contains("OTEL_BSP_MAX_QUEUE_SIZE=1000000000"));
    }

    #[test]
    fn invalid_values_warn_once_each_and_name_the_fallback() {
        let c = read(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
            ("OTEL_TRACES_EXPORTER", "jaeger-thrift"),
            ("OTEL_SDK_DISABLED", "yes"),
        ]);
        assert_eq!(c.warnings.len(), 4, "{:#?}", c.warnings);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("OTEL_TRACES_SAMPLER_ARG=\"1.5\"") && w.contains("using 1.0"))
        );
        assert!(
            c.warnings.iter().any(
                |w| w.contains("OTEL_BSP_MAX_QUEUE_SIZE=\"lots\"") && w.contains("using 16384")
            )
        );
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("jaeger-thrift") && w.contains("console"))
        );
        assert!(c.warnings.iter().any(|w| w.contains("OTEL_SDK_DISABLED")));
        // A `%` before a multi-byte character is kept, not split (no panic).
        let odd = read(&[("OTEL_RESOURCE_ATTRIBUTES", "k=%é1")]);
        assert_eq!(odd.resource[0], KeyValue::new("k", "%é1"));
        let bad = read(&[("OTEL_TRACES_SAMPLER", "sometimes")]);
        assert!(bad.sampler.is_none());
        assert!(bad.warnings[0].contains("using parentbased_always_on"));
    }

    #[test]
    fn the_skywalking_agents_variables_alone_configure_the_skywalking_exporter() {
        let c = read(&[
            ("OTEL_SERVICE_NAME", "otel-name"),
            ("SW_AGENT_NAME", "gateway"),
            ("SW_AGENT_INSTANCE_NAME", "gateway-1@host"),
            ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap.internal:11800"),
            ("SW_AGENT_AUTHENTICATION", "s3cret"),
            ("SW_AGENT_PROTOCOL", "HTTP"),
            ("SW_AGENT_FORCE_TLS", "true"),
            ("SW_AGENT_SSL_TRUSTED_CA_PATH", "/etc/oap/ca.pem"),
            ("SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "5"),
        ]);
        if cfg!(feature = "skywalking") {
            assert!(c.warnings.is_empty(), "{:#?}", c.warnings);
        } else {
            assert_eq!(c.warnings.len(), 1, "{:#?}", c.warnings);
            assert!(c.warnings[0].contains("without its `skywalking` feature"));
        }
        assert_eq!(c.service_name.as_deref(), Some("gateway"));
        assert!(
            c.resource
                .contains(&KeyValue::new("service.instance.id", "gateway-1@host"))
        );
        if cfg!(feature = "skywalking") {
            assert_eq!(c.exporters, vec![ExporterChoice::SkyWalking]);
        }
        let sw = &c.skywalking;
        assert_eq!(sw.address, "oap.internal:11800");
        assert_eq!(sw.token.as_deref(), Some("s3cret"));
        assert!(sw.http && sw.force_tls);
        assert_eq!(
            sw.certificate,
            Some((
                "SW_AGENT_SSL_TRUSTED_CA_PATH".into(),
                "/etc/oap/ca.pem".into()
            ))
        );
        assert_eq!(sw.heartbeat, Duration::from_secs(5));
        // With nothing set: the OAP's usual gRPC port on this host, the console exporter.
        let none = read(&[]);
        assert_eq!(none.skywalking, SkyWalkingEnv::default());
        assert_eq!(none.skywalking.address, "127.0.0.1:11800");
        assert_eq!(none.exporters, vec![ExporterChoice::Console]);
        // A named exporter wins; an OTLP endpoint too keeps both.
        let both = read(&[
            ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:11800"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ]);
        if cfg!(feature = "skywalking") {
            assert_eq!(
                both.exporters,
                vec![ExporterChoice::Otlp, ExporterChoice::SkyWalking]
            );
        }
        let named = read(&[
            ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:11800"),
            ("OTEL_TRACES_EXPORTER", "console"),
        ]);
        assert_eq!(named.exporters, vec![ExporterChoice::Console]);
    }

    #[test]
    fn bad_skywalking_values_are_named_once_each_and_the_token_never() {
        let c = read(&[
            ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap-without-port"),
            ("SW_AGENT_PROTOCOL", "kafka"),
            ("SW_AGENT_FORCE_TLS", "maybe"),
            ("SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "0"),
            ("SW_AGENT_AUTHENTICATION", "tok3n-value"),
        ]);
        let extra = usize::from(!cfg!(feature = "skywalking"));
        assert_eq!(c.warnings.len(), 4 + extra, "{:#?}", c.warnings);
        let has = |a: &str, b: &str| c.warnings.iter().any(|w| w.contains(a) && w.contains(b));
        assert!(has(
            "SW_AGENT_COLLECTOR_BACKEND_SERVICES=\"oap-without-port\"",
            "127.0.0.1:11800"
        ));
        assert!(has("SW_AGENT_PROTOCOL=\"kafka\"", "using grpc"));
        assert!(has("SW_AGENT_FORCE_TLS", "using false"));
        assert!(has("SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "using 30"));
        assert!(c.warnings.iter().all(|w| !w.contains("tok3n")));
        assert_eq!(c.skywalking.address, "127.0.0.1:11800");
        for (address, ok) in [
            ("oap:11800", true),
            ("10.0.0.7:11800", true),
            ("http://oap:12800", true),
            ("https://oap.example.com", true),
            ("oap", false),
            ("oap:0", false),
            ("oap:99999", false),
            (":11800", false),
            ("ftp://oap:21", false),
            ("https://", false),
        ] {
            assert_eq!(check_oap_address(address).is_ok(), ok, "{address}");
        }
        let several = read(&[(
            "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
            "oap-a:11800, oap-b:11800",
        )]);
        assert_eq!(several.skywalking.address, "oap-a:11800");
        assert!(
            several
                .warnings
                .iter()
                .any(|w| w.contains("the first, oap-a:11800")),
            "{:?}",
            several.warnings
        );
    }

    #[test]
    fn span_limits_come_from_the_specific_then_the_general_variables() {
        let c = read(&[
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "5"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "0"),
            ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "7"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
        ]);
        assert_eq!(
            c.span_limits,
            SpanLimits {
                attribute_count: 10,
                attribute_value_length: Some(64),
                event_count: 0,
                link_count: 128,
                attributes_per_event: 5,
                attributes_per_link: 7,
            }
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = read(&[
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "16"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
        ]);
        assert_eq!(c.span_limits.attribute_value_length, Some(16));
        assert_eq!(read(&[]).span_limits, SpanLimits::DEFAULT);
    }

    #[test]
    fn absurd_span_limits_warn_and_clamp() {
        let c = read(&[
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1000000000000"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "-3"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1e9"),
        ]);
        assert_eq!(c.span_limits.attribute_count, MAX_COUNT_LIMIT);
        assert_eq!(c.span_limits.link_count, 128);
        assert_eq!(c.span_limits.attribute_value_length, None);
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(
            c.warnings.iter().any(|w| w.contains("using 65536")),
            "{:?}",
            c.warnings
        );
    }
}
