//! What the process can tell about itself: the default resource attributes.

use crate::semconv;
use crate::span::KeyValue;

pub(super) fn default_resource() -> Vec<KeyValue> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut attrs = vec![
        KeyValue::new(
            semconv::attr::SERVICE_NAME,
            format!("unknown_service:{exe}"),
        ),
        KeyValue::new(
            semconv::attr::SERVICE_INSTANCE_ID,
            format!("{:032x}", crate::id::TraceId::random().to_u128()),
        ),
        KeyValue::new(semconv::attr::TELEMETRY_SDK_NAME, "traceweave"),
        KeyValue::new(semconv::attr::TELEMETRY_SDK_LANGUAGE, "rust"),
        KeyValue::new(
            semconv::attr::TELEMETRY_SDK_VERSION,
            env!("CARGO_PKG_VERSION"),
        ),
        KeyValue::new(semconv::attr::PROCESS_PID, i64::from(std::process::id())),
        KeyValue::new(semconv::attr::PROCESS_EXECUTABLE_NAME, exe),
        KeyValue::new(semconv::attr::HOST_ARCH, host_arch(std::env::consts::ARCH)),
        KeyValue::new(semconv::attr::OS_TYPE, os_type(std::env::consts::OS)),
    ];
    if let Some(host) = hostname() {
        attrs.push(KeyValue::new(semconv::attr::HOST_NAME, host));
    }
    attrs
}

/// `host.arch` as the semantic conventions spell it (`amd64`, not Rust's `x86_64`); an
/// architecture they do not list keeps Rust's name.
fn host_arch(rust: &'static str) -> &'static str {
    match rust {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm32",
        "x86" => "x86",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

/// `os.type` as the semantic conventions spell it (`darwin`, not Rust's `macos`).
fn os_type(rust: &'static str) -> &'static str {
    match rust {
        "macos" => "darwin",
        "dragonfly" => "dragonflybsd",
        "illumos" => "solaris",
        "zos" => "z_os",
        other => other,
    }
}

/// The host's name from the OS (`gethostname(2)` / `GetComputerNameExW`), on every platform.
fn hostname() -> Option<String> {
    let name = gethostname::gethostname();
    let name = name.to_string_lossy();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_convention_spellings() {
        assert_eq!(host_arch("x86_64"), "amd64");
        assert_eq!(host_arch("aarch64"), "arm64");
        assert_eq!(host_arch("powerpc64"), "ppc64");
        assert_eq!(host_arch("riscv64"), "riscv64");
        assert_eq!(os_type("macos"), "darwin");
        assert_eq!(os_type("linux"), "linux");
        assert_eq!(os_type("windows"), "windows");
        let resource = default_resource();
        let get = |k: &str| {
            resource
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.to_string())
        };
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            assert_eq!(get("host.arch").as_deref(), Some("amd64"));
            assert_eq!(get("os.type").as_deref(), Some("linux"));
        }
        let host = get("host.name").expect("host.name is set");
        assert!(!host.is_empty() && !host.contains('\n'), "{host:?}");
    }
}
