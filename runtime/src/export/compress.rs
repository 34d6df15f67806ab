//! Request-body compression for the OTLP/HTTP exporter: gzip (flate2 on zlib-rs, level 1) and
//! zstd (libzstd, level -1), each into a buffer kept from batch to batch.
//!
//! Levels chosen by `benches/otlp_encode.rs` on a realistic 512-span batch (figures in
//! `runtime/benches/README.md`): gzip level 1 is the fastest deflate within 10 % of level 6's
//! ratio; zstd level -1 compresses as well as level 1 (ratio 5.4 against gzip's 4.2) in four
//! fifths of its time, about half of gzip level 1's.

/// How the OTLP/HTTP exporter compresses request bodies (`OTEL_EXPORTER_OTLP_COMPRESSION`).
///
/// ```
/// use traceweave::export::{OtlpCompression, OtlpExporter};
/// // What OTEL_EXPORTER_OTLP_COMPRESSION=gzip selects: a fifth of the bytes on the wire.
/// let exporter = OtlpExporter::new("http://collector:4318").compression(OtlpCompression::Gzip);
/// # drop(exporter);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// Bodies sent as encoded (the default, as in the OpenTelemetry SDKs).
    #[default]
    None,
    /// `Content-Encoding: gzip`: every OTLP receiver reads it.
    Gzip,
    /// `Content-Encoding: zstd` (feature `zstd`): half gzip's CPU for fewer bytes. The
    /// OpenTelemetry Collector's OTLP receiver and `traceweave-view` read it, rotel 0.0.1 does
    /// not (it answers 400); check that your receiver does before choosing it.
    #[cfg(feature = "zstd")]
    Zstd,
}

impl OtlpCompression {
    /// The `Content-Encoding` header's value, if any.
    pub(crate) fn content_encoding(self) -> Option<&'static str> {
        match self {
            OtlpCompression::None => None,
            OtlpCompression::Gzip => Some("gzip"),
            #[cfg(feature = "zstd")]
            OtlpCompression::Zstd => Some("zstd"),
        }
    }
}

/// The compressed body and the compressor's state, kept across batches.
#[derive(Default)]
pub(crate) struct Compressor {
    out: Vec<u8>,
    #[cfg(feature = "zstd")]
    zstd: Option<zstd::bulk::Compressor<'static>>,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("capacity", &self.out.capacity())
            .finish_non_exhaustive()
    }
}

/// zstd's level: negative levels trade ratio for speed; -1 keeps level 1's ratio here.
#[cfg(feature = "zstd")]
const ZSTD_LEVEL: i32 = -1;

impl Compressor {
    /// `body` compressed `how`, or `body` itself for [`OtlpCompression::None`] (and, should the
    /// compressor fail, which only an allocation failure can cause: the receiver is told by
    /// the missing header).
    pub(crate) fn compress<'a>(
        &'a mut self,
        how: OtlpCompression,
        body: &'a [u8],
    ) -> (&'a [u8], Option<&'static str>) {
        let done = match how {
            OtlpCompression::None => false,
            OtlpCompression::Gzip => self.gzip(body),
            #[cfg(feature = "zstd")]
            OtlpCompression::Zstd => self.zstd(body),
        };
        if done {
            (&self.out, how.content_encoding())
        } else {
            (body, None)
        }
    }

    fn gzip(&mut self, body: &[u8]) -> bool {
        use std::io::Write;
        self.out.clear();
        let mut enc = flate2::write::GzEncoder::new(
            std::mem::take(&mut self.out),
            flate2::Compression::fast(),
        );
        // Writing to a Vec cannot fail.
        let ok = enc.write_all(body).is_ok();
        match enc.finish() {
            Ok(out) => {
                self.out = out;
                ok
            }
            Err(_) => false,
        }
    }

    #[cfg(feature = "zstd")]
    fn zstd(&mut self, body: &[u8]) -> bool {
        let compressor = match &mut self.zstd {
            Some(c) => c,
            None => match zstd::bulk::Compressor::new(ZSTD_LEVEL) {
                Ok(c) => self.zstd.insert(c),
                Err(_) => return false,
            },
        };
        self.out.clear();
        self.out
            .reserve(zstd::zstd_safe::compress_bound(body.len()));
        compressor.compress_to_buffer(body, &mut self.out).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Protobuf-like bytes with the repetition of real batches.
    fn body() -> Vec<u8> {
        (0..2000u32)
            .flat_map(|i| {
                let mut s = b"\x0a\x10http.route\x12\x0c/orders/{id}".to_vec();
                s.extend_from_slice(&i.to_le_bytes());
                s
            })
            .collect()
    }

    #[test]
    fn none_sends_the_body_itself() {
        let mut c = Compressor::default();
        let body = body();
        let (out, encoding) = c.compress(OtlpCompression::None, &body);
        assert_eq!((out, encoding), (&body[..], None));
    }

    /// What a receiver reads back from `out`.
    fn decompress(encoding: &str, out: &[u8]) -> Vec<u8> {
        match encoding {
            "gzip" => {
                let mut back = Vec::new();
                flate2::read::GzDecoder::new(out)
                    .read_to_end(&mut back)
                    .unwrap();
                back
            }
            #[cfg(feature = "zstd")]
            "zstd" => zstd::decode_all(out).unwrap(),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn each_compression_reads_back_into_a_kept_buffer() {
        let ways = [
            OtlpCompression::Gzip,
            #[cfg(feature = "zstd")]
            OtlpCompression::Zstd,
        ];
        let body = body();
        for how in ways {
            let mut c = Compressor::default();
            let (out, encoding) = c.compress(how, &body);
            let encoding = encoding.unwrap();
            assert!(
                out.len() * 3 < body.len(),
                "{encoding}: {} of {}",
                out.len(),
                body.len()
            );
            assert_eq!(decompress(encoding, out), body, "{encoding}");
            let kept = c.out.as_ptr();
            // A smaller body next: the same buffer (and zstd context) serve it.
            let (out, _) = c.compress(how, &body[..100]);
            assert_eq!(decompress(encoding, out), &body[..100], "{encoding}");
            assert_eq!(c.out.as_ptr(), kept, "{encoding}: the buffer is kept");
        }
    }
}
