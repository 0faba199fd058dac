//! Shared test helpers for Coffer: a real service on 127.0.0.1:0 that plain
//! synchronous tests can use, an SMTP sink that keeps the mail it gets,
//! deterministic folder trees to back up, and a load balancer in front of
//! service replicas.

pub mod balancer;
pub mod dataset;
pub mod mail_sink;
mod server;

pub use balancer::Balancer;
pub use mail_sink::{MailSink, ReceivedMail};
pub use server::{block_on, TestAccount, TestServer, TestServerOptions, TEST_PASSWORD};
