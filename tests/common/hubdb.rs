//! A hub database for a test, on either backend: a SQLite file in a temporary folder, or
//! a fresh database in the PostgreSQL cluster named by `VERDICT_TEST_PG` (`bash .ci/run`
//! starts one and sets it), dropped at the end. Hub tests run once per backend.

use std::path::Path;

/// Which database a hub test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL cluster for the tests (an admin URL), or a clear failure.
pub fn pg_admin_url() -> String {
    std::env::var("VERDICT_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "the PostgreSQL hub tests need VERDICT_TEST_PG: run the suite with `bash .ci/run` \
             (it starts a throwaway cluster), or start one with `.ci/pg start /tmp/pg` and \
             export VERDICT_TEST_PG=<the URL it prints>"
        )
    })
}

/// A hub database that exists for one test.
pub struct HubTarget {
    pub backend: Backend,
    arg: String,
    pg_name: Option<String>,
}

impl HubTarget {
    /// A SQLite file `hub.db` in `dir`, or a fresh PostgreSQL database.
    pub fn new(backend: Backend, dir: &Path) -> HubTarget {
        match backend {
            Backend::Sqlite => HubTarget {
                backend,
                arg: dir.join("hub.db").to_str().unwrap().to_string(),
                pg_name: None,
            },
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!("verdict_test_{}", uuid::Uuid::new_v4().simple());
                let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
                c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                let base = admin.rsplit_once('/').unwrap().0;
                HubTarget {
                    backend,
                    arg: format!("{base}/{name}"),
                    pg_name: Some(name),
                }
            }
        }
    }

    /// What `--db` takes.
    pub fn arg(&self) -> &str {
        &self.arg
    }

    /// Runs SQL on the hub's database behind the hub's back (to age leases, to look).
    pub fn exec(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let c = rusqlite::Connection::open(&self.arg).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Backend::Postgres => {
                let mut c = postgres::Client::connect(&self.arg, postgres::NoTls).unwrap();
                c.batch_execute(sql).unwrap();
            }
        }
    }

    /// One integer from a query.
    pub fn count(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let c = rusqlite::Connection::open(&self.arg).unwrap();
                c.query_row(sql, [], |r| r.get(0)).unwrap()
            }
            Backend::Postgres => {
                let mut c = postgres::Client::connect(&self.arg, postgres::NoTls).unwrap();
                c.query_one(sql, &[]).unwrap().get(0)
            }
        }
    }
}

impl From<&HubTarget> for verdict::hub::sql::Target {
    fn from(t: &HubTarget) -> verdict::hub::sql::Target {
        verdict::hub::sql::Target::parse(&t.arg)
    }
}

impl Drop for HubTarget {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut c) = postgres::Client::connect(&pg_admin_url(), postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Defines one test per backend from a function taking the backend:
/// `both_backends!(name);` gives `name::sqlite` and `name::postgres`.
/// (`crate` here is the test crate that calls the macro, on purpose.)
#[macro_export]
#[allow(clippy::crate_in_macro_def)]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(crate::common::hubdb::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(crate::common::hubdb::Backend::Postgres)
            }
        }
    )*};
}
