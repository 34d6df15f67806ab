//! The collector thread: drains every ring, batches, hands batches to the processor (the
//! exporters), and sleeps in between without costing producers a syscall.
//!
//! While spans flow it polls on its own timer, sized from the highest recent rate so a ring
//! fills about an eighth between polls; producers then never wake it. After a quiet spell it
//! parks until the schedule delay, and a producer whose ring reaches a quarter full wakes it
//! (the eventcount in `wake.rs`; while it naps between polls, only a ring half full does):
//! the only syscall an application thread can pay, and only when a burst arrives at a
//! sleeping collector.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use super::pipeline::{Pipeline, SpanRing, lock};
use super::{BatchConfig, Command, SharedProcessor};
use crate::span::SpanBatch;
use crate::span::raw::RawSpan;

/// Shortest and longest pause between polls while spans flow.
const MIN_POLL: Duration = Duration::from_millis(1);
const MAX_POLL: Duration = Duration::from_millis(10);
/// Empty polls in a row before the collector parks until the schedule delay.
const IDLE_POLLS_BEFORE_PARK: u32 = 8;

pub(crate) struct Collector {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) processor: SharedProcessor,
    pub(crate) config: BatchConfig,
    pub(crate) commands: Receiver<Command>,
    pub(crate) rings: Vec<Arc<SpanRing>>,
    pub(crate) rings_version: u64,
    /// Spans drained but not exported yet, and when the first of them was drained.
    pub(crate) batch: Vec<RawSpan>,
    pub(crate) batch_since: Option<Instant>,
}

impl Collector {
    pub(crate) fn run(mut self) {
        // Exporters run here: nothing they do is traced.
        let _suppressed = crate::context::suppress_current_thread();
        lock(&self.processor).start();
        let max = self.config.max_export_batch_size.max(1);
        let mut poll = MIN_POLL;
        // Spans per second, the highest recently seen (halving per poll): bursty producers
        // must not stretch the poll because one interval happened to fall between bursts.
        let mut rate = 0.0f64;
        let mut idle_polls = 0u32;
        let mut last_drain = Instant::now();
        // Spans that ended before init: export them in batches of the configured size.
        self.batch.iter_mut().for_each(RawSpan::seal);
        self.export_full(max);
        loop {
            match self.commands.try_recv() {
                Ok(Command::Flush(ack)) => {
                    self.drain(max);
                    self.export();
                    lock(&self.processor).force_flush();
                    let _ = ack.send(());
                    continue;
                }
                Ok(Command::Shutdown(ack)) => {
                    self.stop(max);
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return;
                }
                Err(TryRecvError::Disconnected) => {
                    self.stop(max);
                    return;
                }
                Err(TryRecvError::Empty) => {}
            }
            let moved = self.drain(max);
            let now = Instant::now();
            if self
                .batch_since
                .is_some_and(|t| now.duration_since(t) >= self.config.schedule_delay)
            {
                self.export();
            }

            // How long to sleep: while spans flow, long enough to gather about an eighth of a
            // ring at the rate just seen; when quiet, until the schedule delay.
            if moved > 0 {
                idle_polls = 0;
                let elapsed = now.duration_since(last_drain).max(Duration::from_micros(1));
                rate = (moved as f64 / elapsed.as_secs_f64()).max(rate * 0.5);
                let target = (self.ring_capacity() / 8).max(1) as f64;
                poll = Duration::from_secs_f64(target / rate).clamp(MIN_POLL, MAX_POLL);
            } else {
                idle_polls = idle_polls.saturating_add(1);
                rate *= 0.5;
            }
            last_drain = now;
            let long = idle_polls > IDLE_POLLS_BEFORE_PARK;
            let mut timeout = if long {
                self.config.schedule_delay
            } else {
                poll
            };
            if let Some(since) = self.batch_since {
                let due = (since + self.config.schedule_delay).saturating_duration_since(now);
                timeout = timeout.min(due);
            }

            // The eventcount: announce the sleep, then look once more for what a producer
            // would wake us for (a ring a quarter full for a park, half full for a nap); it
            // sees the announcement if it fills one after this look.
            self.pipeline.wake.prepare(long);
            let threshold = if long {
                SpanRing::wake_threshold
            } else {
                SpanRing::nap_threshold
            };
            if self.pipeline.rings_version.load(Ordering::Acquire) != self.rings_version
                || (self.rings.iter()).any(|r| r.len() >= threshold(r.capacity()))
            {
                self.pipeline.wake.done();
                continue;
            }
            park_timeout(timeout);
            self.pipeline.wake.done();
        }
    }

    fn ring_capacity(&self) -> usize {
        self.rings
            .first()
            .map_or(super::BatchConfig::DEFAULT_MAX_QUEUE_SIZE, |r| r.capacity())
    }

    /// Final drain: stop accepting, export everything, flush and shut the processor down.
    fn stop(&mut self, max: usize) {
        self.pipeline.running.store(false, Ordering::SeqCst);
        self.drain(max);
        self.export();
        let mut processor = lock(&self.processor);
        if !self.past_deadline() {
            processor.force_flush();
        }
        processor.shutdown();
        drop(processor);
        // Rings of a stopped pipeline are forgotten by their threads' caches.
        for ring in lock(&self.pipeline.rings).iter() {
            ring.close();
        }
        self.pipeline
            .counters
            .stopped
            .store(true, Ordering::Release);
    }

    /// Moves every queued span into the batch, exporting each time it is full; returns how
    /// many moved.
    fn drain(&mut self, max: usize) -> usize {
        let version = self.pipeline.rings_version.load(Ordering::Acquire);
        if version != self.rings_version {
            self.rings = lock(&self.pipeline.rings).clone();
            self.rings_version = version;
        }
        let mut moved = 0;
        let mut any_closed = false;
        for i in 0..self.rings.len() {
            loop {
                let room = max.saturating_sub(self.batch.len()).max(1);
                let from = self.batch.len();
                // SAFETY: a pipeline has one collector, and only it drains the pipeline's rings
                // (a forked child's pipeline starts its own collector over fresh rings).
                let n = unsafe { self.rings[i].drain_into(room, &mut self.batch) };
                for raw in &mut self.batch[from..] {
                    raw.seal();
                }
                if n > 0 && self.batch_since.is_none() {
                    self.batch_since = Some(Instant::now());
                }
                moved += n;
                if self.batch.len() >= max {
                    self.export();
                }
                if n < room {
                    break;
                }
            }
            any_closed |= self.rings[i].is_closed();
        }
        if any_closed && self.pipeline.running.load(Ordering::Relaxed) {
            self.retire_closed();
        }
        moved
    }

    fn retire_closed(&mut self) {
        let mut rings = lock(&self.pipeline.rings);
        let counters = &self.pipeline.counters;
        rings.retain(|ring| {
            let done = ring.is_closed() && ring.len() == 0;
            if done {
                counters
                    .retired_created
                    .fetch_add(ring.created(), Ordering::AcqRel);
                counters
                    .retired_dropped
                    .fetch_add(ring.dropped(), Ordering::AcqRel);
            }
            !done
        });
        self.rings = rings.clone();
        self.rings_version = self.pipeline.rings_version.fetch_add(1, Ordering::AcqRel) + 1;
    }

    /// Exports the batch in chunks of at most `max` (the pre-init batch may be larger).
    fn export_full(&mut self, max: usize) {
        let batch = std::mem::take(&mut self.batch);
        for chunk in batch.chunks(max) {
            self.deliver(chunk);
        }
        self.batch = batch;
        self.batch.clear();
        self.batch_since = None;
    }

    fn export(&mut self) {
        self.batch_since = None;
        let batch = std::mem::take(&mut self.batch);
        self.deliver(&batch);
        self.batch = batch;
        self.batch.clear();
    }

    fn past_deadline(&self) -> bool {
        (self.pipeline.counters.shutdown_deadline.get()).is_some_and(|d| Instant::now() >= *d)
    }

    /// One export call, counted as exported or failed; past the shutdown's deadline, counted
    /// as dropped at shutdown without calling the exporters.
    fn deliver(&mut self, spans: &[RawSpan]) {
        if spans.is_empty() {
            return;
        }
        if self.past_deadline() {
            (self.pipeline.counters.past_deadline).fetch_add(spans.len() as u64, Ordering::AcqRel);
            return;
        }
        let outcome = lock(&self.processor).export(SpanBatch::from_raw(spans));
        let counters = &self.pipeline.counters;
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

fn park_timeout(timeout: Duration) {
    if !timeout.is_zero() {
        std::thread::park_timeout(timeout);
    }
}
