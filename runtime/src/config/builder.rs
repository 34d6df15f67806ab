//! The builder: configuration in code, falling back to the environment, then the defaults.

use std::fmt;
use std::time::Duration;

use super::env::{EnvConfig, ExporterChoice};
use super::resource::default_resource;
use super::{InitError, TracingGuard, warn};
use crate::export::{ConsoleExporter, Exporter, Exporters};
use crate::sampler::{AlwaysOn, ParentBased, Sampler};
use crate::semconv;
use crate::span::{KeyValue, Resource, SpanLimits};
use crate::tracer::{BatchConfig, Tracer, install_global, take_pre_init};

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
    also: Vec<Box<dyn Exporter>>,
    max_queue_size: Option<usize>,
    schedule_delay: Option<Duration>,
    max_export_batch_size: Option<usize>,
    export_timeout: Option<Duration>,
    span_limits: Option<SpanLimits>,
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
///
/// ```
/// let tracer = traceweave::builder().ignore_env().build();
/// tracer.in_scope(|| traceweave::span("work").start().end());
/// assert_eq!(tracer.stats().created, 1);
/// ```
pub fn builder() -> Builder {
    Builder {
        use_env: true,
        service_name: None,
        resource: Vec::new(),
        sampler: None,
        exporters: Vec::new(),
        also: Vec::new(),
        max_queue_size: None,
        schedule_delay: None,
        max_export_batch_size: None,
        export_timeout: None,
        span_limits: None,
        disabled: None,
        propagator: None,
    }
}

impl Builder {
    /// Reads nothing from the environment.
    ///
    /// ```
    /// // Whatever OTEL_* says, this tracer exports only to memory, with the defaults.
    /// let memory = traceweave::InMemoryExporter::new();
    /// let tracer = traceweave::builder().ignore_env().exporter(memory.clone()).build();
    /// # drop(tracer);
    /// ```
    pub fn ignore_env(mut self) -> Self {
        self.use_env = false;
        self
    }

    /// `service.name`.
    ///
    /// ```
    /// let tracer = traceweave::builder().ignore_env().service_name("checkout").build();
    /// let name = tracer.resource().get("service.name").map(|v| v.to_string());
    /// assert_eq!(name.as_deref(), Some("checkout"));
    /// ```
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute.
    ///
    /// ```
    /// use traceweave::KeyValue;
    /// let tracer = traceweave::builder()
    ///     .resource_attribute(KeyValue::new("deployment.environment.name", "staging"))
    ///     .build();
    /// # drop(tracer);
    /// ```
    pub fn resource_attribute(mut self, kv: KeyValue) -> Self {
        self.resource.push(kv);
        self
    }

    /// The sampler (default: parent-based, always on; or `OTEL_TRACES_SAMPLER`).
    ///
    /// ```
    /// use traceweave::{ParentBased, TraceIdRatio};
    /// // One trace in ten starts sampled; children follow their parent's decision.
    /// let tracer = traceweave::builder()
    ///     .sampler(ParentBased::new(TraceIdRatio::new(0.1)))
    ///     .build();
    /// # drop(tracer);
    /// ```
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
    ///
    /// ```
    /// let console = traceweave::ConsoleExporter::new();
    /// let memory = traceweave::InMemoryExporter::new();
    /// // Both get every batch.
    /// let tracer = traceweave::builder().exporter(console).exporter(memory).build();
    /// # drop(tracer);
    /// ```
    pub fn exporter(mut self, exporter: impl Exporter) -> Self {
        self.exporters.push(Box::new(exporter));
        self
    }

    /// Adds an exporter alongside the ones `OTEL_TRACES_EXPORTER` (or an OTLP endpoint alone)
    /// selects, or the ones given with [`exporter`](Self::exporter): a tool's own destination
    /// that leaves the user's choice in place.
    ///
    /// ```
    /// let tracer = traceweave::builder()
    ///     .service_name("demo")
    ///     // Wherever OTEL_* points, and into memory too.
    ///     .also_export(traceweave::InMemoryExporter::new())
    ///     .build();
    /// # drop(tracer);
    /// ```
    pub fn also_export(mut self, exporter: impl Exporter) -> Self {
        self.also.push(Box::new(exporter));
        self
    }

    /// Queue bound per producing thread (`OTEL_BSP_MAX_QUEUE_SIZE`, default 16,384; at most 1,048,576).
    ///
    /// ```
    /// // A bursty service: room for 65,536 spans per thread before spans are dropped (and counted).
    /// let tracer = traceweave::builder().max_queue_size(65_536).build();
    /// # drop(tracer);
    /// ```
    pub fn max_queue_size(mut self, n: usize) -> Self {
        self.max_queue_size = Some(n);
        self
    }

    /// Longest wait before queued spans are exported (`OTEL_BSP_SCHEDULE_DELAY`, 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// // Spans reach the collector within 200 ms even when traffic is light.
    /// let tracer = traceweave::builder().schedule_delay(Duration::from_millis(200)).build();
    /// # drop(tracer);
    /// ```
    pub fn schedule_delay(mut self, d: Duration) -> Self {
        self.schedule_delay = Some(d);
        self
    }

    /// How much one span may carry (default: the `OTEL_SPAN_*_LIMIT`, `OTEL_EVENT_*_LIMIT`,
    /// `OTEL_LINK_*_LIMIT` and `OTEL_ATTRIBUTE_*_LIMIT` variables, then
    /// [`SpanLimits::DEFAULT`]). Replaces every limit the environment sets.
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// let limits = SpanLimits::default().with_attribute_value_length(Some(1024));
    /// let tracer = traceweave::builder().span_limits(limits).build();
    /// # drop(tracer);
    /// ```
    pub fn span_limits(mut self, limits: SpanLimits) -> Self {
        self.span_limits = Some(limits);
        self
    }

    /// Spans per export call (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, 512).
    ///
    /// ```
    /// // A receiver that refuses large requests (HTTP 413): smaller batches.
    /// let tracer = traceweave::builder().max_export_batch_size(128).build();
    /// # drop(tracer);
    /// ```
    pub fn max_export_batch_size(mut self, n: usize) -> Self {
        self.max_export_batch_size = Some(n);
        self
    }

    /// Deadline of flush and shutdown (`OTEL_BSP_EXPORT_TIMEOUT`, 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let tracer = traceweave::builder().export_timeout(Duration::from_secs(5)).build();
    /// // Flush and shutdown now give up after 5 s.
    /// assert!(tracer.shutdown_with_timeout(Duration::from_secs(5)).is_ok());
    /// ```
    pub fn export_timeout(mut self, d: Duration) -> Self {
        self.export_timeout = Some(d);
        self
    }

    /// Turns tracing off (`OTEL_SDK_DISABLED`): spans cost a branch and record nothing.
    ///
    /// ```
    /// // A command-line flag decides.
    /// let quiet = true;
    /// let guard = traceweave::builder().disabled(quiet).install();
    /// # drop(guard);
    /// ```
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// The propagator `inject`, `extract` and `#[traced_rpc]` use (default: `OTEL_PROPAGATORS`,
    /// else W3C trace context + baggage). Applies on [`install`](Self::install).
    ///
    /// ```
    /// use traceweave::propagation::B3Propagator;
    /// // Talk B3 (one `b3` header) to Zipkin-era services.
    /// let guard = traceweave::builder().propagator(B3Propagator::single_header()).install();
    /// # drop(guard);
    /// ```
    pub fn propagator(mut self, p: impl crate::propagation::Propagator) -> Self {
        self.propagator = Some(Box::new(p));
        self
    }

    /// Installs the result as the global tracer.
    ///
    /// ```
    /// # fn main() -> Result<(), traceweave::InitError> {
    /// let _tracing = traceweave::builder().service_name("checkout").install()?;
    /// // ... the application; spans are exported until `_tracing` drops.
    /// # Ok(())
    /// # }
    /// ```
    pub fn install(mut self) -> Result<TracingGuard, InitError> {
        let mut env = if self.use_env {
            EnvConfig::read(|k| std::env::var(k).ok())
        } else {
            EnvConfig::default()
        };
        for w in &env.warnings {
            warn(format_args!("{w}"));
        }
        #[cfg_attr(not(feature = "skywalking"), allow(unused_mut))]
        let mut names = env.propagators.take();
        let explicit = self.propagator.take();
        if self.disabled.or(env.disabled).unwrap_or(false) {
            install_global(None)?;
            return Ok(TracingGuard { active: true });
        }
        let (tracer, _) = self.finish(env, take_pre_init());
        let resource = tracer.resource();
        // Reporting to SkyWalking: its peers' references must resolve to our segments, so
        // `sw8` joins the default propagators (W3C first, as before).
        #[cfg(feature = "skywalking")]
        if names.is_none() && crate::export::skywalking::in_use() {
            names = Some(vec!["tracecontext".into(), "baggage".into(), "sw8".into()]);
        }
        install_global(Some(tracer))?;
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
    ///
    /// ```
    /// let tracer = traceweave::builder().ignore_env().build();
    /// let spans = tracer.in_scope(|| {
    ///     traceweave::span("scoped").start().end();
    ///     traceweave::current_span().is_recording()
    /// });
    /// assert!(!spans); // no span was current inside the closure itself
    /// assert_eq!(tracer.stats().created, 1);
    /// ```
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
        initial: (Vec<crate::span::raw::RawSpan>, u64),
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
        let limits = self.span_limits.unwrap_or(env.span_limits);
        let sampler = self
            .sampler
            .take()
            .or(env.sampler.take())
            .unwrap_or_else(|| Box::new(ParentBased::new(AlwaysOn)));
        let mut exporters: Vec<Box<dyn Exporter>> = if self.exporters.is_empty() {
            env.exporters
                .iter()
                .filter_map(|e| env_exporter(*e, &env))
                .collect()
        } else {
            std::mem::take(&mut self.exporters)
        };
        exporters.append(&mut self.also);
        let mut attrs = default_resource();
        attrs.append(&mut env.resource);
        if let Some(name) = env.service_name.take() {
            attrs.push(KeyValue::new(semconv::attr::SERVICE_NAME, name));
        }
        attrs.append(&mut self.resource);
        if let Some(name) = self.service_name.take() {
            attrs.push(KeyValue::new(semconv::attr::SERVICE_NAME, name));
        }
        let resource = Resource::new(attrs);
        let processor = Box::new(Exporters::new(exporters, resource.clone()));
        (
            Tracer::start(sampler.into(), processor, resource, config, limits, initial),
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
            "sw8" | "skywalking" => Some(Box::new(SkyWalkingPropagator::new().with_service(
                text(semconv::attr::SERVICE_NAME),
                text(semconv::attr::SERVICE_INSTANCE_ID),
            )) as Box<dyn Propagator>),
            n => by_name(n).ok(),
        })
        .collect();
    CompositePropagator::new(parts)
}

/// The TLS files the `OTEL_EXPORTER_OTLP_*` variables name, read now; a problem with one is
/// said at `init` (naming the variable and the path, never the contents).
#[cfg(feature = "otlp-http")]
fn env_tls(env: &EnvConfig) -> crate::export::tls::TlsSettings {
    fn pair(v: &Option<(String, String)>) -> Option<(&str, &str)> {
        v.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
    }
    let (tls, warnings) = crate::export::tls::TlsSettings::from_files(
        pair(&env.otlp.certificate),
        pair(&env.otlp.client_certificate),
        pair(&env.otlp.client_key),
    );
    for w in warnings {
        warn(format_args!("{w}"));
    }
    tls
}

/// The exporter `OTEL_TRACES_EXPORTER` names, configured from the environment.
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "zipkin", feature = "file")),
    allow(unused_variables)
)]
fn env_exporter(choice: ExporterChoice, env: &EnvConfig) -> Option<Box<dyn Exporter>> {
    match choice {
        ExporterChoice::Console => Some(Box::new(ConsoleExporter::new())),
        ExporterChoice::None => None,
        #[cfg(feature = "otlp-grpc")]
        ExporterChoice::Otlp if env.otlp.grpc => {
            let e = crate::export::OtlpGrpcExporter::new(&env.otlp.grpc_endpoint)
                .gzip(env.otlp.compression != super::env::Compression::None)
                .timeout(env.otlp.timeout)
                .insecure(env.otlp.insecure)
                .tls(env_tls(env));
            let e = (env.otlp.headers.iter()).fold(e, |e, (k, v)| e.header(k.clone(), v.clone()));
            Some(Box::new(e))
        }
        #[cfg(feature = "otlp-http")]
        ExporterChoice::Otlp => {
            let e = crate::export::OtlpExporter::with_traces_url(&env.otlp.url)
                .protocol(if env.otlp.json {
                    crate::export::OtlpProtocol::HttpJson
                } else {
                    crate::export::OtlpProtocol::HttpProtobuf
                })
                .compression(match env.otlp.compression {
                    super::env::Compression::None => crate::export::OtlpCompression::None,
                    super::env::Compression::Gzip => crate::export::OtlpCompression::Gzip,
                    #[cfg(feature = "zstd")]
                    super::env::Compression::Zstd => crate::export::OtlpCompression::Zstd,
                    #[cfg(not(feature = "zstd"))]
                    super::env::Compression::Zstd => crate::export::OtlpCompression::Gzip,
                })
                .timeout(env.otlp.timeout)
                .tls(env_tls(env));
            let e = (env.otlp.headers.iter()).fold(e, |e, (k, v)| e.header(k.clone(), v.clone()));
            Some(Box::new(e))
        }
        #[cfg(feature = "zipkin")]
        ExporterChoice::Zipkin => Some(Box::new(
            crate::export::ZipkinExporter::new(&env.zipkin_url).timeout(env.zipkin_timeout),
        )),
        #[cfg(feature = "file")]
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
        #[cfg(feature = "skywalking")]
        ExporterChoice::SkyWalking => {
            let sw = &env.skywalking;
            let (tls, warnings) = crate::export::tls::TlsSettings::from_files(
                sw.certificate
                    .as_ref()
                    .map(|(a, b)| (a.as_str(), b.as_str())),
                sw.client_certificate
                    .as_ref()
                    .map(|(a, b)| (a.as_str(), b.as_str())),
                sw.client_key
                    .as_ref()
                    .map(|(a, b)| (a.as_str(), b.as_str())),
            );
            for w in warnings {
                warn(format_args!("{w}"));
            }
            let e = crate::export::SkyWalkingExporter::new(&sw.address)
                .protocol(if sw.http {
                    crate::export::SkyWalkingProtocol::Http
                } else {
                    crate::export::SkyWalkingProtocol::Grpc
                })
                .tls(sw.force_tls)
                .tls_settings(tls)
                .heartbeat_period(sw.heartbeat);
            Some(Box::new(match &sw.token {
                Some(t) => e.authentication(t.clone()),
                None => e,
            }))
        }
        #[cfg(not(feature = "skywalking"))]
        ExporterChoice::SkyWalking => None,
        #[cfg(not(feature = "otlp-http"))]
        ExporterChoice::Otlp => None,
        #[cfg(not(feature = "zipkin"))]
        ExporterChoice::Zipkin => None,
        #[cfg(not(feature = "file"))]
        ExporterChoice::File => None,
    }
}
