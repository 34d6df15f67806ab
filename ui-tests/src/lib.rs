//! trybuild cases for the traceweave macros live in `tests/`.
