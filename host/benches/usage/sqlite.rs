//! The SQLite baseline: the same facts in one table with the indexes a real
//! user would add (unique id, user + time, time), WAL with `synchronous=FULL`
//! so every commit is fsynced like the embedded store's, one transaction per batch.

use std::path::Path;

use anyhow::Context as _;
use rusqlite::{Connection, params};

use crate::facts::{QUANTITY_NAMES, Spec};

pub struct Sqlite {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE events (
    position     INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    user         TEXT NOT NULL,
    service      TEXT NOT NULL,
    model        TEXT,
    ok           INTEGER NOT NULL,
    error_kind   TEXT,
    occurred_at  INTEGER NOT NULL,
    recorded_at  INTEGER NOT NULL,
    duration_ms  INTEGER,
    images INTEGER, steps INTEGER, prompt_chars INTEGER,
    input_tokens INTEGER, output_tokens INTEGER, vectors INTEGER
);
CREATE INDEX events_by_user_time ON events (user, occurred_at);
CREATE INDEX events_by_time ON events (occurred_at);
";

const INSERT: &str = "INSERT OR IGNORE INTO events
    (id, user, service, model, ok, error_kind, occurred_at, recorded_at, duration_ms,
     images, steps, prompt_chars, input_tokens, output_tokens, vectors)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

/// The figures our summary reports, per group.
const FIGURES: &str = "COUNT(*), SUM(ok), SUM(1 - ok), SUM(duration_ms),
    SUM(images), SUM(steps), SUM(prompt_chars), SUM(input_tokens), SUM(output_tokens),
    SUM(vectors), COUNT(DISTINCT user)";

impl Sqlite {
    pub fn create(path: &Path) -> anyhow::Result<Sqlite> {
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Sqlite { conn })
    }

    pub fn insert(&mut self, batch: &[Spec]) -> anyhow::Result<()> {
        let now = usage_host::timestamp::now();
        let txn = self.conn.transaction()?;
        {
            let mut insert = txn.prepare_cached(INSERT)?;
            for s in batch {
                let q = |name: &str| {
                    s.quantities
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| *v as i64)
                };
                let [a, b, c, d, e, f] = QUANTITY_NAMES.map(q);
                insert.execute(params![
                    s.id,
                    s.user,
                    s.service,
                    s.model,
                    s.failure.is_none(),
                    s.failure,
                    s.occurred_at as i64,
                    now as i64,
                    s.duration_ms as i64,
                    a,
                    b,
                    c,
                    d,
                    e,
                    f
                ])?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// `summary` grouped by model over [from, to): (groups, total calls).
    pub fn summary_by_model(&self, from: u64, to: u64) -> anyhow::Result<(usize, u64)> {
        let sql = format!(
            "SELECT {FIGURES}, model FROM events
             WHERE occurred_at >= ?1 AND occurred_at < ?2 GROUP BY model"
        );
        self.groups(&sql, params![from as i64, to as i64])
    }

    /// `summary` bucketed by day over [from, to).
    pub fn summary_by_day(&self, from: u64, to: u64) -> anyhow::Result<(usize, u64)> {
        let sql = format!(
            "SELECT {FIGURES}, occurred_at / 86400000 AS day FROM events
             WHERE occurred_at >= ?1 AND occurred_at < ?2 GROUP BY day"
        );
        self.groups(&sql, params![from as i64, to as i64])
    }

    /// `me`: the user's figures by service and model over [from, to), and
    /// their `recent` latest events.
    pub fn me(&self, user: &str, from: u64, to: u64, recent: u32) -> anyhow::Result<(usize, u64)> {
        let sql = format!(
            "SELECT {FIGURES}, service, model FROM events
             WHERE user = ?1 AND occurred_at >= ?2 AND occurred_at < ?3 GROUP BY service, model"
        );
        let (groups, calls) = self.groups(&sql, params![user, from as i64, to as i64])?;
        self.page(user, recent)?;
        Ok((groups, calls))
    }

    /// One `events` page filtered by user, newest first: the rows returned.
    pub fn page(&self, user: &str, limit: u32) -> anyhow::Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM events WHERE user = ?1 ORDER BY occurred_at DESC, position DESC LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![user, limit])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let _: String = row.get("id")?;
            n += 1;
        }
        Ok(n)
    }

    fn groups(&self, sql: &str, args: impl rusqlite::Params) -> anyhow::Result<(usize, u64)> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(args)?;
        let (mut groups, mut calls) = (0, 0);
        while let Some(row) = rows.next()? {
            groups += 1;
            calls += row.get::<_, i64>(0)? as u64;
        }
        Ok((groups, calls))
    }
}
