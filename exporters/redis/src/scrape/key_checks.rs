//! `--check-keys` / `--check-single-keys`: each key's type, then its size (and, for strings, its
//! value) in one more round trip per database; on a cluster, keys of other nodes' slots are asked
//! of those nodes (`--is-cluster`).

use resp::{cmd, Cmd, Connection, Reply};

use super::Scraper;
use crate::metrics::Out;
use crate::target::{Endpoint, Target};

/// What a key check found for one key.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum KeyOutcome {
    Missing,
    Sized {
        size: f64,
        value: Option<Vec<u8>>,
    },
    Unsupported(String),
    /// `MOVED <slot> <host:port>` (or `ASK`): the key lives on another cluster node.
    Moved(String),
}

impl Scraper {
    /// Expands patterns with SCAN, then asks each key's type and size in two round trips per
    /// database (three for HyperLogLogs).
    pub(super) async fn check_keys(
        &self,
        conn: &mut Connection,
        nodes: &mut Vec<(String, Connection)>,
        out: &mut Out<'_>,
    ) -> Result<(), String> {
        let by_db = self
            .keys_by_db(conn, &self.opts.check_single_keys, &self.opts.check_keys)
            .await?;
        for (db, keys) in by_db {
            let mut outcomes = inspect_keys(conn, db, &keys).await?;
            // On a cluster, keys of other nodes' slots come back as MOVED: ask those nodes.
            for (addr, idx) in moved_by_node(&outcomes) {
                if !self.opts.is_cluster {
                    tracing::debug!(node = %addr, "key check: key lives on another cluster node (use --is-cluster)");
                    continue;
                }
                let subset: Vec<Vec<u8>> = idx.iter().map(|&i| keys[i].clone()).collect();
                match self.on_node(nodes, &addr, db, &subset).await {
                    Ok(found) => {
                        for (&i, o) in idx.iter().zip(found) {
                            outcomes[i] = o;
                        }
                    }
                    Err(e) => {
                        nodes.retain(|(a, _)| a != &addr);
                        tracing::warn!(node = %addr, err = %e, "key check on cluster node failed");
                    }
                }
            }
            let db_label = format!("db{db}");
            let with_values = !self.opts.disable_exporting_key_values;
            for (key, outcome) in keys.iter().zip(&outcomes) {
                key_metrics(&db_label, key, outcome, with_values, out);
            }
        }
        Ok(())
    }

    /// Runs a key inspection on another cluster node, over a connection kept for it.
    async fn on_node(
        &self,
        nodes: &mut Vec<(String, Connection)>,
        addr: &str,
        db: u32,
        keys: &[Vec<u8>],
    ) -> Result<Vec<KeyOutcome>, String> {
        if !nodes.iter().any(|(a, _)| a == addr) {
            let (host, port) =
                node_address(addr).ok_or_else(|| format!("invalid node address {addr:?}"))?;
            let target = Target {
                endpoint: Endpoint::Tcp {
                    host,
                    port,
                    tls: self.target.uses_tls(),
                },
                user: self.target.user.clone(),
                password: self.target.password.clone(),
            };
            let conn = self.connect_to(&target).await.map_err(|e| e.to_string())?;
            nodes.push((addr.to_string(), conn));
        }
        let conn = nodes
            .iter_mut()
            .find(|(a, _)| a == addr)
            .map(|(_, c)| c)
            .ok_or("node connection lost")?;
        inspect_keys(conn, db, keys).await
    }
}

/// Type, size and (strings) value of `keys` in `db`: two round trips, three with HyperLogLogs.
async fn inspect_keys(
    conn: &mut Connection,
    db: u32,
    keys: &[Vec<u8>],
) -> Result<Vec<KeyOutcome>, String> {
    let mut cmds = vec![cmd(&["SELECT".as_bytes(), db.to_string().as_bytes()])];
    cmds.extend(keys.iter().map(|k| cmd(&[b"TYPE".as_slice(), k])));
    let replies = conn.pipeline(&cmds).await.map_err(|e| e.to_string())?;
    if let Some(e) = replies[0].error() {
        return Err(format!("SELECT {db}: {e}"));
    }
    let mut outcomes = Vec::with_capacity(keys.len());
    let mut size_cmds: Vec<Cmd> = Vec::new();
    let mut plan: Vec<(usize, usize, bool)> = Vec::new(); // (key, first reply, is string)
    for (i, (key, r)) in keys.iter().zip(&replies[1..]).enumerate() {
        if let Some(e) = r.error() {
            outcomes.push(type_error_outcome(e));
            continue;
        }
        let t = r.as_text().unwrap_or_default();
        if t == "none" {
            outcomes.push(KeyOutcome::Missing);
            continue;
        }
        let Some(size_cmd) = size_command(&t) else {
            outcomes.push(KeyOutcome::Unsupported(format!("type {t}")));
            continue;
        };
        let is_string = t == "string";
        plan.push((i, size_cmds.len(), is_string));
        outcomes.push(KeyOutcome::Unsupported("no size".into()));
        size_cmds.push(cmd(&[size_cmd, key]));
        if is_string {
            size_cmds.push(cmd(&[b"GET".as_slice(), key]));
        }
    }
    if size_cmds.is_empty() {
        return Ok(outcomes);
    }
    let sizes = conn.pipeline(&size_cmds).await.map_err(|e| e.to_string())?;
    let mut hll: Vec<usize> = Vec::new();
    for &(i, at, is_string) in &plan {
        let Some(size) = sizes[at].as_int() else {
            continue;
        };
        let value = match (is_string, &sizes.get(at + 1)) {
            (true, Some(Reply::Bulk(Some(v)))) => Some(v.clone()),
            _ => None,
        };
        // A HyperLogLog is a string starting with this magic; its size is its count, and its
        // (binary) value is not exported.
        let is_hll = value.as_deref().is_some_and(|v| v.starts_with(b"HYLL"));
        if is_hll {
            hll.push(i);
        }
        outcomes[i] = KeyOutcome::Sized {
            size: size as f64,
            value: if is_hll { None } else { value },
        };
    }
    if !hll.is_empty() {
        let cmds: Vec<Cmd> = hll
            .iter()
            .map(|&i| cmd(&[b"PFCOUNT".as_slice(), &keys[i]]))
            .collect();
        let counts = conn.pipeline(&cmds).await.map_err(|e| e.to_string())?;
        for (&i, r) in hll.iter().zip(&counts) {
            if let (Some(n), KeyOutcome::Sized { size, .. }) = (r.as_int(), &mut outcomes[i]) {
                *size = n as f64;
            }
        }
    }
    Ok(outcomes)
}

/// The command giving the length or size of a key of TYPE `t`; `None` for types without one.
fn size_command(t: &str) -> Option<&'static [u8]> {
    Some(match t {
        "string" => b"STRLEN",
        "list" => b"LLEN",
        "set" => b"SCARD",
        "zset" => b"ZCARD",
        "hash" => b"HLEN",
        "stream" => b"XLEN",
        _ => return None,
    })
}

/// An error reply to TYPE: a cluster redirection names the node owning the key.
fn type_error_outcome(e: &str) -> KeyOutcome {
    let mut parts = e.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("MOVED" | "ASK"), Some(_slot), Some(node)) => KeyOutcome::Moved(node.to_string()),
        _ => KeyOutcome::Unsupported(e.to_string()),
    }
}

/// The positions of moved keys, grouped by the node they moved to, in first-seen order.
fn moved_by_node(outcomes: &[KeyOutcome]) -> Vec<(String, Vec<usize>)> {
    let mut moved: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        if let KeyOutcome::Moved(addr) = o {
            match moved.iter_mut().find(|(a, _)| a == addr) {
                Some((_, idx)) => idx.push(i),
                None => moved.push((addr.clone(), vec![i])),
            }
        }
    }
    moved
}

/// `host:port` or `[v6]:port` of a MOVED reply.
fn node_address(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

/// `key_size` and, unless `with_values` is off, `key_value` (numbers) or `key_value_as_string`.
fn key_metrics(db: &str, key: &[u8], outcome: &KeyOutcome, with_values: bool, out: &mut Out<'_>) {
    let key_label = String::from_utf8_lossy(key);
    let labels = [("db", db), ("key", key_label.as_ref())];
    match outcome {
        // Upstream's convention: a missing key has size 0.
        KeyOutcome::Missing => out.gauge("key_size", "The length or size of \"key\"", &labels, 0.0),
        KeyOutcome::Sized { size, value } => {
            out.gauge("key_size", "The length or size of \"key\"", &labels, *size);
            // Binary values (HyperLogLogs...) cannot be label values.
            let text = value
                .as_deref()
                .filter(|_| with_values)
                .and_then(|v| std::str::from_utf8(v).ok());
            if let Some(text) = text {
                if let Ok(v) = text.trim().parse::<f64>() {
                    out.gauge("key_value", "The value of \"key\"", &labels, v);
                } else if !text.is_empty() {
                    out.gauge(
                        "key_value_as_string",
                        "The value of \"key\" as a string",
                        &[labels[0], labels[1], ("val", text)],
                        1.0,
                    );
                }
            }
        }
        KeyOutcome::Unsupported(what) => {
            tracing::debug!(key = %key_label, %what, "key check skipped")
        }
        KeyOutcome::Moved(node) => {
            tracing::debug!(key = %key_label, %node, "key check: key on another node")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_replies_choose_the_size_command() {
        assert_eq!(size_command("list"), Some(&b"LLEN"[..]));
        assert_eq!(size_command("stream"), Some(&b"XLEN"[..]));
        assert_eq!(size_command("ReJSON-RL"), None);
        assert_eq!(
            type_error_outcome("MOVED 3999 127.0.0.1:7001"),
            KeyOutcome::Moved("127.0.0.1:7001".into())
        );
        assert_eq!(
            type_error_outcome("ASK 3999 [::1]:7002"),
            KeyOutcome::Moved("[::1]:7002".into())
        );
        assert_eq!(
            type_error_outcome("NOPERM no TYPE"),
            KeyOutcome::Unsupported("NOPERM no TYPE".into())
        );
    }

    #[test]
    fn moved_keys_grouped_by_node() {
        let outcomes = [
            KeyOutcome::Moved("a:1".into()),
            KeyOutcome::Missing,
            KeyOutcome::Moved("b:2".into()),
            KeyOutcome::Moved("a:1".into()),
        ];
        assert_eq!(
            moved_by_node(&outcomes),
            [
                ("a:1".to_string(), vec![0, 3]),
                ("b:2".to_string(), vec![2])
            ]
        );
        assert_eq!(
            node_address("10.0.0.1:7000"),
            Some(("10.0.0.1".into(), 7000))
        );
        assert_eq!(node_address("[::1]:7000"), Some(("::1".into(), 7000)));
        assert_eq!(node_address("nope"), None);
        assert_eq!(node_address("h:port"), None);
    }

    #[test]
    fn key_series_by_outcome() {
        let render = |outcome: KeyOutcome, with_values: bool| {
            let mut out = Out::new("redis");
            key_metrics("db1", b"k", &outcome, with_values, &mut out);
            let mut text = String::new();
            exporter_core::encode::encode_text(&out.families, &mut text);
            text
        };
        let sized = |value: &[u8]| KeyOutcome::Sized {
            size: value.len() as f64,
            value: Some(value.to_vec()),
        };
        // Each outcome, whether values are exported, a series it must show and what it must not.
        for (outcome, with_values, shown, not_shown) in [
            (
                KeyOutcome::Missing,
                true,
                "redis_key_size{db=\"db1\",key=\"k\"} 0\n",
                "key_value",
            ),
            (
                sized(b"42"),
                true,
                "redis_key_size{db=\"db1\",key=\"k\"} 2\n",
                "as_string",
            ),
            (
                sized(b"42"),
                true,
                "redis_key_value{db=\"db1\",key=\"k\"} 42\n",
                "as_string",
            ),
            (
                sized(b"hello"),
                true,
                "redis_key_value_as_string{db=\"db1\",key=\"k\",val=\"hello\"} 1\n",
                "redis_key_value{",
            ),
            (sized(b"hello"), false, "redis_key_size", "key_value"),
            // Binary values are no labels.
            (sized(b"\xff\xfe"), true, "redis_key_size", "key_value"),
        ] {
            let text = render(outcome, with_values);
            assert!(text.contains(shown), "{shown} in {text}");
            assert!(!text.contains(not_shown), "no {not_shown} in {text}");
        }
        assert!(render(KeyOutcome::Unsupported("type x".into()), true).is_empty());
        assert!(render(KeyOutcome::Moved("a:1".into()), true).is_empty());
    }
}
