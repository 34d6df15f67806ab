//! The export thread: the collector hands it full batches and goes back to draining the rings,
//! so no ring waits on the network (issue 25: sending overlapped with draining).
//!
//! One batch is exported while at most one more waits in the hand-off; a third is being filled
//! by the collector. The collector waits only when both are taken (the exporters are slower
//! than the spans arrive): then the rings absorb the rest, and drop and count when full, as
//! before. Batches come back empty, their capacity kept, so steady state allocates nothing.
//! Jobs run in order: a flush or stop acknowledged here has seen every batch handed over
//! before it. Accounting (exported, failed, past the shutdown deadline) is done here, where
//! the outcome is known.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use super::SharedProcessor;
use super::pipeline::{Pipeline, lock};
use crate::error::{ExportError, ExportErrorKind};
use crate::span::SpanBatch;
use crate::span::raw::RawSpan;

enum Job {
    Batch(Vec<RawSpan>),
    /// Flush the exporters, then acknowledge.
    Flush(Sender<()>),
    /// Flush (unless past the shutdown deadline), shut the exporters down, end the thread.
    Stop,
}

/// The collector's end of the export thread.
pub(crate) struct ExportThread {
    jobs: SyncSender<Job>,
    /// Delivered batches, emptied, to be filled again.
    spare: Receiver<Vec<RawSpan>>,
    handle: Option<JoinHandle<()>>,
    pipeline: Arc<Pipeline>,
}

impl ExportThread {
    /// Starts the thread that calls the exporters of `pipeline`.
    pub(crate) fn spawn(pipeline: Arc<Pipeline>, processor: SharedProcessor) -> ExportThread {
        let (jobs, inbox) = mpsc::sync_channel(1);
        let (spare_tx, spare) = mpsc::channel();
        let worker = Worker {
            pipeline: pipeline.clone(),
            processor,
            spare: spare_tx,
        };
        let handle = thread::Builder::new()
            .name("traceweave-export".into())
            .spawn(move || worker.run(inbox))
            .expect("traceweave: could not start the export thread");
        ExportThread {
            jobs,
            spare,
            handle: Some(handle),
            pipeline,
        }
    }

    /// Hands `batch` to the exporters (waiting only while another batch already waits) and
    /// returns an empty one to fill next.
    pub(crate) fn send(&mut self, batch: Vec<RawSpan>) -> Vec<RawSpan> {
        let capacity = batch.capacity();
        if let Err(mpsc::SendError(Job::Batch(lost))) = self.jobs.send(Job::Batch(batch)) {
            // The export thread is gone (it can only have panicked outside the exporters,
            // which are called under catch_unwind): these spans cannot be exported.
            let e = ExportError::new(ExportErrorKind::Panicked, "the export thread is gone");
            let counters = &self.pipeline.counters;
            *lock(&counters.last_error) = Some((&e).into());
            (counters.export_failed).fetch_add(lost.len() as u64, Ordering::AcqRel);
            let mut lost = lost;
            lost.clear();
            return lost;
        }
        self.spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(capacity))
    }

    /// Flushes the exporters after every batch handed over so far; `ack` is answered then.
    pub(crate) fn flush(&self, ack: Sender<()>) {
        // A gone thread drops `ack`: the caller sees the collector as not running.
        let _ = self.jobs.send(Job::Flush(ack));
    }

    /// Exports what was handed over, flushes and shuts the exporters down; returns when done.
    pub(crate) fn stop(mut self) {
        let _ = self.jobs.send(Job::Stop);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The export thread's state.
struct Worker {
    pipeline: Arc<Pipeline>,
    processor: SharedProcessor,
    spare: mpsc::Sender<Vec<RawSpan>>,
}

impl Worker {
    fn run(self, inbox: Receiver<Job>) {
        // Exporters run here: nothing they do is traced.
        let _suppressed = crate::context::suppress_current_thread();
        while let Ok(job) = inbox.recv() {
            match job {
                Job::Batch(mut spans) => {
                    self.deliver(&spans);
                    spans.clear();
                    let _ = self.spare.send(spans);
                }
                Job::Flush(ack) => {
                    lock(&self.processor).force_flush();
                    let _ = ack.send(());
                }
                Job::Stop => {
                    let mut processor = lock(&self.processor);
                    if !self.past_deadline() {
                        processor.force_flush();
                    }
                    processor.shutdown();
                    return;
                }
            }
        }
    }

    fn past_deadline(&self) -> bool {
        (self.pipeline.counters.shutdown_deadline.get()).is_some_and(|d| Instant::now() >= *d)
    }

    /// One export call, counted as exported or failed; past the shutdown's deadline, counted
    /// as dropped at shutdown without calling the exporters.
    fn deliver(&self, spans: &[RawSpan]) {
        if spans.is_empty() {
            return;
        }
        let counters = &self.pipeline.counters;
        if self.past_deadline() {
            (counters.past_deadline).fetch_add(spans.len() as u64, Ordering::AcqRel);
            return;
        }
        let outcome = lock(&self.processor).export(SpanBatch::from_raw(spans));
        let counter = match outcome {
            Ok(()) => &counters.exported,
            Err(e) => {
                *lock(&counters.last_error) = Some((&e).into());
                &counters.export_failed
            }
        };
        counter.fetch_add(spans.len() as u64, Ordering::AcqRel);
    }
}
