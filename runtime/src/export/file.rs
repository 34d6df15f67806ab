//! OTLP-JSON lines: one export request per line, the format the OpenTelemetry collector's
//! file exporter writes and its file receiver reads.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::encode::json;
use super::{ExportError, ExportErrorKind, Exporter, Resource};
use crate::span::SpanBatch;

/// Appends each batch as one OTLP-JSON line to a file, to keep, diff or replay later.
///
/// ```
/// let path = std::env::temp_dir().join("traceweave-doc.jsonl");
/// let exporter = traceweave::export::FileExporter::create(&path).unwrap();
/// # drop(exporter); let _ = std::fs::remove_file(path);
/// ```
#[derive(Debug)]
pub struct FileExporter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl FileExporter {
    /// Opens `path` for appending (creating it).
    pub fn create(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref().to_owned();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(FileExporter {
            path,
            out: BufWriter::new(file),
        })
    }

    fn io(&self, e: std::io::Error) -> ExportError {
        ExportError::with_source(
            ExportErrorKind::Io,
            format!("could not write {}", self.path.display()),
            e,
        )
    }
}

impl Exporter for FileExporter {
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        // Appends to the same file; lines the parent had buffered stay the parent's.
        FileExporter::create(&self.path)
            .ok()
            .map(|e| Box::new(e) as Box<dyn Exporter>)
    }

    fn export(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        if spans.is_empty() {
            return Ok(());
        }
        let mut line = Vec::new();
        json::request(&mut line, spans, resource);
        self.out
            .write_all(&line)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| self.io(e))
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        self.out.flush().map_err(|e| self.io(e))
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.force_flush()
    }
}
