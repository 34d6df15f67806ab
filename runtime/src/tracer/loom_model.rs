//! The loom model of the lock-free protocol: one producer and the collector over a ring, and
//! the collector's sleep against a producer's wake-up, explored over every interleaving.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p traceweave --lib --release tracer::loom_model`

use std::mem::ManuallyDrop;

use loom::sync::Arc;
use loom::thread;

use super::ring::{Pushed, Ring};
use super::wake::Wake;

fn push(ring: &Ring<String>, value: u32) -> Pushed {
    let mut item = ManuallyDrop::new(value.to_string());
    // SAFETY: the calling thread is the ring's only producer; `item` is used again only if
    // refused.
    let pushed = unsafe { ring.push_from(&mut *item) };
    if pushed == Pushed::Refused {
        // SAFETY: a refused item is still ours, and dropped once.
        unsafe { ManuallyDrop::drop(&mut item) };
    }
    pushed
}

/// Drains as the collector does: each model has one consumer thread.
fn drain(ring: &Ring<String>, max: usize, out: &mut Vec<String>) -> usize {
    // SAFETY: the calling thread is the model's only consumer of `ring`.
    unsafe { ring.drain_into(max, out) }
}

#[test]
fn every_item_arrives_once_in_order_or_is_counted_dropped() {
    loom::model(|| {
        let ring = Arc::new(Ring::<String>::with_capacity(2));
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                for i in 0..3 {
                    push(&ring, i);
                }
            })
        };
        let mut got: Vec<String> = Vec::new();
        for _ in 0..2 {
            drain(&ring, 2, &mut got);
        }
        producer.join().unwrap();
        drain(&ring, 4, &mut got);
        let got: Vec<u32> = got.iter().map(|s| s.parse().unwrap()).collect();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");
        assert_eq!(got.len() as u64 + ring.dropped(), 3);
        assert_eq!(ring.created(), 3);
        assert_eq!(ring.len(), 0);
    });
}

#[test]
fn a_collector_going_to_sleep_never_misses_a_wake_up() {
    sleeping_collector(true);
}

#[test]
fn a_collector_napping_between_polls_never_misses_a_wake_up() {
    sleeping_collector(false);
}

/// `long`: the collector parks (woken at a quarter full), else naps (woken at half full).
fn sleeping_collector(long: bool) {
    loom::model(move || {
        // Capacity 2: every push looks at the fill, so every push may wake the collector.
        let ring = Arc::new(Ring::<String>::with_capacity(2));
        let wake = Arc::new(Wake::new());
        // The collector's loop: drain, announce the sleep, look again, park. If the producer's
        // wake-up could be lost, the model ends with the collector parked forever (a deadlock
        // loom reports).
        let collector = {
            let (ring, wake) = (ring.clone(), wake.clone());
            thread::spawn(move || {
                let mut got = 0;
                loop {
                    got += drain(&ring, 2, &mut Vec::new());
                    if got == 1 {
                        break;
                    }
                    wake.prepare(long);
                    let threshold = if long {
                        Ring::<String>::wake_threshold(ring.capacity())
                    } else {
                        Ring::<String>::nap_threshold(ring.capacity())
                    };
                    if ring.len() >= threshold {
                        wake.done();
                        continue;
                    }
                    thread::park();
                    wake.done();
                }
            })
        };
        wake.set_collector(collector.thread().clone());
        // The producer (this thread).
        // SAFETY: this thread is the ring's only producer.
        if push(&ring, 7) == Pushed::QueuedCheck
            && let Some(half_full) = unsafe { ring.check_fill() }
        {
            wake.notify(half_full);
        }
        collector.join().unwrap();
    });
}
