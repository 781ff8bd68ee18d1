//! PostgreSQL for the tests: with `DATABASE_URL` set (scripts/test starts a throwaway cluster and sets
//! it), the suites run on PostgreSQL, each test in a fresh schema of that database; without it, on
//! SQLite. One suite, two engines.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};

/// The PostgreSQL the tests run on, if any.
pub fn database_url() -> Option<String> {
    std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// Whether PostgreSQL-only tests must run (scripts/test's PostgreSQL pass sets it): without
/// `DATABASE_URL` they fail instead of skipping.
pub fn required() -> bool {
    std::env::var("CONSENT_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// `DATABASE_URL` for a PostgreSQL-only test: `None` (with a loud message) when it is not set and not
/// required; a failure when required.
pub fn url_for_postgres_only_test(test: &str) -> Option<String> {
    match database_url() {
        Some(u) => Some(u),
        None if required() => {
            panic!("{test}: DATABASE_URL is not set, and CONSENT_TEST_REQUIRE_POSTGRES=1")
        }
        None => {
            eprintln!(
                "SKIPPED {test}: PostgreSQL only, and DATABASE_URL is not set (scripts/test sets it)"
            );
            None
        }
    }
}

/// Runs `f` with a connection to `url` on a runtime of its own, on another thread (so that it works from
/// async tests and from `Drop`).
pub fn with_client<T: Send + 'static>(
    url: &str,
    f: impl AsyncFnOnce(&tokio_postgres::Client) -> T + Send + 'static,
) -> T {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
            let driver = tokio::spawn(conn);
            let out = f(&client).await;
            drop(client);
            let _ = driver.await;
            out
        })
    })
    .join()
    .unwrap()
}

/// Runs SQL statements on `url`.
pub fn sql(url: &str, statements: &str) {
    let statements = statements.to_owned();
    with_client(url, async move |c| {
        c.batch_execute(&statements)
            .await
            .unwrap_or_else(|e| panic!("{statements}: {e:?}"))
    })
}

/// A schema of its own in `DATABASE_URL`'s database, dropped at the end.
pub struct TestSchema {
    admin: String,
    /// The schema's name.
    pub name: String,
    /// `DATABASE_URL` with this schema first on the `search_path`: what the server is given.
    pub url: String,
}

impl TestSchema {
    /// A fresh schema named after `test`, if the tests run on PostgreSQL.
    pub fn from_env(test: &str) -> Option<TestSchema> {
        database_url().map(|admin| TestSchema::new(&admin, test))
    }

    /// A fresh schema in `admin`'s database.
    pub fn new(admin: &str, test: &str) -> TestSchema {
        static N: AtomicU64 = AtomicU64::new(0);
        let clean: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "t_{clean}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        sql(
            admin,
            &format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name};"),
        );
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options=-c%20search_path%3D{name}");
        TestSchema {
            admin: admin.to_owned(),
            name,
            url,
        }
    }

    /// The URL of the schema for another role (`role` must be able to log in without a password).
    pub fn url_as(&self, role: &str) -> String {
        let rest = self
            .url
            .split_once('@')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        format!("postgres://{role}@{rest}")
    }

    /// Runs SQL in this schema (as the admin role).
    pub fn sql(&self, statements: &str) {
        sql(&self.url, statements);
    }

    /// The first column of the first row of `query` (run in this schema), as text.
    pub fn value(&self, query: &str) -> Option<String> {
        let query = query.to_owned();
        with_client(&self.url, async move |c| {
            c.simple_query(&query)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e:?}"))
                .into_iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
                    _ => None,
                })
                .flatten()
        })
    }

    /// The error (its SQLSTATE and message) that `statements` fail with in this schema, as `role`.
    pub fn error_as(&self, role: Option<&str>, statements: &str) -> (String, String) {
        let url = role.map_or_else(|| self.url.clone(), |r| self.url_as(r));
        let statements = statements.to_owned();
        with_client(&url, async move |c| {
            let e = c
                .batch_execute(&statements)
                .await
                .expect_err(&format!("{statements}: succeeded"));
            let code = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
            let message = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned());
            (code, message)
        })
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        sql(
            &self.admin,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}
