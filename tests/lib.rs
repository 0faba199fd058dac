//! Cross-crate tests live in `tests/`; see docs/testing.md.
