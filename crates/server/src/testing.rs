//! For test suites: run a test's service on the scaled configuration when
//! the environment names one, each test in a place of its own.
//!
//! `COFFER_TEST_DATABASE` (a `postgres://…` URL) and `COFFER_TEST_OBJECTS`
//! (an `s3://bucket?…` URL) are the shared PostgreSQL and S3 store that
//! `scripts/test.sh` starts for the scaled run. Each call gives the service
//! a fresh schema and a fresh key prefix in them, so tests see an empty
//! service as they do with a new data folder.

use crate::Config;

/// The database of the scaled test run, if this is one.
pub const DATABASE_VAR: &str = "COFFER_TEST_DATABASE";
/// The object store of the scaled test run, if this is one.
pub const OBJECTS_VAR: &str = "COFFER_TEST_OBJECTS";

/// Points `config` at a new schema of `COFFER_TEST_DATABASE` and a new
/// prefix of `COFFER_TEST_OBJECTS` when they are set; leaves the embedded
/// default otherwise.
pub fn isolate_from_env(config: &mut Config) {
    let place = new_place();
    config.database_url = place.database_url;
    config.objects_url = place.objects_url;
}

/// A schema and a key prefix of their own in the scaled run's stores (both
/// `None` in the embedded run): give the same place to several services to
/// run them as replicas of one.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub database_url: Option<String>,
    pub objects_url: Option<String>,
}

/// A new [`Place`].
pub fn new_place() -> Place {
    let name = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
    Place {
        database_url: env(DATABASE_VAR).map(|url| with_param(&url, "schema", &name)),
        objects_url: env(OBJECTS_VAR).map(|url| with_prefix(&url, &name)),
    }
}

/// Whether this run is the scaled one.
pub fn scaled() -> bool {
    env(DATABASE_VAR).is_some() || env(OBJECTS_VAR).is_some()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{name}={value}")
}

/// `s3://bucket[/prefix]?query` → `s3://bucket[/prefix]/place?query`.
fn with_prefix(url: &str, place: &str) -> String {
    let (location, query) = match url.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (url, None),
    };
    let location = location.trim_end_matches('/');
    match query {
        Some(query) => format!("{location}/{place}?{query}"),
        None => format!("{location}/{place}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_go_into_the_urls() {
        assert_eq!(with_param("postgres://u@h/db", "schema", "t_1"), "postgres://u@h/db?schema=t_1");
        assert_eq!(
            with_param("postgres://u@h/db?sslmode=disable", "schema", "t_1"),
            "postgres://u@h/db?sslmode=disable&schema=t_1"
        );
        assert_eq!(with_prefix("s3://b?endpoint=x", "t_1"), "s3://b/t_1?endpoint=x");
        assert_eq!(with_prefix("s3://b/p/", "t_1"), "s3://b/p/t_1");
    }
}
