//! Spans as SkyWalking segments (`skywalking.v3.SegmentObject`), written straight from the
//! collector's borrowed view: protobuf for gRPC, JSON for the OAP's HTTP receiver.
//!
//! The mapping (README "SkyWalking"): every span is a segment of its own, whose id is the span
//! id in hex and whose one span has id 0. That is what makes it consistent with `sw8` without
//! buffering: our injector names the calling span as the parent segment with span 0, so the
//! reference a peer writes points at a segment that is reported when that span ends, whichever
//! batch it ends in. A local parent is a `CrossThread` reference to its segment; an extracted
//! `sw8` is the `CrossProcess` reference, with every field the peer sent.

use std::io::Write as _;

use crate::context::Sw8Parent;
use crate::span::{Event, SpanKind, SpanView, ValueRef};

/// `SpanType`.
const ENTRY: u64 = 0;
const EXIT: u64 = 1;
const LOCAL: u64 = 2;

/// `SpanLayer`.
const UNKNOWN: u64 = 0;
const DATABASE: u64 = 1;
const RPC_FRAMEWORK: u64 = 2;
const HTTP: u64 = 3;
const MQ: u64 = 4;
const CACHE: u64 = 5;

/// `RefType`.
const CROSS_PROCESS: u64 = 0;
const CROSS_THREAD: u64 = 1;

/// Component ids of SkyWalking's `component-libraries.yml` (apache/skywalking,
/// oap-server/server-starter/src/main/resources).
mod component {
    pub(super) const MYSQL: u64 = 5;
    pub(super) const REDIS: u64 = 7;
    pub(super) const MONGODB: u64 = 9;
    pub(super) const MEMCACHED: u64 = 20;
    pub(super) const POSTGRESQL: u64 = 22;
    pub(super) const GRPC: u64 = 23;
    pub(super) const KAFKA_PRODUCER: u64 = 40;
    pub(super) const KAFKA_CONSUMER: u64 = 41;
    pub(super) const ELASTICSEARCH: u64 = 47;
    pub(super) const HTTP: u64 = 49;
    pub(super) const RPC: u64 = 50;
    pub(super) const RABBITMQ_PRODUCER: u64 = 52;
    pub(super) const RABBITMQ_CONSUMER: u64 = 53;
    pub(super) const CASSANDRA: u64 = 70;
    pub(super) const PULSAR_PRODUCER: u64 = 73;
    pub(super) const PULSAR_CONSUMER: u64 = 74;
    pub(super) const MARIADB: u64 = 86;
    pub(super) const CLICKHOUSE: u64 = 120;
    pub(super) const NATS: u64 = 132;
    pub(super) const SQLITE: u64 = 31;
    /// The Rust agent's own id: everything else.
    pub(super) const RUST: u64 = 11000;
}

/// The service and instance every segment is reported under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Names<'a> {
    pub(crate) service: &'a str,
    pub(crate) instance: &'a str,
}

/// What SkyWalking reads off a span's attributes (semantic conventions), found in one pass.
#[derive(Default)]
struct Semantics<'a> {
    db_system: Option<&'a str>,
    messaging_system: Option<&'a str>,
    rpc_system: Option<&'a str>,
    http_method: Option<&'a str>,
    server_address: Option<&'a str>,
    server_port: Option<i64>,
    peer_address: Option<&'a str>,
    peer_port: Option<i64>,
    peer_service: Option<&'a str>,
    url: Option<&'a str>,
    status_code: Option<i64>,
    db_statement: Option<&'a str>,
    db_namespace: Option<&'a str>,
    destination: Option<&'a str>,
}

fn str_of(v: ValueRef<'_>) -> Option<&str> {
    match v {
        ValueRef::Str(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn int_of(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::I64(i) => Some(i),
        ValueRef::Str(s) => s.parse().ok(),
        _ => None,
    }
}

impl<'a> Semantics<'a> {
    fn of(span: &SpanView<'a>) -> Self {
        use opentelemetry_semantic_conventions::attribute as a;
        let mut s = Semantics::default();
        for (key, value) in span.attributes() {
            match key {
                a::DB_SYSTEM_NAME => s.db_system = str_of(value).or(s.db_system),
                // The names before the conventions renamed them, still widely sent.
                "db.system" => s.db_system = s.db_system.or(str_of(value)),
                a::MESSAGING_SYSTEM => s.messaging_system = str_of(value),
                "rpc.system" | "rpc.system.name" => s.rpc_system = str_of(value),
                a::HTTP_REQUEST_METHOD => s.http_method = str_of(value),
                a::SERVER_ADDRESS => s.server_address = str_of(value),
                a::SERVER_PORT => s.server_port = int_of(value),
                a::NETWORK_PEER_ADDRESS => s.peer_address = str_of(value),
                a::NETWORK_PEER_PORT => s.peer_port = int_of(value),
                "peer.service" | "service.peer.name" => s.peer_service = str_of(value),
                a::URL_FULL => s.url = str_of(value),
                a::HTTP_RESPONSE_STATUS_CODE => s.status_code = int_of(value),
                a::DB_QUERY_TEXT => s.db_statement = str_of(value).or(s.db_statement),
                "db.statement" => s.db_statement = s.db_statement.or(str_of(value)),
                a::DB_NAMESPACE => s.db_namespace = str_of(value),
                a::MESSAGING_DESTINATION_NAME => s.destination = str_of(value),
                _ => {}
            }
        }
        s
    }

    fn layer(&self) -> u64 {
        if let Some(db) = self.db_system {
            return match db {
                "redis" | "memcached" | "valkey" => CACHE,
                _ => DATABASE,
            };
        }
        if self.messaging_system.is_some() {
            MQ
        } else if self.rpc_system.is_some() {
            RPC_FRAMEWORK
        } else if self.http_method.is_some() {
            HTTP
        } else {
            UNKNOWN
        }
    }

    fn component(&self, kind: SpanKind) -> u64 {
        use component as c;
        let consumer = kind == SpanKind::Consumer;
        if let Some(db) = self.db_system {
            return match db {
                "mysql" => c::MYSQL,
                "mariadb" => c::MARIADB,
                "postgresql" => c::POSTGRESQL,
                "redis" | "valkey" => c::REDIS,
                "mongodb" => c::MONGODB,
                "memcached" => c::MEMCACHED,
                "sqlite" => c::SQLITE,
                "elasticsearch" => c::ELASTICSEARCH,
                "cassandra" => c::CASSANDRA,
                "clickhouse" => c::CLICKHOUSE,
                _ => c::RUST,
            };
        }
        if let Some(mq) = self.messaging_system {
            return match (mq, consumer) {
                ("rabbitmq", false) => c::RABBITMQ_PRODUCER,
                ("rabbitmq", true) => c::RABBITMQ_CONSUMER,
                ("kafka", false) => c::KAFKA_PRODUCER,
                ("kafka", true) => c::KAFKA_CONSUMER,
                ("pulsar", false) => c::PULSAR_PRODUCER,
                ("pulsar", true) => c::PULSAR_CONSUMER,
                ("nats", _) => c::NATS,
                _ => c::RUST,
            };
        }
        match self.rpc_system {
            Some("grpc") => c::GRPC,
            Some(_) => c::RPC,
            None if self.http_method.is_some() => c::HTTP,
            None => c::RUST,
        }
    }

    /// The peer of an exit span: where it went (`server.address:server.port`, else the
    /// network peer, else the `peer.service` it names).
    fn peer(&self) -> Option<(&'a str, Option<i64>)> {
        match (self.server_address, self.peer_address, self.peer_service) {
            (Some(host), _, _) => Some((host, self.server_port)),
            (None, Some(host), _) => Some((host, self.peer_port)),
            (None, None, Some(service)) => Some((service, None)),
            (None, None, None) => None,
        }
    }
}

fn span_type(kind: SpanKind) -> u64 {
    match kind {
        SpanKind::Server | SpanKind::Consumer => ENTRY,
        SpanKind::Client | SpanKind::Producer => EXIT,
        SpanKind::Internal => LOCAL,
    }
}

fn millis(nanos: u64) -> u64 {
    nanos / 1_000_000
}

/// 32 or 16 lowercase hex digits.
struct Hex<const N: usize>([u8; N]);

impl<const N: usize> Hex<N> {
    /// The low `N / 2` bytes of `v`, two digits a byte.
    fn of(v: u128) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let bytes = v.to_be_bytes();
        let mut out = [0u8; N];
        for (pair, byte) in out.chunks_exact_mut(2).zip(&bytes[16 - N / 2..]) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        Hex(out)
    }

    fn text(&self) -> Text<'_> {
        Text::Ascii(&self.0)
    }
}

/// Text for a string field: a user's string (JSON escapes it), or ASCII the encoder made
/// (digits, hex, `true`), written as is.
#[derive(Clone, Copy)]
enum Text<'a> {
    Str(&'a str),
    Ascii(&'a [u8]),
}

impl Text<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Text::Str(s) => s.as_bytes(),
            Text::Ascii(b) => b,
        }
    }
}

/// The segment's parts that are not the span's own fields.
struct Ids<'a> {
    trace: TraceText<'a>,
    segment: Hex<16>,
}

enum TraceText<'a> {
    Peer(&'a str),
    Ours(Hex<32>),
}

impl TraceText<'_> {
    fn text(&self) -> Text<'_> {
        match self {
            TraceText::Peer(s) => Text::Str(s),
            TraceText::Ours(h) => h.text(),
        }
    }
}

fn ids<'a>(span: &SpanView<'a>) -> Ids<'a> {
    Ids {
        trace: match span.sw8_trace_id() {
            Some(peer) => TraceText::Peer(peer),
            None => TraceText::Ours(Hex::of(span.trace_id().to_u128())),
        },
        segment: Hex::of(u128::from(span.span_id().to_u64())),
    }
}

/// The reference a span's segment makes to its parent.
enum Reference<'a> {
    /// A local parent: its own segment, span 0.
    Thread(Hex<16>),
    /// An extracted `sw8`, as the peer sent it.
    Process(&'a Sw8Parent),
}

fn reference<'a>(span: &SpanView<'a>) -> Option<Reference<'a>> {
    if !span.parent_span_id().is_valid() {
        return None;
    }
    if let Some(p) = span.sw8_parent() {
        return Some(Reference::Process(p));
    }
    // A remote parent that did not come in `sw8` (W3C, B3...): if it is a traceweave span, its
    // segment has this id too, but its service is unknown here, and a `CrossProcess` reference
    // without one would invent a caller: the segment starts a branch of the same trace instead.
    if span.parent_is_remote() {
        return None;
    }
    Some(Reference::Thread(Hex::of(u128::from(
        span.parent_span_id().to_u64(),
    ))))
}

/// The extra tags SkyWalking's OAP and UI read under their own names, beside the attributes
/// (which are all tags too, under their semantic-convention names).
fn alias_tags<'a>(s: &Semantics<'a>, layer: u64, mut f: impl FnMut(&'static str, Tag<'a>)) {
    if let Some(m) = s.http_method {
        f("http.method", Tag::Str(m));
    }
    if let Some(u) = s.url {
        f("url", Tag::Str(u));
    }
    if let Some(code) = s.status_code {
        f("http.status_code", Tag::Int(code));
    }
    if layer == DATABASE || layer == CACHE {
        if let Some(db) = s.db_system {
            f("db.type", Tag::Str(db));
        }
        if let Some(n) = s.db_namespace {
            f("db.instance", Tag::Str(n));
        }
        if let Some(q) = s.db_statement {
            f("db.statement", Tag::Str(q));
        }
    }
    if layer == MQ
        && let Some(d) = s.destination
    {
        f("mq.topic", Tag::Str(d));
    }
}

/// A tag's value before it is text.
#[derive(Clone, Copy)]
enum Tag<'a> {
    Str(&'a str),
    Int(i64),
    Value(ValueRef<'a>),
}

/// An integer's decimal digits, written at the end of `digits` (no formatting machinery: tags
/// are mostly small integers and this is the hot path of the encoder).
fn int_text(v: i64, digits: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    &digits[at..]
}

/// The text of a tag: borrowed when it is a string, else written into `scratch`.
fn tag_text<'b>(v: Tag<'b>, scratch: &'b mut Vec<u8>) -> Text<'b> {
    scratch.clear();
    match v {
        Tag::Str(s) | Tag::Value(ValueRef::Str(s)) => Text::Str(s),
        Tag::Int(i) | Tag::Value(ValueRef::I64(i)) => {
            let mut digits = [0u8; 20];
            scratch.extend_from_slice(int_text(i, &mut digits));
            Text::Ascii(scratch)
        }
        Tag::Value(ValueRef::Bool(b)) => Text::Ascii(if b { b"true" } else { b"false" }),
        Tag::Value(ValueRef::F64(f)) => {
            let _ = write!(scratch, "{f}");
            Text::Ascii(scratch)
        }
        Tag::Value(ValueRef::Array(a)) => {
            // Strings inside: text to escape (made from `&str`s, so UTF-8).
            let _ = write!(scratch, "{}", crate::span::Value::Array(a.clone()));
            Text::Str(std::str::from_utf8(scratch).unwrap_or_default())
        }
    }
}

/// The keys an event's attributes take in a SkyWalking log (its UI shows `error.kind`,
/// `message` and `stack` of an error log).
fn log_key(event: &Event, key: &str) -> &'static str {
    let exception = event.name == "exception";
    match key {
        "exception.type" if exception => "error.kind",
        "exception.message" if exception => "message",
        "exception.stacktrace" if exception => "stack",
        _ => "",
    }
}

/// A sink the segment is written to: protobuf or JSON.
trait Out {
    fn begin_segment(&mut self, ids: &Ids<'_>, names: Names<'_>);
    fn begin_span(&mut self, span: &SpanView<'_>);
    fn reference(&mut self, r: &Reference<'_>, trace: Text<'_>, names: Names<'_>);
    fn span_fields(&mut self, name: &str, peer: Option<(&str, Option<i64>)>, fields: Fields);
    fn tag(&mut self, key: &str, value: Text<'_>);
    fn begin_log(&mut self, time_ms: u64);
    fn log_data(&mut self, key: &str, value: Text<'_>);
    fn end_log(&mut self);
    fn end_span(&mut self);
    fn end_segment(&mut self, names: Names<'_>);
}

/// A span's enum and flag fields.
#[derive(Clone, Copy)]
struct Fields {
    kind: u64,
    layer: u64,
    component: u64,
    is_error: bool,
}

/// Writes one span as one segment.
fn write_segment(out: &mut impl Out, span: &SpanView<'_>, names: Names<'_>, scratch: &mut Vec<u8>) {
    let ids = ids(span);
    let sem = Semantics::of(span);
    let kind = span.kind();
    let ty = span_type(kind);
    let layer = sem.layer();
    out.begin_segment(&ids, names);
    out.begin_span(span);
    if let Some(r) = reference(span) {
        out.reference(&r, ids.trace.text(), names);
    }
    let fields = Fields {
        kind: ty,
        layer,
        component: sem.component(kind),
        is_error: span.status().is_error(),
    };
    out.span_fields(
        span.name(),
        if ty == EXIT { sem.peer() } else { None },
        fields,
    );
    for (key, value) in span.attributes() {
        let text = tag_text(Tag::Value(value), scratch);
        out.tag(key, text);
    }
    alias_tags(&sem, layer, |key, value| {
        let text = tag_text(value, scratch);
        out.tag(key, text);
    });
    for e in span.events() {
        out.begin_log(millis(e.time_unix_nano));
        let exception = e.name == "exception";
        out.log_data(
            "event",
            Text::Str(if exception { "error" } else { &e.name }),
        );
        for kv in &e.attributes {
            let key = match log_key(e, kv.key.as_str()) {
                "" => kv.key.as_str(),
                k => k,
            };
            let text = tag_text(Tag::Value(ValueRef::from(&kv.value)), scratch);
            out.log_data(key, text);
        }
        out.end_log();
    }
    if let crate::span::StatusRef::Error(message) = span.status()
        && !message.is_empty()
        && !span.events().iter().any(|e| e.name == "exception")
    {
        out.begin_log(millis(span.end_time_unix_nano()));
        out.log_data("event", Text::Ascii(b"error"));
        out.log_data("message", Text::Str(message));
        out.end_log();
    }
    out.end_span();
    out.end_segment(names);
}

// ---------------------------------------------------------------------------------------------
// Protobuf

use crate::export::encode::protobuf::{LEN, VARINT, put_key, put_varint};

/// A varint field, left out when 0 (proto3).
#[inline]
fn put_uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, VARINT);
        put_varint(buf, v);
    }
}

/// An `int32`/`int64` field: negative values as ten-byte varints, as protobuf writes them.
#[inline]
fn put_int(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_uint(buf, field, v as u64);
}

/// A string field, left out when empty.
#[inline]
fn put_str(buf: &mut Vec<u8>, field: u32, s: &str) {
    put_bytes(buf, field, s.as_bytes());
}

/// A string field from its bytes, left out when empty.
#[inline]
fn put_bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        put_key(buf, field, LEN);
        put_varint(buf, b.len() as u64);
        buf.extend_from_slice(b);
    }
}

/// Starts a nested message: its key and a one-byte length, fixed by [`close`].
#[inline]
fn open(buf: &mut Vec<u8>, field: u32) -> usize {
    put_key(buf, field, LEN);
    buf.push(0);
    buf.len()
}

/// Starts a nested message expected to be 128 bytes to 16 KiB long (a span): two bytes kept for
/// its length, fixed by [`close_kept`].
#[inline]
fn open2(buf: &mut Vec<u8>, field: u32) -> usize {
    put_key(buf, field, LEN);
    buf.extend_from_slice(&[0, 0]);
    buf.len()
}

/// Ends the nested message whose body starts at `body`: writes its length, moving the body
/// when the length takes more than the one byte kept for it.
#[inline]
fn close(buf: &mut Vec<u8>, body: usize) {
    let len = buf.len() - body;
    if len < 0x80 {
        buf[body - 1] = len as u8;
        return;
    }
    close_kept(buf, body, 1);
}

/// Ends a nested message whose body starts at `body` after `kept` bytes kept for its length:
/// the body moves only when its length's varint is not `kept` bytes long.
#[inline]
fn close_kept(buf: &mut Vec<u8>, body: usize, kept: usize) {
    let len = buf.len() - body;
    let mut head = [0u8; 10];
    let mut n = 0;
    let mut v = len as u64;
    while v >= 0x80 {
        head[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    head[n] = v as u8;
    n += 1;
    if n > kept {
        buf.resize(buf.len() + n - kept, 0);
        buf.copy_within(body..body + len, body + n - kept);
    } else if n < kept {
        buf.copy_within(body..body + len, body - (kept - n));
        buf.truncate(buf.len() - (kept - n));
    }
    buf[body - kept..body - kept + n].copy_from_slice(&head[..n]);
}

/// Protobuf into one buffer; [`Protobuf::segments`] ends where each segment does.
pub(crate) struct Protobuf<'b> {
    buf: &'b mut Vec<u8>,
    span: usize,
    nested: usize,
}

impl Out for Protobuf<'_> {
    fn begin_segment(&mut self, ids: &Ids<'_>, _: Names<'_>) {
        put_bytes(self.buf, 1, ids.trace.text().bytes());
        put_bytes(self.buf, 2, &ids.segment.0);
    }

    fn begin_span(&mut self, span: &SpanView<'_>) {
        self.span = open2(self.buf, 3);
        // spanId 0 is left out; parentSpanId -1: no parent in this segment.
        put_int(self.buf, 2, -1);
        put_uint(self.buf, 3, millis(span.start_time_unix_nano()));
        put_uint(self.buf, 4, millis(span.end_time_unix_nano()));
    }

    fn reference(&mut self, r: &Reference<'_>, trace: Text<'_>, names: Names<'_>) {
        let at = open(self.buf, 5);
        match r {
            Reference::Thread(parent) => {
                put_uint(self.buf, 1, CROSS_THREAD);
                put_bytes(self.buf, 2, trace.bytes());
                put_bytes(self.buf, 3, &parent.0);
                put_str(self.buf, 5, names.service);
                put_str(self.buf, 6, names.instance);
            }
            Reference::Process(p) => {
                put_uint(self.buf, 1, CROSS_PROCESS);
                put_bytes(self.buf, 2, trace.bytes());
                put_str(self.buf, 3, &p.segment_id);
                put_int(self.buf, 4, i64::from(p.span_id));
                put_str(self.buf, 5, &p.service);
                put_str(self.buf, 6, &p.instance);
                put_str(self.buf, 7, &p.endpoint);
                put_str(self.buf, 8, &p.address);
            }
        }
        close(self.buf, at);
    }

    fn span_fields(&mut self, name: &str, peer: Option<(&str, Option<i64>)>, f: Fields) {
        put_str(self.buf, 6, name);
        if let Some((host, port)) = peer {
            let mut digits = [0u8; 20];
            let port = port_text(port, &mut digits);
            let len = host.len() + if port.is_empty() { 0 } else { 1 + port.len() };
            put_key(self.buf, 7, LEN);
            put_varint(self.buf, len as u64);
            self.buf.extend_from_slice(host.as_bytes());
            if !port.is_empty() {
                self.buf.push(b':');
                self.buf.extend_from_slice(port);
            }
        }
        put_uint(self.buf, 8, f.kind);
        put_uint(self.buf, 9, f.layer);
        put_uint(self.buf, 10, f.component);
        put_uint(self.buf, 11, u64::from(f.is_error));
    }

    fn tag(&mut self, key: &str, value: Text<'_>) {
        let at = open(self.buf, 12);
        put_str(self.buf, 1, key);
        put_bytes(self.buf, 2, value.bytes());
        close(self.buf, at);
    }

    fn begin_log(&mut self, time_ms: u64) {
        self.nested = open(self.buf, 13);
        put_uint(self.buf, 1, time_ms);
    }

    fn log_data(&mut self, key: &str, value: Text<'_>) {
        let at = open(self.buf, 2);
        put_str(self.buf, 1, key);
        put_bytes(self.buf, 2, value.bytes());
        close(self.buf, at);
    }

    fn end_log(&mut self) {
        close(self.buf, self.nested);
    }

    fn end_span(&mut self) {
        close_kept(self.buf, self.span, 2);
    }

    fn end_segment(&mut self, names: Names<'_>) {
        put_str(self.buf, 4, names.service);
        put_str(self.buf, 5, names.instance);
    }
}

/// A port's decimal digits (empty for none), written into `digits`.
fn port_text(port: Option<i64>, digits: &mut [u8; 20]) -> &[u8] {
    let Some(mut p) = port.filter(|p| (0..=65535).contains(p)) else {
        return b"";
    };
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (p % 10) as u8;
        p /= 10;
        if p == 0 {
            break;
        }
    }
    &digits[at..]
}

/// Every span of `spans` as one `SegmentObject` each, back to back in `buf` (cleared first);
/// `ends` gets the end offset of each.
pub(crate) fn protobuf<'a>(
    spans: impl IntoIterator<Item = SpanView<'a>>,
    names: Names<'_>,
    buf: &mut Vec<u8>,
    ends: &mut Vec<usize>,
    scratch: &mut Vec<u8>,
) {
    buf.clear();
    ends.clear();
    for span in spans {
        let mut out = Protobuf {
            buf: &mut *buf,
            span: 0,
            nested: 0,
        };
        write_segment(&mut out, &span, names, scratch);
        ends.push(buf.len());
    }
}

// ---------------------------------------------------------------------------------------------
// JSON (the protobuf JSON mapping the OAP's HTTP receiver parses: camelCase names, enums by name)

const SPAN_TYPES: [&str; 3] = ["Entry", "Exit", "Local"];
const LAYERS: [&str; 6] = ["Unknown", "Database", "RPCFramework", "Http", "MQ", "Cache"];

/// JSON into one buffer: the caller writes the array around the segments.
pub(crate) struct Json<'b> {
    buf: &'b mut Vec<u8>,
    /// Inside `"tags":[`.
    tags: bool,
    /// Inside `"logs":[`.
    logs: bool,
    /// No data pair written in the open log yet.
    first_data: bool,
}

impl Json<'_> {
    /// `,"key":` (the keys are the protocol's field names: nothing to escape).
    fn key(&mut self, key: &str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    fn text(&mut self, key: &str, value: &str) {
        self.key(key);
        string(self.buf, value);
    }

    fn number(&mut self, key: &str, value: i64) {
        self.key(key);
        let mut digits = [0u8; 20];
        self.buf.extend_from_slice(int_text(value, &mut digits));
    }

    /// A string value: a user's escaped, the encoder's own as is.
    fn value(&mut self, t: Text<'_>) {
        match t {
            Text::Str(s) => string(self.buf, s),
            Text::Ascii(b) => {
                self.buf.push(b'"');
                self.buf.extend_from_slice(b);
                self.buf.push(b'"');
            }
        }
    }

    fn pair(&mut self, key: &str, value: Text<'_>) {
        self.buf.extend_from_slice(b"{\"key\":");
        string(self.buf, key);
        self.buf.extend_from_slice(b",\"value\":");
        self.value(value);
        self.buf.push(b'}');
    }

    fn close_tags(&mut self) {
        if self.tags {
            self.buf.push(b']');
            self.tags = false;
        }
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    crate::export::encode::json::string(out, s);
}

impl Out for Json<'_> {
    fn begin_segment(&mut self, ids: &Ids<'_>, _: Names<'_>) {
        self.buf.extend_from_slice(b"{\"traceId\":");
        self.value(ids.trace.text());
        self.key("traceSegmentId");
        self.value(ids.segment.text());
        self.buf.extend_from_slice(b",\"spans\":[");
    }

    fn begin_span(&mut self, span: &SpanView<'_>) {
        self.buf
            .extend_from_slice(b"{\"spanId\":0,\"parentSpanId\":-1");
        self.number("startTime", millis(span.start_time_unix_nano()) as i64);
        self.number("endTime", millis(span.end_time_unix_nano()) as i64);
    }

    fn reference(&mut self, r: &Reference<'_>, trace: Text<'_>, names: Names<'_>) {
        self.buf.extend_from_slice(b",\"refs\":[{\"refType\":");
        match r {
            Reference::Thread(parent) => {
                string(self.buf, "CrossThread");
                self.key("traceId");
                self.value(trace);
                self.key("parentTraceSegmentId");
                self.value(parent.text());
                self.number("parentSpanId", 0);
                self.text("parentService", names.service);
                self.text("parentServiceInstance", names.instance);
            }
            Reference::Process(p) => {
                string(self.buf, "CrossProcess");
                self.key("traceId");
                self.value(trace);
                self.text("parentTraceSegmentId", &p.segment_id);
                self.number("parentSpanId", i64::from(p.span_id));
                self.text("parentService", &p.service);
                self.text("parentServiceInstance", &p.instance);
                self.text("parentEndpoint", &p.endpoint);
                self.text("networkAddressUsedAtPeer", &p.address);
            }
        }
        self.buf.extend_from_slice(b"}]");
    }

    fn span_fields(&mut self, name: &str, peer: Option<(&str, Option<i64>)>, f: Fields) {
        self.text("operationName", name);
        if let Some((host, port)) = peer {
            let mut digits = [0u8; 20];
            let port = port_text(port, &mut digits);
            self.key("peer");
            string(self.buf, host);
            // Reopen the quoted host to add the port inside its quotes.
            self.buf.pop();
            if !port.is_empty() {
                self.buf.push(b':');
                self.buf.extend_from_slice(port);
            }
            self.buf.push(b'"');
        }
        self.text("spanType", SPAN_TYPES[f.kind as usize]);
        self.text("spanLayer", LAYERS[f.layer as usize]);
        self.number("componentId", f.component as i64);
        self.key("isError");
        self.buf
            .extend_from_slice(if f.is_error { b"true" } else { b"false" });
    }

    fn tag(&mut self, key: &str, value: Text<'_>) {
        if self.tags {
            self.buf.push(b',');
        } else {
            self.buf.extend_from_slice(b",\"tags\":[");
            self.tags = true;
        }
        self.pair(key, value);
    }

    fn begin_log(&mut self, time_ms: u64) {
        self.close_tags();
        if self.logs {
            self.buf.push(b',');
        } else {
            self.buf.extend_from_slice(b",\"logs\":[");
            self.logs = true;
        }
        self.buf.extend_from_slice(b"{\"time\":");
        let mut digits = [0u8; 20];
        self.buf
            .extend_from_slice(int_text(time_ms as i64, &mut digits));
        self.buf.extend_from_slice(b",\"data\":[");
        self.first_data = true;
    }

    fn log_data(&mut self, key: &str, value: Text<'_>) {
        if !self.first_data {
            self.buf.push(b',');
        }
        self.first_data = false;
        self.pair(key, value);
    }

    fn end_log(&mut self) {
        self.buf.extend_from_slice(b"]}");
    }

    fn end_span(&mut self) {
        self.close_tags();
        if self.logs {
            self.buf.push(b']');
            self.logs = false;
        }
        self.buf.extend_from_slice(b"}]");
    }

    fn end_segment(&mut self, names: Names<'_>) {
        self.text("service", names.service);
        self.text("serviceInstance", names.instance);
        self.buf.push(b'}');
    }
}

/// Every span of `spans` as one segment each, in one JSON array (what `POST /v3/segments`
/// takes), into `buf` (cleared first).
pub(crate) fn json<'a>(
    spans: impl IntoIterator<Item = SpanView<'a>>,
    names: Names<'_>,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) {
    buf.clear();
    buf.push(b'[');
    for (i, span) in spans.into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let mut out = Json {
            buf: &mut *buf,
            tags: false,
            logs: false,
            first_data: true,
        };
        write_segment(&mut out, &span, names, scratch);
    }
    buf.push(b']');
}

// ---------------------------------------------------------------------------------------------
// Management: `InstanceProperties` and `InstancePingPkg`

/// `InstanceProperties` (protobuf).
pub(crate) fn properties_protobuf(names: Names<'_>, properties: &[(String, String)]) -> Vec<u8> {
    let mut buf = Vec::new();
    put_str(&mut buf, 1, names.service);
    put_str(&mut buf, 2, names.instance);
    for (k, v) in properties {
        let at = open(&mut buf, 3);
        put_str(&mut buf, 1, k);
        put_str(&mut buf, 2, v);
        close(&mut buf, at);
    }
    buf
}

/// `InstanceProperties` (JSON, `/v3/management/reportProperties`).
pub(crate) fn properties_json(names: Names<'_>, properties: &[(String, String)]) -> Vec<u8> {
    let mut buf = Vec::new();
    buf.extend_from_slice(b"{\"service\":");
    string(&mut buf, names.service);
    buf.extend_from_slice(b",\"serviceInstance\":");
    string(&mut buf, names.instance);
    buf.extend_from_slice(b",\"properties\":[");
    for (i, (k, v)) in properties.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"key\":");
        string(&mut buf, k);
        buf.extend_from_slice(b",\"value\":");
        string(&mut buf, v);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
    buf
}

/// `InstancePingPkg` (protobuf).
pub(crate) fn ping_protobuf(names: Names<'_>) -> Vec<u8> {
    let mut buf = Vec::new();
    put_str(&mut buf, 1, names.service);
    put_str(&mut buf, 2, names.instance);
    buf
}

/// `InstancePingPkg` (JSON, `/v3/management/keepAlive`).
pub(crate) fn ping_json(names: Names<'_>) -> Vec<u8> {
    let mut buf = Vec::new();
    buf.extend_from_slice(b"{\"service\":");
    string(&mut buf, names.service);
    buf.extend_from_slice(b",\"serviceInstance\":");
    string(&mut buf, names.instance);
    buf.push(b'}');
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field's length as protobuf reads it (the varint after the key).
    fn read_len(buf: &[u8]) -> (u64, usize) {
        let (mut v, mut shift, mut i) = (0u64, 0, 1);
        loop {
            let b = buf[i];
            v |= u64::from(b & 0x7f) << shift;
            i += 1;
            if b < 0x80 {
                return (v, i);
            }
            shift += 7;
        }
    }

    #[test]
    fn nested_lengths_of_every_width_are_canonical_varints_before_their_body() {
        for len in [
            0usize, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 2_097_152,
        ] {
            let mut buf = Vec::new();
            let at = open(&mut buf, 3);
            buf.extend((0..len).map(|i| (i % 251) as u8));
            close(&mut buf, at);
            let (read, header) = read_len(&buf);
            assert_eq!(read as usize, len);
            // Canonical: the fewest bytes, as protobuf writes it.
            let expected = 1 + (64 - (len as u64 | 1).leading_zeros() as usize).div_ceil(7);
            assert_eq!(header, expected, "{len}");
            assert_eq!(buf.len(), header + len);
            assert!(
                buf[header..]
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == (i % 251) as u8)
            );
            // The same with two bytes kept (a span's): shifted left, kept, or right.
            let mut buf = Vec::new();
            let at = open2(&mut buf, 3);
            buf.extend((0..len).map(|i| (i % 251) as u8));
            close_kept(&mut buf, at, 2);
            assert_eq!(read_len(&buf), (len as u64, expected), "{len}");
            assert_eq!(buf.len(), expected + len);
            assert!(
                buf[expected..]
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == (i % 251) as u8)
            );
        }
    }

    #[test]
    fn ids_in_hex_as_everywhere_else() {
        let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        assert_eq!(Hex::<32>::of(v).0, format!("{v:032x}").as_bytes());
        assert_eq!(&Hex::<16>::of(0xab).0, b"00000000000000ab");
        let id = crate::SpanId::from_u64(0x00f0_67aa_0ba9_02b7);
        assert_eq!(
            Hex::<16>::of(u128::from(id.to_u64())).0,
            id.to_string().as_bytes()
        );
    }

    #[test]
    fn integers_and_ports_as_text() {
        let mut d = [0u8; 20];
        for v in [0i64, 7, -7, 10, 65535, i64::MAX, i64::MIN] {
            assert_eq!(int_text(v, &mut d), v.to_string().as_bytes());
        }
        assert_eq!(port_text(Some(5432), &mut d), b"5432");
        assert_eq!(port_text(Some(70000), &mut d), b"");
        assert_eq!(port_text(None, &mut d), b"");
    }

    #[test]
    fn layer_component_and_peer_come_from_the_conventions() {
        let spans = crate::testing::capture(|| {
            crate::span("GET")
                .kind(SpanKind::Client)
                .attribute("db.system.name", "redis")
                .attribute("server.address", "cache")
                .attribute("server.port", 6379)
                .start()
                .end();
            crate::span("publish")
                .kind(SpanKind::Producer)
                .attribute("messaging.system", "kafka")
                .attribute("peer.service", "events")
                .start()
                .end();
            crate::span("consume")
                .kind(SpanKind::Consumer)
                .attribute("messaging.system", "rabbitmq")
                .start()
                .end();
            crate::span("Get")
                .kind(SpanKind::Server)
                .attribute("rpc.system", "grpc")
                .start()
                .end();
        });
        let batch = crate::SpanBatch::from_records(&spans.0);
        /// Span type, layer, component, peer.
        type Mapped<'a> = (u64, u64, u64, Option<(&'a str, Option<i64>)>);
        let found: Vec<Mapped<'_>> = batch
            .iter()
            .map(|s| {
                let sem = Semantics::of(&s);
                (
                    span_type(s.kind()),
                    sem.layer(),
                    sem.component(s.kind()),
                    sem.peer(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (EXIT, CACHE, component::REDIS, Some(("cache", Some(6379)))),
                (EXIT, MQ, component::KAFKA_PRODUCER, Some(("events", None))),
                (ENTRY, MQ, component::RABBITMQ_CONSUMER, None),
                (ENTRY, RPC_FRAMEWORK, component::GRPC, None),
            ]
        );
    }
}
