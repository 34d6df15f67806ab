//! Setting traceweave up: `init()` from the OpenTelemetry environment variables, or a builder.

use std::fmt;
use std::time::Duration;

use crate::export::{
    BatchConfig, ConsoleExporter, Exporter, Resource, Tracer, install_global, shutdown_global,
    take_pre_init,
};
use crate::sampler::{AlwaysOff, AlwaysOn, ParentBased, RateLimiting, Sampler, TraceIdRatio};
use crate::span::KeyValue;

/// Prints one traceweave diagnostic on stderr.
pub(crate) fn warn(message: fmt::Arguments<'_>) {
    eprintln!("traceweave: {message}");
}

/// Sets up the global tracer from the environment and returns a guard that flushes and shuts
/// it down when dropped. Keep the guard alive for the life of `main`.
///
/// If a tracer is installed already, says so on stderr and returns a guard that does nothing.
///
/// ```no_run
/// // First thing in `main`:
/// let _tracing = traceweave::init();
/// // ... #[traced] functions now export to the console (or OTEL_TRACES_EXPORTER).
/// ```
pub fn init() -> TracingGuard {
    match builder().install() {
        Ok(guard) => guard,
        Err(e) => {
            warn(format_args!("{e}"));
            TracingGuard { active: false }
        }
    }
}

/// Flushes and shuts down the global tracer, waiting at most `timeout`. Returns whether all
/// queued spans were delivered in time.
pub fn shutdown(timeout: Duration) -> bool {
    shutdown_global(timeout)
}

/// The global tracer's span counts (zero before `init`).
pub fn stats() -> crate::export::SpanStats {
    crate::export::global_tracer()
        .map(|t| t.stats())
        .unwrap_or_default()
}

/// Exports what the global tracer has queued now; returns whether it finished in time.
pub fn force_flush() -> bool {
    crate::export::global_tracer().is_none_or(|t| t.force_flush())
}

/// Shuts the global tracer down when dropped, flushing queued spans (with the export timeout
/// as the deadline).
#[must_use = "dropping the guard shuts tracing down at once"]
#[derive(Debug)]
pub struct TracingGuard {
    active: bool,
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if self.active {
            let timeout = crate::export::global_tracer()
                .map(|t| t.0.config_timeout())
                .unwrap_or(Duration::from_secs(30));
            shutdown_global(timeout);
        }
    }
}

/// Why `install` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitError {
    /// A global tracer is installed already; shut it down first.
    AlreadyInitialised,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInitialised => f.write_str(
                "tracing is already initialised; the earlier init() stays in effect \
                 (call traceweave::shutdown() first to replace it)",
            ),
        }
    }
}

impl std::error::Error for InitError {}

/// Configuration in code. Anything not set comes from the environment (unless
/// [`ignore_env`](Builder::ignore_env)), then from the defaults.
///
/// ```
/// use traceweave::{ParentBased, TraceIdRatio};
/// let tracer = traceweave::builder()
///     .service_name("checkout")
///     .sampler(ParentBased::new(TraceIdRatio::new(0.1)))
///     .exporter(traceweave::InMemoryExporter::new())
///     .build();
/// # drop(tracer);
/// ```
#[must_use = "a builder does nothing until `install` or `build` is called"]
pub struct Builder {
    use_env: bool,
    service_name: Option<String>,
    resource: Vec<KeyValue>,
    sampler: Option<Box<dyn Sampler>>,
    exporters: Vec<Box<dyn Exporter>>,
    max_queue_size: Option<usize>,
    schedule_delay: Option<Duration>,
    max_export_batch_size: Option<usize>,
    export_timeout: Option<Duration>,
    disabled: Option<bool>,
    propagator: Option<Box<dyn crate::propagation::Propagator>>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("use_env", &self.use_env)
            .field("service_name", &self.service_name)
            .field("sampler", &self.sampler)
            .field("exporters", &self.exporters.len())
            .finish_non_exhaustive()
    }
}

/// Starts a configuration.
pub fn builder() -> Builder {
    Builder {
        use_env: true,
        service_name: None,
        resource: Vec::new(),
        sampler: None,
        exporters: Vec::new(),
        max_queue_size: None,
        schedule_delay: None,
        max_export_batch_size: None,
        export_timeout: None,
        disabled: None,
        propagator: None,
    }
}

impl Builder {
    /// Reads nothing from the environment.
    pub fn ignore_env(mut self) -> Self {
        self.use_env = false;
        self
    }

    /// `service.name`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute.
    pub fn resource_attribute(mut self, kv: KeyValue) -> Self {
        self.resource.push(kv);
        self
    }

    /// The sampler (default: parent-based, always on; or `OTEL_TRACES_SAMPLER`).
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Some(Box::new(sampler));
        self
    }

    #[doc(hidden)]
    pub fn boxed_sampler(mut self, sampler: Box<dyn Sampler>) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Adds an exporter. Exporters given here replace the ones `OTEL_TRACES_EXPORTER` names.
    pub fn exporter(mut self, exporter: impl Exporter) -> Self {
        self.exporters.push(Box::new(exporter));
        self
    }

    /// Queue bound per producing thread (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048).
    pub fn max_queue_size(mut self, n: usize) -> Self {
        self.max_queue_size = Some(n);
        self
    }

    /// Longest wait before queued spans are exported (`OTEL_BSP_SCHEDULE_DELAY`, 5 s).
    pub fn schedule_delay(mut self, d: Duration) -> Self {
        self.schedule_delay = Some(d);
        self
    }

    /// Spans per export call (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, 512).
    pub fn max_export_batch_size(mut self, n: usize) -> Self {
        self.max_export_batch_size = Some(n);
        self
    }

    /// Deadline of flush and shutdown (`OTEL_BSP_EXPORT_TIMEOUT`, 30 s).
    pub fn export_timeout(mut self, d: Duration) -> Self {
        self.export_timeout = Some(d);
        self
    }

    /// Turns tracing off (`OTEL_SDK_DISABLED`): spans cost a branch and record nothing.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// The propagator `inject`, `extract` and `#[traced_rpc]` use (default: `OTEL_PROPAGATORS`,
    /// else W3C trace context + baggage). Applies on [`install`](Self::install).
    pub fn propagator(mut self, p: impl crate::propagation::Propagator) -> Self {
        self.propagator = Some(Box::new(p));
        self
    }

    /// Installs the result as the global tracer.
    pub fn install(mut self) -> Result<TracingGuard, InitError> {
        let mut env = if self.use_env {
            EnvConfig::read(|k| std::env::var(k).ok())
        } else {
            EnvConfig::default()
        };
        for w in &env.warnings {
            warn(format_args!("{w}"));
        }
        let names = env.propagators.take();
        let explicit = self.propagator.take();
        if self.disabled.or(env.disabled).unwrap_or(false) {
            install_global(None).map_err(|()| InitError::AlreadyInitialised)?;
            return Ok(TracingGuard { active: true });
        }
        let (tracer, _) = self.finish(env, take_pre_init());
        let resource = tracer.resource();
        install_global(Some(tracer)).map_err(|()| InitError::AlreadyInitialised)?;
        match explicit {
            Some(p) => crate::propagation::set_global_boxed(p),
            None => crate::propagation::set_global_boxed(Box::new(propagator_from_names(
                names.as_deref(),
                &resource,
            ))),
        }
        Ok(TracingGuard { active: true })
    }

    /// Builds a tracer that is not global: use it with [`Tracer::in_scope`] or
    /// [`Tracer::context`]. Disabling has no effect here.
    pub fn build(self) -> Tracer {
        let env = if self.use_env {
            EnvConfig::read(|k| std::env::var(k).ok())
        } else {
            EnvConfig::default()
        };
        self.finish(env, (Vec::new(), 0)).0
    }

    fn finish(
        mut self,
        mut env: EnvConfig,
        initial: (Vec<crate::SpanRecord>, u64),
    ) -> (Tracer, BatchConfig) {
        let defaults = BatchConfig::default();
        let config = BatchConfig {
            max_queue_size: self
                .max_queue_size
                .or(env.max_queue_size)
                .unwrap_or(defaults.max_queue_size),
            schedule_delay: self
                .schedule_delay
                .or(env.schedule_delay)
                .unwrap_or(defaults.schedule_delay),
            max_export_batch_size: self
                .max_export_batch_size
                .or(env.max_export_batch_size)
                .unwrap_or(defaults.max_export_batch_size),
            export_timeout: self
                .export_timeout
                .or(env.export_timeout)
                .unwrap_or(defaults.export_timeout),
        };
        let sampler = self
            .sampler
            .take()
            .or(env.sampler.take())
            .unwrap_or_else(|| Box::new(ParentBased::new(AlwaysOn)));
        let exporters = if self.exporters.is_empty() {
            env.exporters
                .iter()
                .filter_map(|e| env_exporter(*e, &env))
                .collect()
        } else {
            std::mem::take(&mut self.exporters)
        };
        let mut attrs = default_resource();
        attrs.append(&mut env.resource);
        if let Some(name) = env.service_name.take() {
            attrs.push(KeyValue::new("service.name", name));
        }
        attrs.append(&mut self.resource);
        if let Some(name) = self.service_name.take() {
            attrs.push(KeyValue::new("service.name", name));
        }
        let resource = Resource::new(attrs);
        (
            Tracer::start(sampler, exporters, resource, config, initial),
            config,
        )
    }
}

/// The composite for `OTEL_PROPAGATORS` names (already validated), with SkyWalking told
/// this service's name and instance.
fn propagator_from_names(
    names: Option<&[String]>,
    resource: &Resource,
) -> crate::propagation::CompositePropagator {
    use crate::propagation::{CompositePropagator, Propagator, SkyWalkingPropagator, by_name};
    let Some(names) = names else {
        return crate::propagation::default_propagator();
    };
    let text = |k: &str| {
        resource
            .get(k)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into())
    };
    let parts: Vec<Box<dyn Propagator>> = names
        .iter()
        .filter_map(|n| match n.as_str() {
            "sw8" | "skywalking" => Some(Box::new(
                SkyWalkingPropagator::new()
                    .with_service(text("service.name"), text("service.instance.id")),
            ) as Box<dyn Propagator>),
            n => by_name(n).ok(),
        })
        .collect();
    CompositePropagator::new(parts)
}

/// The exporter `OTEL_TRACES_EXPORTER` names, configured from the environment.
#[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
fn env_exporter(choice: ExporterChoice, env: &EnvConfig) -> Option<Box<dyn Exporter>> {
    match choice {
        ExporterChoice::Console => Some(Box::new(ConsoleExporter::new())),
        ExporterChoice::None => None,
        #[cfg(feature = "otlp-grpc")]
        ExporterChoice::Otlp if env.otlp.grpc => {
            let e = crate::export::OtlpGrpcExporter::new(&env.otlp.grpc_endpoint)
                .gzip(env.otlp.gzip)
                .timeout(env.otlp.timeout);
            let e = (env.otlp.headers.iter()).fold(e, |e, (k, v)| e.header(k.clone(), v.clone()));
            Some(Box::new(e))
        }
        #[cfg(feature = "otlp")]
        ExporterChoice::Otlp => {
            let e = crate::export::OtlpExporter::with_traces_url(&env.otlp.url)
                .protocol(if env.otlp.json {
                    crate::export::OtlpProtocol::HttpJson
                } else {
                    crate::export::OtlpProtocol::HttpProtobuf
                })
                .gzip(env.otlp.gzip)
                .timeout(env.otlp.timeout);
            let e = (env.otlp.headers.iter()).fold(e, |e, (k, v)| e.header(k.clone(), v.clone()));
            Some(Box::new(e))
        }
        #[cfg(feature = "otlp")]
        ExporterChoice::Zipkin => Some(Box::new(
            crate::export::ZipkinExporter::new(&env.zipkin_url).timeout(env.zipkin_timeout),
        )),
        #[cfg(feature = "otlp")]
        ExporterChoice::File => match crate::export::FileExporter::create(&env.file_path) {
            Ok(f) => Some(Box::new(f)),
            Err(e) => {
                warn(format_args!(
                    "could not open {} for the file exporter ({e}); not exporting to a file",
                    env.file_path
                ));
                None
            }
        },
        #[cfg(not(feature = "otlp"))]
        ExporterChoice::Otlp | ExporterChoice::Zipkin | ExporterChoice::File => None,
    }
}

fn default_resource() -> Vec<KeyValue> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut attrs = vec![
        KeyValue::new("service.name", format!("unknown_service:{exe}")),
        KeyValue::new(
            "service.instance.id",
            format!("{:032x}", crate::id::TraceId::random().to_u128()),
        ),
        KeyValue::new("telemetry.sdk.name", "traceweave"),
        KeyValue::new("telemetry.sdk.language", "rust"),
        KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.executable.name", exe),
        KeyValue::new("host.arch", std::env::consts::ARCH),
        KeyValue::new("os.type", std::env::consts::OS),
    ];
    if let Some(host) = hostname() {
        attrs.push(KeyValue::new("host.name", host));
    }
    attrs
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExporterChoice {
    Console,
    None,
    Otlp,
    Zipkin,
    File,
}

/// The `OTEL_EXPORTER_OTLP_*` settings (the `TRACES_` variants win), already validated.
#[derive(Debug, Clone, PartialEq)]
struct OtlpEnv {
    /// The full URL requests go to (HTTP protocols).
    url: String,
    /// The endpoint for gRPC, used as is.
    grpc_endpoint: String,
    json: bool,
    grpc: bool,
    headers: Vec<(String, String)>,
    timeout: Duration,
    gzip: bool,
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
        }
    }
}

/// What the `OTEL_*` variables say, with a warning for each value we could not use.
#[derive(Debug)]
struct EnvConfig {
    service_name: Option<String>,
    resource: Vec<KeyValue>,
    sampler: Option<Box<dyn Sampler>>,
    exporters: Vec<ExporterChoice>,
    max_queue_size: Option<usize>,
    schedule_delay: Option<Duration>,
    max_export_batch_size: Option<usize>,
    export_timeout: Option<Duration>,
    disabled: Option<bool>,
    /// `OTEL_PROPAGATORS`, validated.
    propagators: Option<Vec<String>>,
    otlp: OtlpEnv,
    zipkin_url: String,
    zipkin_timeout: Duration,
    file_path: String,
    warnings: Vec<String>,
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
    fn read(get: impl Fn(&str) -> Option<String>) -> Self {
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
        if let Some(v) = get("OTEL_EXPORTER_ZIPKIN_ENDPOINT") {
            c.zipkin_url = v;
        }
        if let Some(ms) = c.parse_number(&get, "OTEL_EXPORTER_ZIPKIN_TIMEOUT", 10_000) {
            c.zipkin_timeout = Duration::from_millis(ms as u64);
        }
        if let Some(v) = get("TRACEWEAVE_EXPORTER_FILE_PATH") {
            c.file_path = v;
        }
        c.max_queue_size = c.parse_number(&get, "OTEL_BSP_MAX_QUEUE_SIZE", 2048);
        c.max_export_batch_size = c.parse_number(&get, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512);
        c.schedule_delay = c
            .parse_number(&get, "OTEL_BSP_SCHEDULE_DELAY", 5000)
            .map(|ms| Duration::from_millis(ms as u64));
        c.export_timeout = c
            .parse_number(&get, "OTEL_BSP_EXPORT_TIMEOUT", 30000)
            .map(|ms| Duration::from_millis(ms as u64));
        c
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
        if let Some(v) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            self.otlp.url = v.clone();
            self.otlp.grpc_endpoint = v;
        } else if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self.otlp.url = format!("{}/v1/traces", v.trim_end_matches('/'));
            self.otlp.grpc_endpoint = v;
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
        if let Some((var, v)) = pick("HEADERS") {
            for pair in v.split(',').filter(|p| !p.trim().is_empty()) {
                match pair.split_once('=') {
                    Some((k, val)) if !k.trim().is_empty() => self.otlp.headers.push((
                        crate::propagation::percent::decode(k.trim()),
                        crate::propagation::percent::decode(val.trim()),
                    )),
                    _ => self.warnings.push(format!(
                        "{var} member {pair:?} is not key=value; ignoring it"
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
        assert!(c.warnings.iter().any(|w| w.contains("OTEL_BSP_MAX_QUEUE_SIZE=\"lots\"")
            && w.contains("using 2048")));
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
}
