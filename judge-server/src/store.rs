//! The store: SQLite (embedded, WAL, synchronous=FULL), the source of truth. A submission is written before
//! the response that accepts it, so a crash loses nothing; on start, queued and running
//! submissions are queued again.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One stored submission.
#[derive(Clone, Debug)]
pub struct Row {
    /// Unguessable id (UUID v4).
    pub id: String,
    /// `native` or `judge0`.
    pub api: String,
    /// `queued`, `compiling`, `running`, `done`, `error`, `cancelled`.
    pub status: String,
    /// The request as JSON.
    pub request: serde_json::Value,
    /// The result as JSON, once done.
    pub result: Option<serde_json::Value>,
    /// Creation time, RFC 3339 with milliseconds.
    pub created_at: String,
    /// Finish time.
    pub finished_at: Option<String>,
}

/// A callback to store with a submission's result.
pub struct NewCallback {
    /// `POST` (native) or `PUT` (Judge0).
    pub method: &'static str,
    /// Where to.
    pub url: String,
    /// The exact JSON body (what is signed).
    pub body: String,
}

/// A callback waiting to be sent.
#[derive(Clone, Debug)]
pub struct Callback {
    /// The submission's id.
    pub id: String,
    /// `POST` (native) or `PUT` (Judge0).
    pub method: String,
    /// Where to.
    pub url: String,
    /// The JSON body.
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A handle to the database, shared by handlers and workers.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

/// Now, as Judge0 writes times: `2024-04-03T05:40:51.306Z`.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: every commit is fsynced before it returns, so a submission answered with a
        // 2xx survives a power loss too, not only a crash of this process (NORMAL would
        // lose the last commits since the WAL's last sync). Costs an fsync per write.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS submissions (
                id TEXT PRIMARY KEY,
                api TEXT NOT NULL,
                status TEXT NOT NULL,
                request TEXT NOT NULL,
                result TEXT,
                created_at TEXT NOT NULL,
                finished_at TEXT
            );
            CREATE INDEX IF NOT EXISTS submissions_status ON submissions(status);
            CREATE TABLE IF NOT EXISTS callbacks (
                id TEXT PRIMARY KEY,
                method TEXT NOT NULL,
                url TEXT NOT NULL,
                body TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_try INTEGER NOT NULL,
                state TEXT NOT NULL,
                last_error TEXT
            );
            CREATE TABLE IF NOT EXISTS idempotency (
                owner TEXT NOT NULL,
                key TEXT NOT NULL,
                id TEXT NOT NULL,
                PRIMARY KEY (owner, key)
            );
            CREATE TABLE IF NOT EXISTS problems (
                id TEXT PRIMARY KEY,
                body TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );",
        )?;
        // Databases made before idempotency keys were tied to their body get the column;
        // their old keys match any body.
        let has_hash: bool =
            conn.prepare("SELECT 1 FROM pragma_table_info('idempotency') WHERE name = 'body_hash'")?.exists([])?;
        if !has_hash {
            conn.execute_batch("ALTER TABLE idempotency ADD COLUMN body_hash TEXT")?;
        }
        Ok(Store { conn: Arc::new(Mutex::new(conn)) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> anyhow::Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }

    /// Stores a new queued submission. With an idempotency key (owner, key, request hash)
    /// the key is claimed in the same transaction; if it was claimed before, nothing is
    /// stored and the earlier submission's id and hash come back.
    pub fn insert(
        &self,
        id: &str,
        api: &str,
        request: &serde_json::Value,
        key: Option<(&str, &str, &str)>,
    ) -> anyhow::Result<Option<(String, Option<String>)>> {
        let created = now();
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        if let Some((owner, key, hash)) = key {
            let earlier: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT id, body_hash FROM idempotency WHERE owner = ?1 AND key = ?2",
                    params![owner, key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if earlier.is_some() {
                return Ok(earlier);
            }
            tx.execute(
                "INSERT INTO idempotency (owner, key, id, body_hash) VALUES (?1, ?2, ?3, ?4)",
                params![owner, key, id, hash],
            )?;
        }
        tx.execute(
            "INSERT INTO submissions (id, api, status, request, created_at) VALUES (?1, ?2, 'queued', ?3, ?4)",
            params![id, api, request.to_string(), created],
        )?;
        tx.commit()?;
        Ok(None)
    }

    /// Moves a submission to another status (`compiling`, `running`). Not fsynced: these
    /// are progress hints, and after a crash an unfinished submission is queued again
    /// whichever of them it had (the next FULL commit syncs them anyway).
    /// Only from the status before it (`queued` → `compiling` → `running`); returns whether
    /// it moved (a cancelled submission does not).
    pub fn set_status(&self, id: &str, status: &str) -> anyhow::Result<bool> {
        let before = if status == "compiling" { "queued" } else { "compiling" };
        let n = self.with(|c| {
            c.pragma_update(None, "synchronous", "NORMAL")?;
            let done = c.execute(
                "UPDATE submissions SET status = ?2 WHERE id = ?1 AND status = ?3",
                params![id, status, before],
            );
            c.pragma_update(None, "synchronous", "FULL")?;
            done
        })?;
        Ok(n > 0)
    }

    /// Stores the result and the final status, and the callback that announces it, in one
    /// transaction: a crash leaves either both or neither (never a result whose callback is
    /// lost, never a callback sent twice because the result was judged again).
    pub fn finish(
        &self,
        id: &str,
        status: &str,
        finished_at: &str,
        result: &serde_json::Value,
        callback: Option<&NewCallback>,
        only_if: Option<&str>,
    ) -> anyhow::Result<bool> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE submissions SET status = ?2, result = ?3, finished_at = ?4 WHERE id = ?1 AND (?5 IS NULL OR status = ?5)",
            params![id, status, result.to_string(), finished_at, only_if],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        if let Some(cb) = callback {
            tx.execute(
                "INSERT OR REPLACE INTO callbacks (id, method, url, body, attempts, next_try, state) VALUES (?1, ?2, ?3, ?4, 0, ?5, 'pending')",
                params![id, cb.method, cb.url, cb.body, now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// One submission.
    pub fn get(&self, id: &str) -> anyhow::Result<Option<Row>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, api, status, request, result, created_at, finished_at FROM submissions WHERE id = ?1",
                params![id],
                |r| {
                    let request: String = r.get(3)?;
                    let result: Option<String> = r.get(4)?;
                    Ok(Row {
                        id: r.get(0)?,
                        api: r.get(1)?,
                        status: r.get(2)?,
                        request: serde_json::from_str(&request).unwrap_or_default(),
                        result: result.and_then(|t| serde_json::from_str(&t).ok()),
                        created_at: r.get(5)?,
                        finished_at: r.get(6)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Submissions not finished (after a crash or a restart), oldest first; running ones go
    /// back to queued.
    pub fn unfinished(&self) -> anyhow::Result<Vec<String>> {
        self.with(|c| {
            c.execute("UPDATE submissions SET status = 'queued' WHERE status IN ('compiling', 'running')", [])?;
            let mut st = c.prepare("SELECT id FROM submissions WHERE status = 'queued' ORDER BY created_at")?;
            let ids = st.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
    }

    /// Callbacks whose next try is due.
    pub fn due_callbacks(&self) -> anyhow::Result<Vec<Callback>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, method, url, body, attempts FROM callbacks WHERE state = 'pending' AND next_try <= ?1 ORDER BY next_try LIMIT 32",
            )?;
            let rows = st.query_map(params![now_ms()], |r| {
                Ok(Callback { id: r.get(0)?, method: r.get(1)?, url: r.get(2)?, body: r.get(3)?, attempts: r.get(4)? })
            })?;
            rows.collect()
        })
    }

    /// A callback was delivered.
    pub fn callback_done(&self, id: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE callbacks SET state = 'delivered', attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![id],
            )
        })?;
        Ok(())
    }

    /// A callback failed; try again after `delay`.
    pub fn callback_retry(
        &self,
        id: &str,
        attempts: u32,
        error: &str,
        delay: std::time::Duration,
    ) -> anyhow::Result<()> {
        let next = now_ms() + delay.as_millis() as i64;
        self.with(|c| {
            c.execute(
                "UPDATE callbacks SET attempts = ?2, last_error = ?3, next_try = ?4 WHERE id = ?1",
                params![id, attempts, error, next],
            )
        })?;
        Ok(())
    }

    /// A callback failed its last attempt: a dead letter.
    pub fn callback_dead(&self, id: &str, attempts: u32, error: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE callbacks SET state = 'dead', attempts = ?2, last_error = ?3 WHERE id = ?1",
                params![id, attempts, error],
            )
        })?;
        Ok(())
    }

    /// A submission's callback state: (state, attempts, last error).
    pub fn callback_state(&self, id: &str) -> anyhow::Result<Option<(String, u32, Option<String>)>> {
        self.with(|c| {
            c.query_row("SELECT state, attempts, last_error FROM callbacks WHERE id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
    }

    /// The latest submissions: (id, api, status, verdict, created_at, owner).
    pub fn recent(&self, limit: usize) -> anyhow::Result<Vec<serde_json::Value>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, api, status, result, created_at, request FROM submissions ORDER BY created_at DESC LIMIT ?1",
            )?;
            let rows = st.query_map(params![limit as i64], |r| {
                let result: Option<String> = r.get(3)?;
                let request: String = r.get(5)?;
                let verdict = result
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v["verdict"].as_str().map(str::to_string));
                let owner = serde_json::from_str::<serde_json::Value>(&request)
                    .ok()
                    .and_then(|v| v["owner"].as_str().map(str::to_string));
                Ok(serde_json::json!({
                    "id": r.get::<_, String>(0)?, "api": r.get::<_, String>(1)?, "status": r.get::<_, String>(2)?,
                    "verdict": verdict, "created_at": r.get::<_, String>(4)?, "owner": owner,
                }))
            })?;
            rows.collect()
        })
    }

    /// Creates or replaces a problem.
    pub fn put_problem(&self, id: &str, body: &serde_json::Value) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO problems (id, body, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                params![id, body.to_string(), now()],
            )
        })?;
        Ok(())
    }

    /// A problem's stored body.
    pub fn get_problem(&self, id: &str) -> anyhow::Result<Option<serde_json::Value>> {
        self.with(|c| {
            c.query_row("SELECT body FROM problems WHERE id = ?1", params![id], |r| r.get::<_, String>(0)).optional()
        })
        .map(|o| o.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Deletes a problem; false when there was none.
    pub fn delete_problem(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.with(|c| c.execute("DELETE FROM problems WHERE id = ?1", params![id]))? > 0)
    }

    /// Counts by status (for /metrics).
    pub fn counts(&self) -> anyhow::Result<Vec<(String, u64)>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT status, COUNT(*) FROM submissions GROUP BY status")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
            rows.collect()
        })
    }

    /// Dead letters: callbacks that failed their last attempt, newest first, with their
    /// submission's owner (for tenancy).
    pub fn dead_callbacks(&self, limit: usize) -> anyhow::Result<Vec<(serde_json::Value, Option<String>)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT c.id, c.method, c.url, c.attempts, c.last_error, c.next_try, s.request
                 FROM callbacks c LEFT JOIN submissions s ON s.id = c.id
                 WHERE c.state = 'dead' ORDER BY c.next_try DESC LIMIT ?1",
            )?;
            let rows = st.query_map(params![limit as i64], |r| {
                let request: Option<String> = r.get(6)?;
                let owner = request
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v["owner"].as_str().map(str::to_string));
                Ok((
                    serde_json::json!({
                        "id": r.get::<_, String>(0)?, "method": r.get::<_, String>(1)?, "url": r.get::<_, String>(2)?,
                        "attempts": r.get::<_, u32>(3)?, "last_error": r.get::<_, Option<String>>(4)?,
                    }),
                    owner,
                ))
            })?;
            rows.collect()
        })
    }

    /// Sends a dead letter again (its attempts start over); false when `id` is not one.
    pub fn revive_callback(&self, id: &str) -> anyhow::Result<bool> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE callbacks SET state = 'pending', attempts = 0, next_try = ?2 WHERE id = ?1 AND state = 'dead'",
                params![id, now_ms()],
            )
        })?;
        Ok(n > 0)
    }

    /// Deletes finished submissions older than `keep` (by finish time), with their
    /// delivered callbacks and idempotency keys; dead letters stay until re-sent or purged
    /// with their submission. Returns how many submissions went.
    pub fn purge(&self, keep: std::time::Duration) -> anyhow::Result<usize> {
        // A retention longer than the time since 1970 keeps everything.
        let Some(cutoff) = std::time::SystemTime::now().checked_sub(keep) else { return Ok(0) };
        let cutoff = humantime::format_rfc3339_millis(cutoff).to_string();
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let old = "SELECT id FROM submissions WHERE status IN ('done', 'error', 'cancelled') AND finished_at < ?1";
        tx.execute(&format!("DELETE FROM callbacks WHERE state != 'pending' AND id IN ({old})"), params![cutoff])?;
        tx.execute(&format!("DELETE FROM idempotency WHERE id IN ({old})"), params![cutoff])?;
        // A submission whose callback is still being retried stays until it is delivered
        // or dead.
        let n = tx.execute(
            "DELETE FROM submissions WHERE status IN ('done', 'error', 'cancelled') AND finished_at < ?1
             AND id NOT IN (SELECT id FROM callbacks WHERE state = 'pending')",
            params![cutoff],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Whether the database takes writes (for readiness).
    pub fn writable(&self) -> bool {
        self.with(|c| c.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)", [])).is_ok()
    }
}
