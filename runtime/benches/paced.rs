//! Paced load: one thread makes roots with 10 children each in short bursts and sleeps in
//! between, busy only a given fraction of the time (20 % or 5 %), as a loaded but not
//! saturated service is. Background threads (collectors, exporters) get the CPU they need, so what this shows
//! is each framework's full cost per span and whether it keeps every span, which flat-out
//! loops hide (fastrace's backlog grows without bound there, and bounded queues drop).
//!
//! Each framework and workload runs in its own process, `TW_PASSES` times (default 3); the
//! table has the medians. Per span: the calling thread's time inside roots, the CPU of every
//! other thread, their sum, the share exported, and the p99 of one root's latency.
//!
//! `cargo bench -p traceweave --bench paced` (`TW_SECONDS`, default 2 per pass).

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

const CHILDREN: usize = 10;
const SPANS_PER_ROOT: u64 = CHILDREN as u64 + 1;

fn thread_cpu_nanos() -> u64 {
    // SAFETY: clock_gettime only writes into the struct we pass.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `root` for `seconds`, busy `busy` of the time; returns each root's duration (ns).
///
/// The thread works in bursts of about `BURST` and sleeps between them, as a service thread
/// waits on I/O: the OS sees a thread that is mostly idle, so background threads get a core
/// (a spinning pause would saturate the thread as far as the scheduler can tell).
/// Bursts run by `paced` in this process.
static BURSTS: AtomicU64 = AtomicU64::new(0);

fn paced(seconds: f64, busy: f64, mut root: impl FnMut()) -> Vec<u32> {
    const BURST: Duration = Duration::from_micros(250);
    let mut durations = Vec::with_capacity(4_000_000);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    loop {
        let burst_start = Instant::now();
        if burst_start >= end {
            break;
        }
        let mut worked = Duration::ZERO;
        BURSTS.fetch_add(1, Ordering::Relaxed);
        while worked < BURST {
            let t0 = Instant::now();
            root();
            let took = t0.elapsed();
            worked += took;
            durations.push(took.as_nanos().min(u128::from(u32::MAX)) as u32);
        }
        // Sleep what keeps the share of work at `busy` (oversleeping only lowers it).
        let idle = worked.mul_f64(1.0 / busy - 1.0);
        let spent = burst_start.elapsed();
        std::thread::sleep((worked + idle).saturating_sub(spent));
    }
    durations
}

struct Outcome {
    roots: u64,
    exported: u64,
    durations: Vec<u32>,
}

fn run(framework: &str, workload: &str, seconds: f64, busy: f64) -> Outcome {
    let asynchronous = workload == "async";
    match framework {
        "traceweave" | "tw-otel-bridge" => {
            let sink = TwDiscard::default();
            let guard = tw_install(sink.clone());
            otel_bridge(framework);
            let durations = paced(seconds, busy, || {
                if asynchronous {
                    block_on(tw::async_root(CHILDREN));
                } else {
                    tw::root(CHILDREN);
                }
            });
            let _ = traceweave::force_flush(); // a late flush shows in the counters printed below
            let stats = traceweave::stats();
            drop(guard);
            let roots = durations.len() as u64;
            eprintln!("traceweave stats: {stats:?}");
            // A wake-up is an `unpark` (a futex syscall) on this, the application, thread.
            eprintln!(
                "traceweave: the calling thread woke the collector {} times in {} bursts",
                stats.producer_wakeups,
                BURSTS.load(Ordering::Relaxed)
            );
            assert_eq!(stats.created, roots * SPANS_PER_ROOT, "{stats:?}");
            assert_eq!(stats.created, stats.exported + stats.dropped(), "{stats:?}");
            Outcome {
                roots,
                exported: sink.0.load(Ordering::Relaxed),
                durations,
            }
        }
        "fastrace" => {
            let sink = FrDiscard::default();
            fr_install(sink.clone());
            let durations = paced(seconds, busy, || {
                if asynchronous {
                    block_on(fr::async_root(CHILDREN));
                } else {
                    fr::root(CHILDREN);
                }
            });
            fastrace::flush();
            Outcome {
                roots: durations.len() as u64,
                exported: sink.0.load(Ordering::Relaxed),
                durations,
            }
        }
        #[cfg(feature = "tracing")]
        "tracing-tw" => {
            let sink = TwDiscard::default();
            let guard = tw_install(sink.clone());
            tracing::dispatcher::set_global_default(tw_layer_dispatch()).unwrap();
            let durations = paced(seconds, busy, || {
                if asynchronous {
                    block_on(tr::async_root(CHILDREN));
                } else {
                    tr::root(CHILDREN);
                }
            });
            let _ = traceweave::force_flush(); // a late flush shows in the counters printed below
            let stats = traceweave::stats();
            drop(guard);
            let roots = durations.len() as u64;
            assert_eq!(stats.created, roots * SPANS_PER_ROOT, "{stats:?}");
            assert_eq!(stats.created, stats.exported + stats.dropped(), "{stats:?}");
            Outcome {
                roots,
                exported: sink.0.load(Ordering::Relaxed),
                durations,
            }
        }
        #[cfg(feature = "tracing")]
        "tracing-registry" => {
            tracing::dispatcher::set_global_default(floor_dispatch()).unwrap();
            let durations = paced(seconds, busy, || {
                if asynchronous {
                    block_on(tr::async_root(CHILDREN));
                } else {
                    tr::root(CHILDREN);
                }
            });
            Outcome {
                roots: durations.len() as u64,
                exported: 0,
                durations,
            }
        }
        "tracing-otel" => {
            let sink = OtDiscard::default();
            let (dispatch, provider) = ot_dispatch(sink.clone(), true);
            tracing::dispatcher::set_global_default(dispatch).unwrap();
            let durations = paced(seconds, busy, || {
                if asynchronous {
                    block_on(tr::async_root(CHILDREN));
                } else {
                    tr::root(CHILDREN);
                }
            });
            let _ = provider.force_flush();
            let _ = provider.shutdown();
            Outcome {
                roots: durations.len() as u64,
                exported: sink.0.load(Ordering::Relaxed),
                durations,
            }
        }
        other => panic!("unknown framework {other}"),
    }
}

fn child(spec: &str, seconds: f64) {
    let mut parts = spec.split(':');
    let (framework, workload, busy) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap().parse::<f64>().unwrap(),
    );
    let (cpu0, thread0) = (process_cpu_nanos(), thread_cpu_nanos());
    let mut outcome = run(framework, workload, seconds, busy);
    // What the background threads spent: everything but this thread.
    let background = (process_cpu_nanos() - cpu0).saturating_sub(thread_cpu_nanos() - thread0);
    let spans = outcome.roots * SPANS_PER_ROOT;
    let calling: u64 = outcome.durations.iter().map(|&d| u64::from(d)).sum();
    outcome.durations.sort_unstable();
    let p99 = outcome.durations[outcome.durations.len() * 99 / 100];
    println!(
        "RESULT {:.1} {:.1} {:.5} {} {}",
        calling as f64 / spans as f64,
        background as f64 / spans as f64,
        outcome.exported as f64 / spans as f64,
        p99,
        spans as f64 / seconds / 1e6,
    );
    black_box(outcome);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = std::env::var("TW_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let passes: usize = std::env::var("TW_PASSES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    if let Some(spec) = args.iter().find_map(|a| a.strip_prefix("--child=")) {
        child(spec, seconds);
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    for (workload, busy) in [("sync", 0.20), ("async", 0.20), ("sync", 0.05)] {
        println!();
        println!(
            "paced: one thread, root + {CHILDREN} {workload} children, busy {:.0} %, {seconds} s x {passes} passes (medians)",
            busy * 100.0
        );
        println!(
            "{:<14} {:>12} {:>14} {:>11} {:>10} {:>12} {:>10}",
            "framework",
            "calling ns",
            "background ns",
            "total ns",
            "exported",
            "p99 root ns",
            "Mspans/s"
        );
        let mut totals = Vec::new();
        let floor = cfg!(feature = "tracing").then_some("tracing-registry");
        for fw in frameworks().into_iter().chain(floor) {
            let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 5];
            for _ in 0..passes {
                let Some(fields) = run_child(&format!("{fw}:{workload}:{busy}"), seconds) else {
                    continue;
                };
                for (i, v) in fields.iter().enumerate() {
                    cols[i].push(v.parse().unwrap_or(f64::NAN));
                }
            }
            if cols[0].is_empty() {
                continue;
            }
            let [calling, background, exported, p99, rate] =
                <[Vec<f64>; 5]>::try_from(cols).unwrap().map(median);
            println!(
                "{fw:<14} {calling:>12.1} {background:>14.1} {:>11.1} {:>9.3}% {p99:>12.0} {rate:>10.2}",
                calling + background,
                exported * 100.0
            );
            totals.push((fw, calling + background));
        }
        let total = |name: &str| totals.iter().find(|(fw, _)| *fw == name).map(|t| t.1);
        if let (Some(tw), Some(fr), Some(ot)) = (
            total("traceweave"),
            total("fastrace"),
            total("tracing-otel"),
        ) {
            println!(
                "total CPU per span: traceweave / fastrace {:.2}, traceweave / tracing-otel {:.3}",
                tw / fr,
                tw / ot
            );
        }
        if let (Some(layer), Some(ot)) = (total("tracing-tw"), total("tracing-otel")) {
            println!(
                "same #[instrument] spans: traceweave's layer / tracing-opentelemetry {:.3}",
                layer / ot
            );
        }
        if let (Some(floor), Some(ot)) = (total("tracing-registry"), total("tracing-otel")) {
            println!(
                "the floor of any layer (registry + a no-op layer, records nothing) / tracing-opentelemetry {:.3}",
                floor / ot
            );
        }
    }
}
