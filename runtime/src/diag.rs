//! traceweave's own diagnostics: one line each on stderr, prefixed so they can be grepped.

use std::fmt;
use std::io::Write;

/// Prints one traceweave diagnostic on stderr. Never panics (a closed stderr loses the line).
pub(crate) fn warn(message: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "traceweave: {message}");
}
