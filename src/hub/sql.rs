//! One connection type over the hub's two databases, SQLite (a file, the zero-setup
//! default) and PostgreSQL (a `postgres://` URL, for several hub processes). The hub's SQL
//! is written once, in the subset both understand, with `?N` parameters; [`translate`]
//! makes the PostgreSQL text (`$N`, 64-bit integers, byte-order text, row locks).
//!
//! Only `hub::db` uses this module: it is the storage seam, and no SQL lives elsewhere.

use postgres::types::private::BytesMut;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use std::collections::HashMap;
use std::path::PathBuf;

/// Where a hub's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://user:password@host:port/database`).
    Postgres(String),
}

impl Target {
    /// `postgres://` and `postgresql://` name a PostgreSQL database; anything else is a
    /// SQLite file path.
    pub fn parse(s: &str) -> Target {
        // (Any other `scheme://` is neither: `Conn::sqlite` refuses it by name.)
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Target::Postgres(s.to_string())
        } else {
            Target::Sqlite(PathBuf::from(s))
        }
    }

    /// For messages: the file, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(url) => redact(url),
        }
    }
}

/// A connection string with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let shown = match rest.rsplit_once('@') {
        Some((auth, host)) if auth.contains(':') => {
            let user = auth.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    };
    // Keyword parameters may carry a password too (`?password=...`).
    let shown = match shown.split_once("password=") {
        Some((a, b)) => {
            let tail = b.find('&').map(|i| &b[i..]).unwrap_or("");
            format!("{a}password=***{tail}")
        }
        None => shown,
    };
    crate::safe::sanitize_line(&shown)
}

/// Takes `sslrootcert=FILE` out of a connection URL (the driver does not know it) and
/// settles `sslmode`: libpq's `verify-ca` / `verify-full` become `require` (verdict always
/// verifies); with no `sslmode` (or `prefer`), a server that is not on this machine, or a
/// URL that names a CA, gets `require`, so that no one between here and the server can
/// talk the connection down to plain text. `prefer` stays only for the local machine.
fn pg_tls_params(url: &str) -> (String, Option<String>) {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut root = None;
    let mut mode = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", v)) => root = Some(v.to_string()),
            Some(("sslmode", v)) => mode = Some(v.to_string()),
            _ => kept.push(pair.to_string()),
        }
    }
    if let Some(m) = &mode
        && ![
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ]
        .contains(&m.as_str())
    {
        // The driver would refuse it too, less plainly; say what is allowed.
        kept.push(format!("sslmode={m}"));
        return (format!("{base}?{}", kept.join("&")), root);
    }
    let mode = match mode.as_deref() {
        Some("verify-ca" | "verify-full" | "require") => "require",
        Some("disable") => "disable",
        _ if root.is_some() || !is_local(base) => "require",
        _ => "prefer",
    };
    kept.push(format!("sslmode={mode}"));
    (format!("{base}?{}", kept.join("&")), root)
}

/// Whether the URL's host is this machine (a loopback address or a Unix socket).
fn is_local(base: &str) -> bool {
    let rest = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
    let authority = rest.split('/').next().unwrap_or_default();
    let hostport = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    host.is_empty()
        || host.starts_with('%')
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn tls_connector(root: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, SqlError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let fail = |message: String| SqlError {
        message,
        retry: false,
        unique: false,
    };
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    fail(format!(
                        "sslrootcert={file}: cannot read its certificates: {e}"
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(fail(format!(
                    "sslrootcert={file}: no certificate in it (a PEM file of the CA that signed the server's certificate)"
                )));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| fail(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A `--db` value as a shell would need it pasted back: single-quoted when it holds
/// anything a shell reads (`&` in a URL's parameters splits the command).
pub fn shell_quote(s: &str) -> String {
    let s = crate::safe::sanitize_line(s);
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:@+,=".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A value going in or coming out.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<usize> for Val {
    fn from(v: usize) -> Val {
        Val::Int(v as i64)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map(Into::into).unwrap_or(Val::Null)
    }
}

/// Builds an array of parameters.
#[macro_export]
#[doc(hidden)]
macro_rules! vals {
    ($($v:expr),* $(,)?) => { [$($crate::hub::sql::Val::from($v)),*] };
}

/// A database error, with what is needed to decide on a retry.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// What the database said.
    pub message: String,
    /// A deadlock or serialization failure: the transaction may be run again.
    pub retry: bool,
    /// A unique or primary key was violated.
    pub unique: bool,
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> SqlError {
        let unique = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        );
        SqlError {
            message: e.to_string(),
            retry: false,
            unique,
        }
    }
}

impl From<postgres::Error> for SqlError {
    fn from(e: postgres::Error) -> SqlError {
        use postgres::error::SqlState;
        let code = e.code().cloned();
        let message = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => {
                // The cause (a refused certificate, a refused connection) is in the chain.
                let mut m = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    m.push_str(&format!(": {s}"));
                    source = s.source();
                }
                if m.contains("invalid peer certificate") {
                    m.push_str(
                        " (the server's certificate is not signed by a CA verdict trusts: add \
                         sslrootcert=FILE to the URL, FILE being the PEM of the CA that signed \
                         it; or sslmode=disable, on a network you trust)",
                    );
                }
                m
            }
        };
        SqlError {
            message,
            retry: code.as_ref().is_some_and(|c| {
                *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
            }),
            unique: code.as_ref() == Some(&SqlState::UNIQUE_VIOLATION),
        }
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(Vec<Val>);

impl Row {
    /// A column's value.
    pub fn at(&self, i: usize) -> Result<&Val, SqlError> {
        self.0.get(i).ok_or_else(|| SqlError {
            message: format!("no column {i}"),
            retry: false,
            unique: false,
        })
    }

    /// An integer column.
    pub fn int(&self, i: usize) -> Result<i64, SqlError> {
        match self.at(i)? {
            Val::Int(v) => Ok(*v),
            other => Err(type_err(i, "an integer", other)),
        }
    }

    /// A text column.
    pub fn text(&self, i: usize) -> Result<String, SqlError> {
        match self.at(i)? {
            Val::Text(v) => Ok(v.clone()),
            other => Err(type_err(i, "text", other)),
        }
    }

    /// An integer column that may be NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, SqlError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Int(v) => Ok(Some(*v)),
            other => Err(type_err(i, "an integer or NULL", other)),
        }
    }

    /// A text column that may be NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, SqlError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Text(v) => Ok(Some(v.clone())),
            other => Err(type_err(i, "text or NULL", other)),
        }
    }
}

fn type_err(i: usize, want: &str, got: &Val) -> SqlError {
    SqlError {
        message: format!("column {i}: expected {want}, found {got:?}"),
        retry: false,
        unique: false,
    }
}

/// The SQL dialect of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Rewrites the shared SQL for PostgreSQL: `?N` parameters become `$N`; in DDL, integers are
/// 64-bit, row ids `BIGSERIAL` and text compares byte by byte as SQLite's does (so that
/// every ordering is the same on both); a comment `/*PG: ...*/` becomes its text (row
/// locks such as `FOR UPDATE SKIP LOCKED`). SQLite reads those as comments and needs no row
/// locks: a write transaction there holds the whole database.
pub fn translate(sql: &str) -> String {
    let mut sql = sql.to_string();
    while let Some(start) = sql.find("/*PG:") {
        let Some(len) = sql[start..].find("*/") else {
            break;
        };
        let inner = sql[start + 5..start + len].trim().to_string();
        sql.replace_range(start..start + len + 2, &inner);
    }
    let sql = sql.as_str();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    let ddl = sql.contains("CREATE TABLE") || sql.contains("ADD COLUMN");
    if ddl {
        out = out
            .replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY")
            .replace("INTEGER", "BIGINT")
            .replace("TEXT", "TEXT COLLATE \"C\"");
    }
    out
}

struct Pg {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

/// A connection to either database.
pub struct Conn {
    inner: Inner,
    in_tx: bool,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Val::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Val::Int(v) => v.to_sql(ty, out),
            Val::Real(v) => v.to_sql(ty, out),
            Val::Text(v) => v.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Val {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Val, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Val::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Val::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Val::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Val::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Val::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Val::Real(f32::from_sql(ty, raw)?.into()),
            _ => Val::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Val, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Val::Null)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::FLOAT8
                | Type::FLOAT4
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
        )
    }
}

fn sqlite_val(v: rusqlite::types::ValueRef<'_>) -> Val {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(f) => Val::Real(f),
        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Val::Text(String::from_utf8_lossy(b).into_owned()),
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Val::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Val::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        })
    }
}

impl Conn {
    /// Opens a SQLite file (created if missing) in WAL mode with full sync.
    pub fn sqlite(path: &std::path::Path) -> Result<Conn, SqlError> {
        if let Some((scheme, _)) = path.to_str().and_then(|p| p.split_once("://")) {
            return Err(SqlError {
                message: format!(
                    "'{}://' is not a database verdict knows: give a SQLite file path or a postgres:// URL",
                    crate::safe::sanitize_line(scheme)
                ),
                retry: false,
                unique: false,
            });
        }
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        Ok(Conn {
            inner: Inner::Sqlite(conn),
            in_tx: false,
        })
    }

    /// Connects to PostgreSQL. Unless the URL says `sslmode=disable`, the connection is
    /// encrypted whenever the server offers TLS (`sslmode=require`: always), and the
    /// server's certificate is always verified: against Mozilla's roots, or against the
    /// certificates of the PEM file `sslrootcert=FILE` names (a lab's own CA).
    pub fn postgres(url: &str) -> Result<Conn, SqlError> {
        let (url, root) = pg_tls_params(url);
        let config: postgres::Config = url.parse()?;
        let mut client = if config.get_ssl_mode() == postgres::config::SslMode::Disable {
            config.connect(postgres::NoTls)?
        } else {
            config.connect(tls_connector(root.as_deref())?)?
        };
        // A statement that waits this long on a lock is stuck, not busy.
        client.batch_execute(
            "SET statement_timeout = '120s'; SET lock_timeout = '30s'; SET client_min_messages = WARNING",
        )?;
        Ok(Conn {
            inner: Inner::Postgres(Box::new(Pg {
                client,
                statements: HashMap::new(),
            })),
            in_tx: false,
        })
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Sqlite(_) => Dialect::Sqlite,
            Inner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Whether the connection is gone (PostgreSQL restarted, network cut).
    pub fn is_broken(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(_) => false,
            Inner::Postgres(pg) => pg.client.is_closed(),
        }
    }

    /// Runs statements without parameters (DDL, pragmas).
    pub fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        match &mut self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(pg) => Ok(pg.client.batch_execute(&translate(sql))?),
        }
    }

    fn pg_statement(pg: &mut Pg, sql: &str) -> Result<postgres::Statement, SqlError> {
        if let Some(s) = pg.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = pg.client.prepare(&translate(sql))?;
        pg.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Runs one statement; returns the rows it changed.
    pub fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, SqlError> {
        match &mut self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Inner::Postgres(pg) => {
                let st = Self::pg_statement(pg, sql)?;
                let p: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                Ok(pg.client.execute(&st, &p)?)
            }
        }
    }

    /// Runs a query; returns every row.
    pub fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, SqlError> {
        match &mut self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let rows = st.query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    (0..n)
                        .map(|i| r.get_ref(i).map(sqlite_val))
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map(Row)
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Inner::Postgres(pg) => {
                let st = Self::pg_statement(pg, sql)?;
                let p: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                let rows = pg.client.query(&st, &p)?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<_, Val>(i).map_err(SqlError::from))
                            .collect::<Result<Vec<_>, _>>()
                            .map(Row)
                    })
                    .collect()
            }
        }
    }

    /// The first row, if any.
    pub fn row(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, SqlError> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// The first column of the first row as an integer (a count, a max), 0 for no row.
    pub fn int(&mut self, sql: &str, params: &[Val]) -> Result<i64, SqlError> {
        self.row(sql, params)?
            .map(|r| r.int(0))
            .transpose()
            .map(|v| v.unwrap_or(0))
    }

    /// Starts a transaction. A writing one holds SQLite's write lock from its first
    /// statement (`BEGIN IMMEDIATE`), so that its reads decide on what it will write; on
    /// PostgreSQL (read committed) the statements take row locks where they need them.
    /// A reading one sees one snapshot throughout.
    pub fn begin(&mut self, write: bool) -> Result<Tx<'_>, SqlError> {
        let sql = match (self.dialect(), write) {
            (Dialect::Sqlite, true) => "BEGIN IMMEDIATE",
            (Dialect::Sqlite, false) => "BEGIN",
            (Dialect::Postgres, true) => "BEGIN",
            (Dialect::Postgres, false) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        // SQLite has one writer at a time; its busy handler makes the others sleep and
        // poll. Writers of this process queue on a mutex instead (fair, no sleeping), and
        // only writers of other processes meet the busy handler.
        let gate = (self.dialect() == Dialect::Sqlite && write)
            .then(|| SQLITE_WRITERS.lock().unwrap_or_else(|e| e.into_inner()));
        self.batch(sql)?;
        self.in_tx = true;
        Ok(Tx {
            conn: self,
            _gate: gate,
        })
    }

    /// Inside a transaction on PostgreSQL: no statement or lock timeout until it ends (a
    /// migration or a large load may rightly take minutes, or wait for one).
    pub fn no_timeouts(&mut self) -> Result<(), SqlError> {
        if self.dialect() == Dialect::Postgres {
            self.batch("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")?;
        }
        Ok(())
    }

    /// On PostgreSQL, waits for and holds (until the transaction ends) a lock that every
    /// hub process takes for the same `what` (migrations, loads); SQLite's write
    /// transaction already excludes everyone.
    pub fn exclusive(&mut self, what: i64) -> Result<(), SqlError> {
        if self.dialect() == Dialect::Postgres {
            // (`exec`: the function returns void, which has no value to read)
            self.exec("SELECT pg_advisory_xact_lock(?1)", &[Val::Int(what)])?;
        }
        Ok(())
    }
}

/// The SQLite writers of this process, one at a time.
static SQLITE_WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A transaction; rolled back when dropped without [`Tx::commit`].
pub struct Tx<'a> {
    conn: &'a mut Conn,
    _gate: Option<std::sync::MutexGuard<'static, ()>>,
}

impl Tx<'_> {
    /// Makes it durable.
    pub fn commit(self) -> Result<(), SqlError> {
        self.conn.batch("COMMIT")?;
        self.conn.in_tx = false;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.conn.in_tx {
            let _ = self.conn.batch("ROLLBACK");
            self.conn.in_tx = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_for_postgres() {
        assert_eq!(
            translate("SELECT a FROM t WHERE x = ?1 AND y = ?12 /*PG: FOR UPDATE SKIP LOCKED*/"),
            "SELECT a FROM t WHERE x = $1 AND y = $12 FOR UPDATE SKIP LOCKED"
        );
        assert_eq!(
            translate("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, s TEXT)"),
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL, s TEXT COLLATE \"C\")"
        );
        // Not DDL: a TEXT inside a query is left alone.
        assert_eq!(translate("SELECT 'TEXT' = ?1"), "SELECT 'TEXT' = $1");
    }

    #[test]
    fn tls_is_required_off_this_machine_and_whenever_a_ca_is_named() {
        let p = |u: &str| pg_tls_params(u);
        assert_eq!(
            p("postgres://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"),
            (
                "postgres://u@h/db?sslmode=require".to_string(),
                Some("/etc/ca.pem".to_string())
            )
        );
        assert_eq!(
            p("postgres://u@127.0.0.1:5432/db?sslrootcert=ca.pem&application_name=x"),
            (
                "postgres://u@127.0.0.1:5432/db?application_name=x&sslmode=require".to_string(),
                Some("ca.pem".to_string())
            )
        );
        // A remote server: no downgrade to plain text, whatever the URL leaves out.
        assert_eq!(
            p("postgres://u:pw@db.lab/db").0,
            "postgres://u:pw@db.lab/db?sslmode=require"
        );
        assert_eq!(
            p("postgres://u@db.lab/db?sslmode=prefer").0,
            "postgres://u@db.lab/db?sslmode=require"
        );
        // A name that only looks local is not.
        assert_eq!(
            p("postgres://u@127.evil.example/db").0,
            "postgres://u@127.evil.example/db?sslmode=require"
        );
        // This machine: as libpq does.
        assert_eq!(
            p("postgres://u@localhost/db").0,
            "postgres://u@localhost/db?sslmode=prefer"
        );
        assert_eq!(
            p("postgres://u@[::1]:5432/db").0,
            "postgres://u@[::1]:5432/db?sslmode=prefer"
        );
        // Said plainly, kept.
        assert_eq!(
            p("postgres://u@db.lab/db?sslmode=disable").0,
            "postgres://u@db.lab/db?sslmode=disable"
        );
    }

    #[test]
    fn targets_and_redaction() {
        assert_eq!(
            Target::parse("hub.db"),
            Target::Sqlite(PathBuf::from("hub.db"))
        );
        let t = Target::parse("postgres://verdict:s3cret@db.lab:5432/hub");
        assert!(matches!(t, Target::Postgres(_)));
        assert_eq!(t.display(), "postgres://verdict:***@db.lab:5432/hub");
        assert_eq!(
            redact("postgresql://u@h/db?password=x&sslmode=disable"),
            "postgresql://u@h/db?password=***&sslmode=disable"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact("postgres://h/db?password=x"),
            "postgres://h/db?password=***"
        );
    }
}
