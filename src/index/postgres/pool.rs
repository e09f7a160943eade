//! Pooled connections that keep their prepared statements: a read sends Bind/Execute for a
//! statement the connection has planned before, instead of Parse/Describe and a fresh plan on
//! every call (the `postgres` driver prepares an unnamed statement per string query).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use postgres::{Client, NoTls, Row, Statement};
use r2d2_postgres::PostgresConnectionManager;

/// Most statements one connection keeps; past it the cache starts over (the reads use a
/// handful of fixed statements, so this only bounds a bug).
const MAX_STATEMENTS: usize = 64;

/// A connection with its prepared statements.
pub(crate) struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Connection {
    /// `sql` prepared on this connection, once.
    pub(crate) fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

type Params<'a> = &'a [&'a (dyn postgres::types::ToSql + Sync)];

impl Connection {
    /// Rows of `sql` (prepared once per connection).
    pub(crate) fn run(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let st = self.statement(sql)?;
        self.client.query(&st, params)
    }

    /// Rows of `sql`, planned for these parameters: by the prepared statement unless `fresh`,
    /// else as an unnamed statement, which the server plans anew for its values. A statement
    /// with a document filter is `fresh`: the best plan depends on how many passages the filter
    /// leaves (an index on `doc` for one small document, the vector index for most of the
    /// library), which a cached generic plan cannot know; without one, the cached plan is the
    /// same every time and planning it once saves a millisecond a statement.
    pub(crate) fn run_planned(
        &mut self,
        fresh: bool,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        if fresh {
            self.client.query(sql, params)
        } else {
            self.run(sql, params)
        }
    }

    /// The row of `sql`, if any (prepared once per connection).
    pub(crate) fn run_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let st = self.statement(sql)?;
        self.client.query_opt(&st, params)
    }
}

impl Deref for Connection {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The r2d2 manager of [`Connection`]s.
#[derive(Debug)]
pub(crate) struct Manager(pub(crate) PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            client: self.0.connect()?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}
