//! Throughput under saturation: two threads create spans flat out for a few seconds (a root
//! with 10 sync children, in a loop), for each framework in its own process. Reports spans
//! created, exported and dropped, total CPU per span across all threads (the collectors and
//! exporter threads included), and peak RSS.
//!
//! `cargo bench -p traceweave --bench throughput` (set `TW_SECONDS` to change the duration).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

const CHILDREN: usize = 10;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|v| v.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

/// Runs `work` on `threads` threads until `seconds` pass; returns root iterations.
fn saturate(seconds: f64, threads: usize, work: impl Fn() + Send + Sync + 'static) -> u64 {
    let work = Arc::new(work);
    let stop = Arc::new(AtomicBool::new(false));
    let loops = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (work, stop, loops) = (work.clone(), stop.clone(), loops.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        work();
                    }
                    n += 64;
                }
                loops.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in handles {
        t.join().unwrap();
    }
    loops.load(Ordering::Relaxed)
}

fn child(framework: &str, threads: usize, seconds: f64) {
    let spans_per_loop = CHILDREN as u64 + 1;
    let cpu0 = process_cpu_nanos();
    let wall0 = Instant::now();
    let (created, exported, dropped, note) = match framework {
        "traceweave" | "tw-otel-bridge" => {
            let sink = TwDiscard::default();
            let guard = tw_install(sink.clone());
            otel_bridge(framework);
            let loops = saturate(seconds, threads, || tw::root(CHILDREN));
            let _ = traceweave::force_flush(); // a late flush shows in the counters printed below
            let stats = traceweave::stats();
            drop(guard);
            let created = loops * spans_per_loop;
            let exported = sink.0.load(Ordering::Relaxed);
            // The pipeline's own counters must agree exactly with what happened.
            assert_eq!(stats.created, created, "{stats:?}");
            assert_eq!(stats.exported, exported, "{stats:?}");
            assert_eq!(stats.created, stats.exported + stats.dropped(), "{stats:?}");
            (
                created,
                exported,
                stats.dropped(),
                "default queue per thread, counters exact",
            )
        }
        "fastrace" => {
            let sink = FrDiscard::default();
            fr_install(sink.clone());
            let loops = saturate(seconds, threads, || fr::root(CHILDREN));
            fastrace::flush();
            let created = loops * spans_per_loop;
            let exported = sink.0.load(Ordering::Relaxed);
            (
                created,
                exported,
                created.saturating_sub(exported),
                "default config",
            )
        }
        #[cfg(feature = "tracing")]
        "tracing-tw" => {
            let sink = TwDiscard::default();
            let guard = tw_install(sink.clone());
            tracing::dispatcher::set_global_default(tw_layer_dispatch()).unwrap();
            let loops = saturate(seconds, threads, || tr::root(CHILDREN));
            let _ = traceweave::force_flush(); // a late flush shows in the counters printed below
            let stats = traceweave::stats();
            drop(guard);
            let created = loops * spans_per_loop;
            let exported = sink.0.load(Ordering::Relaxed);
            assert_eq!(stats.created, created, "{stats:?}");
            assert_eq!(stats.created, stats.exported + stats.dropped(), "{stats:?}");
            (
                created,
                exported,
                stats.dropped(),
                "tracing + traceweave layer, default queue",
            )
        }
        #[cfg(feature = "tracing")]
        "tracing-registry" => {
            tracing::dispatcher::set_global_default(floor_dispatch()).unwrap();
            let loops = saturate(seconds, threads, || tr::root(CHILDREN));
            let created = loops * spans_per_loop;
            (created, 0, 0, "registry + a no-op layer")
        }
        "tracing-otel" => {
            let sink = OtDiscard::default();
            let (dispatch, provider) = ot_dispatch(sink.clone(), true);
            tracing::dispatcher::set_global_default(dispatch).unwrap();
            let loops = saturate(seconds, threads, || tr::root(CHILDREN));
            let _ = provider.force_flush();
            let _ = provider.shutdown();
            let created = loops * spans_per_loop;
            let exported = sink.0.load(Ordering::Relaxed);
            (
                created,
                exported,
                created.saturating_sub(exported),
                "batch queue 2048",
            )
        }
        other => panic!("unknown framework {other}"),
    };
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = process_cpu_nanos() - cpu0;
    println!(
        "RESULT {framework} {created} {exported} {dropped} {:.1} {:.2} {} {}",
        cpu as f64 / created as f64,
        created as f64 / wall / 1e6,
        peak_rss_kib(),
        note.replace(' ', "_")
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = std::env::var("TW_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    if let Some(spec) = args.iter().find_map(|a| a.strip_prefix("--child=")) {
        let (fw, threads) = spec.split_once(':').unwrap();
        child(fw, threads.parse().unwrap(), seconds);
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` and `--list` must not run the workload.
        return;
    }
    // Two threads saturate both cores (collectors compete for CPU, so drops are expected and
    // counted); one thread leaves a core to the collectors, the sustainable regime.
    for threads in [2usize, 1] {
        run_all(threads, seconds);
    }
}

fn run_all(threads: usize, seconds: f64) {
    println!();
    println!(
        "throughput: {threads} thread(s), root + {CHILDREN} sync children in a loop, {seconds} s each"
    );
    println!(
        "{:<14} {:>12} {:>12} {:>10} {:>13} {:>10} {:>10}  note",
        "framework", "created", "exported", "dropped", "CPU ns/span", "Mspans/s", "peak KiB"
    );
    let mut cpu = std::collections::HashMap::new();
    let floor = cfg!(feature = "tracing").then_some("tracing-registry");
    for fw in frameworks().into_iter().chain(floor) {
        let Some(fields) = run_child(&format!("{fw}:{threads}"), seconds) else {
            continue;
        };
        // `f[0]` stands for the word RESULT, so the indices below match the printed order.
        let f: Vec<&str> = std::iter::once("RESULT")
            .chain(fields.iter().map(String::as_str))
            .collect();
        println!(
            "{:<14} {:>12} {:>12} {:>10} {:>13} {:>10} {:>10}  {}",
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            f[6],
            f[7],
            f[8].replace('_', " ")
        );
        cpu.insert(fw, f[5].parse::<f64>().unwrap_or(f64::NAN));
    }
    if let (Some(tw), Some(fr)) = (cpu.get("traceweave"), cpu.get("fastrace")) {
        println!("traceweave / fastrace total CPU per span: {:.2}", tw / fr);
    }
    for (a, b) in [
        ("traceweave", "tracing-otel"),
        ("tracing-tw", "tracing-otel"),
        ("tracing-registry", "tracing-otel"),
        ("tw-otel-bridge", "traceweave"),
    ] {
        if let (Some(x), Some(y)) = (cpu.get(a), cpu.get(b)) {
            println!("{a} / {b} total CPU per span: {:.2}", x / y);
        }
    }
}
