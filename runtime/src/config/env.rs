//! Reading the `OTEL_*` environment variables, with one warning per value we could not use.

use std::time::Duration;

use crate::sampler::{AlwaysOff, AlwaysOn, ParentBased, RateLimiting, Sampler, TraceIdRatio};
use crate::span::{KeyValue, SpanLimits};
use crate::tracer::BatchConfig;

/// The longest delay or timeout the environment may set: one hour.
const MAX_MILLIS: usize = 3_600_000;
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
    pub(super) gzip: bool,
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
            gzip: false,
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
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        if let Some(v) = get("OTEL_SDK_DISABLED") {
            match v.to_ascii_lowercase().as_str() {
                "true" => c.disabled = Some(true),
                "false" => c.disabled = Some(false),
                _ => c.warnings.push(format!(
                    "OTEL_SDK_DISABLED={v:?} is not `true` or `false`; using false"
                )),
            }
        }
        c.service_name = get("OTEL_SERVICE_NAME");
        if let Some(v) = get("OTEL_RESOURCE_ATTRIBUTES") {
            for pair in v.split(',').filter(|p| !p.trim().is_empty()) {
                match pair.split_once('=') {
                    Some((k, val)) if !k.trim().is_empty() => c.resource.push(KeyValue::new(
                        crate::propagation::percent::decode(k.trim()),
                        crate::propagation::percent::decode(val.trim()),
                    )),
                    _ => c.warnings.push(format!(
                        "OTEL_RESOURCE_ATTRIBUTES member {pair:?} is not key=value; ignoring it"
                    )),
                }
            }
        }
        let arg = get("OTEL_TRACES_SAMPLER_ARG");
        if let Some(v) = get("OTEL_TRACES_SAMPLER") {
            c.sampler = c.parse_sampler(&v, arg.as_deref());
        }
        if let Some(v) = get("OTEL_TRACES_EXPORTER") {
            let mut list = Vec::new();
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let available = cfg!(feature = "otlp");
                match name {
                    "console" | "logging" => list.push(ExporterChoice::Console),
                    "none" => list.push(ExporterChoice::None),
                    "otlp" if available => list.push(ExporterChoice::Otlp),
                    "zipkin" if available => list.push(ExporterChoice::Zipkin),
                    "file" if available => list.push(ExporterChoice::File),
                    "otlp" | "zipkin" | "file" => c.warnings.push(format!(
                        "OTEL_TRACES_EXPORTER names {name:?}, but traceweave was built without \
                         its `otlp` feature; using console instead"
                    )),
                    other => c.warnings.push(format!(
                        "OTEL_TRACES_EXPORTER names {other:?}, which traceweave does not have \
                         (it has: otlp, zipkin, file, console, none); using console instead"
                    )),
                }
            }
            if list.is_empty() {
                list.push(ExporterChoice::Console);
            }
            c.exporters = list;
        }
        if let Some(v) = get("OTEL_PROPAGATORS") {
            let mut names = Vec::new();
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match crate::propagation::by_name(name) {
                    Ok(_) if name == "none" => {}
                    Ok(_) => names.push(name.to_owned()),
                    Err(e) => c
                        .warnings
                        .push(format!("OTEL_PROPAGATORS: {e}; ignoring it")),
                }
            }
            c.propagators = Some(names);
        }
        c.read_otlp(&get);
        // An OTLP endpoint and no exporter named: the user wants OTLP, not the console tree
        // (the spec's default exporter is `otlp`; ours is the console so that a first run with
        // nothing set shows its spans).
        let endpoint_set = get("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
        if get("OTEL_TRACES_EXPORTER").is_none() && endpoint_set && cfg!(feature = "otlp") {
            c.exporters = vec![ExporterChoice::Otlp];
        }
        if let Some(v) = get("OTEL_EXPORTER_ZIPKIN_ENDPOINT") {
            c.zipkin_url = v;
        }
        if let Some(ms) = c.parse_number(&get, "OTEL_EXPORTER_ZIPKIN_TIMEOUT", 10_000) {
            c.zipkin_timeout = Duration::from_millis(ms as u64);
        }
        if let Some(v) = get("TRACEWEAVE_EXPORTER_FILE_PATH") {
            c.file_path = v;
        }
        c.max_queue_size = c.parse_number_at_most(
            &get,
            "OTEL_BSP_MAX_QUEUE_SIZE",
            BatchConfig::DEFAULT_MAX_QUEUE_SIZE,
            BatchConfig::MAX_QUEUE_SIZE,
        );
        c.max_export_batch_size = c.parse_number_at_most(
            &get,
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            512,
            BatchConfig::MAX_EXPORT_BATCH_SIZE,
        );
        c.schedule_delay = c
            .parse_number_at_most(&get, "OTEL_BSP_SCHEDULE_DELAY", 5000, MAX_MILLIS)
            .map(|ms| Duration::from_millis(ms as u64));
        c.export_timeout = c
            .parse_number_at_most(&get, "OTEL_BSP_EXPORT_TIMEOUT", 30000, MAX_MILLIS)
            .map(|ms| Duration::from_millis(ms as u64));
        c.read_limits(&get);
        c
    }

    /// The span limits: the span-specific variables win over the general ones.
    fn read_limits(&mut self, get: &impl Fn(&str) -> Option<String>) {
        let d = SpanLimits::DEFAULT;
        let general_count = self.parse_limit(get, "OTEL_ATTRIBUTE_COUNT_LIMIT", MAX_COUNT_LIMIT);
        let general_length =
            self.parse_limit(get, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LENGTH_LIMIT);
        let count = |c: &mut Self, key: &str, default: u32| {
            c.parse_limit(get, key, MAX_COUNT_LIMIT)
                .or(general_count)
                .unwrap_or(default)
        };
        self.span_limits = SpanLimits {
            attribute_count: count(self, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", d.attribute_count),
            event_count: self
                .parse_limit(get, "OTEL_SPAN_EVENT_COUNT_LIMIT", MAX_COUNT_LIMIT)
                .unwrap_or(d.event_count),
            link_count: self
                .parse_limit(get, "OTEL_SPAN_LINK_COUNT_LIMIT", MAX_COUNT_LIMIT)
                .unwrap_or(d.link_count),
            attributes_per_event: count(
                self,
                "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                d.attributes_per_event,
            ),
            attributes_per_link: count(
                self,
                "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
                d.attributes_per_link,
            ),
            attribute_value_length: self
                .parse_limit(
                    get,
                    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                    MAX_LENGTH_LIMIT,
                )
                .or(general_length)
                .or(d.attribute_value_length),
        };
    }

    /// A limit: a non-negative integer (0 is allowed: keep none), clamped to `max`.
    fn parse_limit(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
        key: &str,
        max: u32,
    ) -> Option<u32> {
        let v = get(key)?;
        match v.parse::<u64>() {
            Ok(n) if n > u64::from(max) => {
                self.warnings
                    .push(format!("{key}={n} is larger than the maximum; using {max}"));
                Some(max)
            }
            Ok(n) => Some(n as u32),
            Err(_) => {
                self.warnings.push(format!(
                    "{key}={v:?} is not a non-negative integer; using the default"
                ));
                None
            }
        }
    }

    fn read_otlp(&mut self, get: &impl Fn(&str) -> Option<String>) {
        // The signal-specific variable wins over the general one.
        let pick = |name: &str| {
            let specific = format!("OTEL_EXPORTER_OTLP_TRACES_{name}");
            get(&specific).map(|v| (specific, v)).or_else(|| {
                let general = format!("OTEL_EXPORTER_OTLP_{name}");
                get(&general).map(|v| (general, v))
            })
        };
        let mut endpoint_var = None;
        if let Some(v) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            self.otlp.url = v.clone();
            self.otlp.grpc_endpoint = v;
            endpoint_var = Some("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        } else if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self.otlp.url = format!("{}/v1/traces", v.trim_end_matches('/'));
            self.otlp.grpc_endpoint = v;
            endpoint_var = Some("OTEL_EXPORTER_OTLP_ENDPOINT");
        }
        if let Some((var, v)) = pick("PROTOCOL") {
            match v.as_str() {
                "http/protobuf" => self.otlp.json = false,
                "http/json" => self.otlp.json = true,
                "grpc" if cfg!(feature = "otlp-grpc") => self.otlp.grpc = true,
                other => self.warnings.push(format!(
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
        if let Some((var, v)) = pick("HEADERS") {
            for (i, pair) in v.split(',').filter(|p| !p.trim().is_empty()).enumerate() {
                match pair.split_once('=') {
                    Some((k, val)) if !k.trim().is_empty() => {
                        let key = crate::propagation::percent::decode(k.trim());
                        let value = crate::propagation::percent::decode(val.trim());
                        if !crate::propagation::is_token(&key) {
                            self.warnings.push(format!(
                                "{var}: member {} has a name that is not a valid header name; \
                                 it is not sent",
                                i + 1
                            ));
                        } else if !value
                            .bytes()
                            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
                        {
                            self.warnings.push(format!(
                                "{var}: the value of header {key:?} is not valid header text \
                                 after percent-decoding (control characters or non-ASCII); it \
                                 is not sent"
                            ));
                        } else {
                            self.otlp.headers.push((key, value));
                        }
                    }
                    _ => self.warnings.push(format!(
                        "{var}: member {} is not key=value; ignoring it",
                        i + 1
                    )),
                }
            }
        }
        if let Some((var, v)) = pick("TIMEOUT") {
            match v.parse::<u64>() {
                Ok(ms) if ms > 0 => self.otlp.timeout = Duration::from_millis(ms),
                _ => self.warnings.push(format!(
                    "{var}={v:?} is not a positive number of milliseconds; using 10000"
                )),
            }
        }
        self.otlp.certificate = pick("CERTIFICATE");
        self.otlp.client_certificate = pick("CLIENT_CERTIFICATE");
        self.otlp.client_key = pick("CLIENT_KEY");
        if let Some((var, v)) = pick("INSECURE") {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" => self.otlp.insecure = true,
                "false" => self.otlp.insecure = false,
                _ => self
                    .warnings
                    .push(format!("{var}={v:?} is not true or false; using false")),
            }
        }
        if let Some(var) = endpoint_var {
            self.check_otlp_endpoint(var);
        }
        if let Some((var, v)) = pick("COMPRESSION") {
            match v.as_str() {
                "gzip" => self.otlp.gzip = true,
                "none" => self.otlp.gzip = false,
                other => self
                    .warnings
                    .push(format!("{var}={other:?} is not gzip or none; using none")),
            }
        }
    }

    /// One line per endpoint problem that would lose every span, said at `init` rather than
    /// discovered in the collector's silence.
    fn check_otlp_endpoint(&mut self, var: &str) {
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
                self.warnings.push(format!(
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
            self.warnings.push(format!(
                "{} set, but {var}={shown:?} is plaintext http; the TLS settings are unused",
                tls_vars.join(" and ")
            ));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" if !cfg!(feature = "otlp-tls") => self.warnings.push(format!(
                "{var}={shown:?} needs TLS, and traceweave was built without its `otlp-tls` \
                 feature (on by default); spans will not be delivered"
            )),
            "https" => {}
            other => self.warnings.push(format!(
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
            (true, Some(4318)) => self.warnings.push(format!(
                "{var}={shown:?}: the protocol is grpc, but 4318 is the OTLP/HTTP port \
                 (gRPC receivers listen on 4317)"
            )),
            (false, Some(4317)) => self.warnings.push(format!(
                "{var}={shown:?}: the protocol is http, but 4317 is the OTLP/gRPC port \
                 (HTTP receivers listen on 4318; or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc)"
            )),
            _ => {}
        }
    }

    fn parse_number(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
        key: &str,
        default: usize,
    ) -> Option<usize> {
        let v = get(key)?;
        match v.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.warnings.push(format!(
                    "{key}={v:?} is not a positive integer; using {default}"
                ));
                None
            }
        }
    }

    /// A positive integer no larger than `max`: a larger one warns and gives `max` (a typo
    /// such as `1e9` slots must not abort the process on allocation).
    fn parse_number_at_most(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
        key: &str,
        default: usize,
        max: usize,
    ) -> Option<usize> {
        let n = self.parse_number(get, key, default)?;
        if n > max {
            self.warnings
                .push(format!("{key}={n} is larger than the maximum; using {max}"));
            return Some(max);
        }
        Some(n)
    }

    fn parse_sampler(&mut self, name: &str, arg: Option<&str>) -> Option<Box<dyn Sampler>> {
        let ratio = |c: &mut EnvConfig| -> f64 {
            match arg.map(|a| (a, a.parse::<f64>())) {
                None => 1.0,
                Some((_, Ok(r))) if (0.0..=1.0).contains(&r) => r,
                Some((a, _)) => {
                    c.warnings.push(format!(
                        "OTEL_TRACES_SAMPLER_ARG={a:?} is not a ratio between 0 and 1; using 1.0"
                    ));
                    1.0
                }
            }
        };
        let rate = |c: &mut EnvConfig| -> f64 {
            match arg.map(|a| (a, a.parse::<f64>())) {
                None => 100.0,
                Some((_, Ok(r))) if r >= 0.0 && r.is_finite() => r,
                Some((a, _)) => {
                    c.warnings.push(format!(
                        "OTEL_TRACES_SAMPLER_ARG={a:?} is not a rate of traces per second; \
                         using 100"
                    ));
                    100.0
                }
            }
        };
        let s: Box<dyn Sampler> = match name {
            "always_on" => Box::new(AlwaysOn),
            "always_off" => Box::new(AlwaysOff),
            "traceidratio" => Box::new(TraceIdRatio::new(ratio(self))),
            "parentbased_always_on" => Box::new(ParentBased::new(AlwaysOn)),
            "parentbased_always_off" => Box::new(ParentBased::new(AlwaysOff)),
            "parentbased_traceidratio" => {
                Box::new(ParentBased::new(TraceIdRatio::new(ratio(self))))
            }
            "ratelimiting" => Box::new(RateLimiting::new(rate(self))),
            "parentbased_ratelimiting" => Box::new(ParentBased::new(RateLimiting::new(rate(self)))),
            other => {
                self.warnings.push(format!(
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
    #[cfg(feature = "otlp")]
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
        assert!(c.otlp.json && c.otlp.gzip);
        assert_eq!(
            c.otlp.headers[0],
            ("api-key".to_string(), "s ecret".to_string())
        );
        assert_eq!(c.otlp.timeout, Duration::from_millis(2500));
        let bad = read(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ]);
        assert_eq!(bad.warnings.len(), 2, "{:?}", bad.warnings);
        assert!(bad.warnings[0].contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\""));
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
        assert_eq!(
            c.schedule_delay,
            Some(Duration::from_millis(MAX_MILLIS as u64))
        );
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
