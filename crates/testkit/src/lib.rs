//! Shared test helpers for Coffer: a real service on 127.0.0.1:0 that plain
//! synchronous tests can use, and deterministic folder trees to back up.

pub mod dataset;
mod server;

pub use server::{TestAccount, TestServer, TEST_PASSWORD};
