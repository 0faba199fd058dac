//! The statement layer both databases sit behind: each `Db` method writes its
//! SQL once, in the dialect SQLite and PostgreSQL share, with `?1…`
//! placeholders, and runs it through [`Sql`]. Values cross as [`Value`]
//! (null, 64-bit integer, text, bytes: the four storage classes the schema
//! uses), and rows come back whole as [`Row`]s.

use anyhow::{anyhow, Context};

/// One parameter or column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// Which database a statement runs on, for the few places the dialects
/// differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to a `SELECT` in a transaction that goes on to change the
    /// rows it read: PostgreSQL locks them until the commit (so another
    /// connection's read-modify-write waits and then sees the change);
    /// SQLite has one connection, which already serialises transactions.
    pub(crate) fn lock_rows(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// Runs statements on one connection (or in one transaction).
pub(crate) trait Sql {
    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<u64>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<Vec<Row>>;
    fn dialect(&self) -> Dialect;
}

impl dyn Sql + '_ {
    /// The first row, if any.
    pub(crate) fn query_opt(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// The first row, which must exist (aggregates).
    pub(crate) fn query_one(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<Row> {
        self.query_opt(sql, args)?
            .ok_or_else(|| anyhow!("the query returned no row"))
    }

    /// Every row, mapped.
    pub(crate) fn query_map<T>(
        &mut self,
        sql: &str,
        args: &[Value],
        map: impl FnMut(&Row) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        self.query(sql, args)?.iter().map(map).collect()
    }

    /// The first row mapped, if any.
    pub(crate) fn query_row<T>(
        &mut self,
        sql: &str,
        args: &[Value],
        map: impl FnOnce(&Row) -> anyhow::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        self.query_opt(sql, args)?.as_ref().map(map).transpose()
    }

    /// A single integer (counts and sums).
    pub(crate) fn query_i64(&mut self, sql: &str, args: &[Value]) -> anyhow::Result<i64> {
        self.query_one(sql, args)?.get(0)
    }

    pub(crate) fn lock_rows(&self) -> &'static str {
        self.dialect().lock_rows()
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(values: Vec<Value>) -> Row {
        Row { values }
    }

    /// Column `index` as `T`.
    pub(crate) fn get<T: FromValue>(&self, index: usize) -> anyhow::Result<T> {
        let value = self
            .values
            .get(index)
            .with_context(|| format!("no column {index}"))?;
        T::from_value(value).with_context(|| format!("reading column {index}"))
    }

    pub(crate) fn values(&self) -> &[Value] {
        &self.values
    }
}

/// A Rust type a column converts to.
pub(crate) trait FromValue: Sized {
    fn from_value(value: &Value) -> anyhow::Result<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> anyhow::Result<Self> {
        match value {
            Value::Int(v) => Ok(*v),
            other => Err(anyhow!("expected an integer, found {}", other.kind())),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> anyhow::Result<Self> {
        i64::from_value(value).map(|v| v != 0)
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> anyhow::Result<Self> {
        match value {
            Value::Text(v) => Ok(v.clone()),
            other => Err(anyhow!("expected text, found {}", other.kind())),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> anyhow::Result<Self> {
        match value {
            Value::Bytes(v) => Ok(v.clone()),
            other => Err(anyhow!("expected bytes, found {}", other.kind())),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> anyhow::Result<Self> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl Value {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}

impl From<&[u8; 32]> for Value {
    fn from(v: &[u8; 32]) -> Value {
        Value::Bytes(v.to_vec())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Value {
        v.as_deref().into()
    }
}

impl From<&Option<Vec<u8>>> for Value {
    fn from(v: &Option<Vec<u8>>) -> Value {
        v.as_deref().into()
    }
}

impl From<&i64> for Value {
    fn from(v: &i64) -> Value {
        Value::Int(*v)
    }
}

impl From<&Option<i64>> for Value {
    fn from(v: &Option<i64>) -> Value {
        (*v).into()
    }
}

/// `args![a, b, …]`: the parameters `?1, ?2, …` of a statement.
macro_rules! args {
    () => { &[] as &[$crate::db::sql::Value] };
    ($($arg:expr),+ $(,)?) => {
        &[$($crate::db::sql::Value::from($arg)),+] as &[$crate::db::sql::Value]
    };
}
pub(crate) use args;

/// `?N` → `$N` outside string literals and quoted names (PostgreSQL's
/// placeholders).
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                out.push('$');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            numbered_placeholders("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $12"
        );
        // A doubled quote inside a literal closes and reopens it.
        assert_eq!(
            numbered_placeholders("SELECT 'it''s ?', ?2"),
            "SELECT 'it''s ?', $2"
        );
    }

    #[test]
    fn values_convert_both_ways() {
        let row = Row::new(vec![
            Value::Int(7),
            Value::Null,
            Value::Text("a".into()),
            Value::Bytes(vec![1]),
        ]);
        assert_eq!(row.get::<i64>(0).unwrap(), 7);
        assert!(row.get::<bool>(0).unwrap());
        assert_eq!(row.get::<Option<String>>(1).unwrap(), None);
        assert_eq!(row.get::<String>(2).unwrap(), "a");
        assert_eq!(row.get::<Vec<u8>>(3).unwrap(), vec![1]);
        assert!(row.get::<i64>(2).is_err());
        assert!(row.get::<i64>(9).is_err());
        assert_eq!(Value::from(Some("x")), Value::Text("x".into()));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(true), Value::Int(1));
    }
}
