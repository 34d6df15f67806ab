//! The global tracer: spans before `init` are kept and announced, `init()` reads the
//! environment, the console exporter prints trees on stderr, and shutdown flushes.
//!
//! Tests that need a fresh process re-run this test binary as a child with `TW_CHILD` set.

use std::process::Command;
use std::time::Duration;

use traceweave::{InMemoryExporter, traced};

#[traced(args(step))]
fn work(step: u32) {
    part();
}

#[traced]
fn part() {}

fn run_child(mode: &str, envs: &[(&str, &str)]) -> (String, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("TW_CHILD", mode);
    for var in [
        "OTEL_SERVICE_NAME",
        "OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_SAMPLER",
        "OTEL_SDK_DISABLED",
        "OTEL_BSP_MAX_QUEUE_SIZE",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The child's body, chosen by `TW_CHILD`; does nothing in a normal run.
#[test]
fn child() {
    match std::env::var("TW_CHILD").as_deref() {
        Ok("never-initialised") => {
            for i in 0..5 {
                work(i);
            }
        }
        Ok("init-from-env") => {
            let guard = traceweave::init();
            work(1);
            drop(guard);
        }
        _ => {}
    }
}

#[test]
fn spans_before_init_are_announced_once() {
    let (_, stderr) = run_child("never-initialised", &[]);
    let lines: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("before traceweave::init()"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
}

#[test]
fn init_reads_the_environment_and_prints_a_tree_on_stderr() {
    let (_, stderr) = run_child(
        "init-from-env",
        &[
            ("OTEL_SERVICE_NAME", "envtest"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
        ],
    );
    assert!(
        stderr.contains(
            "traceweave: OTEL_BSP_MAX_QUEUE_SIZE=\"lots\" is not a positive integer; using 16384"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("· service envtest"), "{stderr}");
    assert!(stderr.contains("└─ work "), "{stderr}");
    assert!(stderr.contains("   └─ part "), "{stderr}");
    assert!(stderr.contains("step=1"), "{stderr}");
}

#[test]
fn disabled_sdk_prints_nothing() {
    let (_, stderr) = run_child("init-from-env", &[("OTEL_SDK_DISABLED", "true")]);
    assert!(!stderr.contains("└─"), "{stderr}");
}

#[test]
fn pre_init_spans_are_exported_after_init_and_shutdown_flushes() {
    if std::env::var("TW_CHILD").is_ok() {
        return;
    }
    // Spans before init are kept...
    work(0);
    let memory = InMemoryExporter::new();
    let guard = traceweave::builder()
        .ignore_env()
        .service_name("global-test")
        // Long enough that only the shutdown flush can deliver what follows.
        .schedule_delay(Duration::from_secs(600))
        .exporter(memory.clone())
        .install()
        .unwrap();
    assert_eq!(
        traceweave::builder().ignore_env().install().unwrap_err(),
        traceweave::InitError::AlreadyInitialised
    );
    for i in 1..=3 {
        work(i);
    }
    let stats = traceweave::stats();
    assert_eq!(stats.created, 8, "{stats:?}");
    drop(guard);
    let spans = traceweave::testing::Spans(memory.spans());
    assert_eq!(spans.len(), 8, "{}", spans.tree());
    assert_eq!(spans.iter().filter(|s| s.name == "work").count(), 4);
    // After shutdown nothing is recorded.
    work(9);
    assert_eq!(memory.spans().len(), 8);
    assert!(traceweave::shutdown(Duration::from_secs(1)).is_ok());
}
