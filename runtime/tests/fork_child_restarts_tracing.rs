//! `fork()` after `init`: the child gets a fresh collector (its spans are exported, through
//! the exporters' copies for a child), fresh ids (none shared with the parent's), drops what
//! it inherited half-done, and never hangs in shutdown; the parent is unaffected.

#![cfg(unix)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

use traceweave::{InMemoryExporter, SpanRecord};

const SPANS: usize = 200;

fn work(name: &'static str) {
    for _ in 0..SPANS / 4 {
        let root = traceweave::span(name).root().start();
        let ctx = root.context();
        for _ in 0..3 {
            drop(traceweave::span(name).parent(&ctx).start());
        }
    }
}

fn ids(spans: &[SpanRecord], name: &str) -> Vec<u64> {
    spans
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.span_id.to_u64())
        .collect()
}

/// In the child: trace, shut down, report. Returns the lines to send to the parent.
/// The global tracer's export timeout: the deadline its guard's drop waits at most.
const GUARD_DEADLINE_MS: u64 = 30_000;

fn child(
    memory: InMemoryExporter,
    open: traceweave::Span,
    guard: traceweave::TracingGuard,
    scoped: traceweave::Tracer,
) -> String {
    work("child");
    // Started in the parent: the parent ends and exports its own copy.
    drop(open);
    // A tracer built by hand has no collector here: shutting it down must not wait.
    let t = Instant::now();
    let delivered = scoped
        .shutdown_with_timeout(Duration::from_secs(20))
        .is_ok();
    let scoped_ms = t.elapsed().as_millis();
    let t = Instant::now();
    drop(guard);
    let guard_ms = t.elapsed().as_millis();
    let spans = memory.spans();
    let mut out = format!(
        "guard_ms {guard_ms}\nscoped_ms {scoped_ms}\nscoped_delivered {delivered}\nopen {}\n",
        spans
            .iter()
            .filter(|s| s.name == "open-across-fork")
            .count()
    );
    for id in ids(&spans, "child") {
        out.push_str(&format!("id {id}\n"));
    }
    out
}

#[test]
fn a_forked_child_gets_a_fresh_collector_and_fresh_ids() {
    let memory = InMemoryExporter::new();
    let guard = traceweave::builder()
        .export_timeout(Duration::from_millis(GUARD_DEADLINE_MS))
        .ignore_env()
        .service_name("forking")
        .exporter(memory.clone())
        .install()
        .unwrap();
    let scoped = traceweave::builder()
        .ignore_env()
        .exporter(InMemoryExporter::new())
        .build();
    work("before");
    assert!(traceweave::force_flush().is_ok());
    let open = traceweave::span("open-across-fork").root().start();

    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only runs Rust code of this test and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            child(memory.clone(), open, guard, scoped)
        }))
        .unwrap_or_else(|_| "panicked\n".into());
        // SAFETY: the write end of the pipe, owned by this process from here on.
        let mut w = unsafe { std::fs::File::from_raw_fd(fds[1]) };
        let _ = w.write_all(report.as_bytes());
        drop(w);
        // SAFETY: leaves the child without running the parent's atexit handlers or tests.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: the parent's end of the pipe; the write end is closed here.
    unsafe { libc::close(fds[1]) };

    // The parent keeps tracing while the child runs.
    work("parent");
    drop(open);
    let stats = traceweave::stats();
    drop(guard);

    let mut report = String::new();
    // SAFETY: the read end of the pipe, owned from here on.
    let mut r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child without blocking.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    r.read_to_string(&mut report).unwrap();
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert!(!report.starts_with("panicked"), "the child panicked");

    let field = |key: &str| -> String {
        report
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {key} in {report}"))
    };
    let child_ids: HashSet<u64> = report
        .lines()
        .filter_map(|l| l.strip_prefix("id "))
        .map(|v| v.parse().unwrap())
        .collect();

    // The child exported everything it made, through a collector of its own, and did not
    // export the span it inherited open.
    assert_eq!(child_ids.len(), SPANS, "{report}");
    assert_eq!(field("open"), "0");
    // It never waited for the parent's collector.
    // Neither waited out its deadline (a wait would last all of it: no collector here answers).
    assert!(
        field("guard_ms").parse::<u64>().unwrap() < GUARD_DEADLINE_MS / 2,
        "{report}"
    );
    assert!(
        field("scoped_ms").parse::<u64>().unwrap() < 20_000 / 2,
        "{report}"
    );
    assert_eq!(field("scoped_delivered"), "false");

    // The parent is unaffected, and no span id appears in both processes.
    let spans = memory.spans();
    let parent_ids: HashSet<u64> = ids(&spans, "parent").into_iter().collect();
    assert_eq!(parent_ids.len(), SPANS);
    assert_eq!(ids(&spans, "open-across-fork").len(), 1);
    assert_eq!(ids(&spans, "before").len(), SPANS);
    assert!(parent_ids.is_disjoint(&child_ids), "the child reused ids");
    assert_eq!(stats.dropped(), 0, "{stats:?}");
}
