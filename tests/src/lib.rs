//! End-to-end behaviour tests of traceweave live in `tests/`; this library is empty.
