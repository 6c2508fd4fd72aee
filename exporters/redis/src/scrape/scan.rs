//! Finding keys: `SCAN ... MATCH` over one database, patterns expanded into keys, and keys grouped
//! by database, for `--check-keys`, `--check-streams` and `--count-keys`.

use resp::{cmd, Connection, Reply};

use super::Scraper;
use crate::keys::{is_glob, DbKey};

/// Most SCAN calls for one pattern: with COUNT 1000, ten million keys.
const MAX_SCAN_CALLS: usize = 10_000;

/// SCANs `db` for `pattern`: the number of matching keys, and the keys when `collect` is given.
pub(super) async fn scan(
    conn: &mut Connection,
    db: u32,
    pattern: &str,
    batch: u32,
    mut collect: Option<&mut Vec<Vec<u8>>>,
) -> Result<(usize, bool), String> {
    let select = conn
        .pipeline(&[cmd(&["SELECT".to_string(), db.to_string()])])
        .await
        .map_err(|e| e.to_string())?;
    if let Some(e) = select[0].error() {
        return Err(format!("SELECT {db}: {e}"));
    }
    let mut cursor = b"0".to_vec();
    let mut count = 0;
    let count_arg = batch.to_string();
    for _ in 0..MAX_SCAN_CALLS {
        let r = conn
            .pipeline(&[cmd(&[
                b"SCAN".as_slice(),
                &cursor,
                b"MATCH",
                pattern.as_bytes(),
                b"COUNT",
                count_arg.as_bytes(),
            ])])
            .await
            .map_err(|e| e.to_string())?;
        let (next, keys) = parse_scan_reply(&r[0])?;
        count += keys.len();
        if let Some(c) = collect.as_deref_mut() {
            c.extend(keys.iter().filter_map(|k| match k {
                Reply::Bulk(Some(b)) => Some(b.clone()),
                _ => None,
            }));
        }
        if next == b"0" {
            return Ok((count, true));
        }
        cursor = next.to_vec();
    }
    tracing::warn!(
        pattern,
        "SCAN stopped after {MAX_SCAN_CALLS} calls; the result is partial"
    );
    Ok((count, false))
}

/// One `SCAN` reply: the next cursor (`0` when done) and this call's keys.
fn parse_scan_reply(reply: &Reply) -> Result<(&[u8], &[Reply]), String> {
    if let Some(e) = reply.error() {
        return Err(e.to_string());
    }
    let items = reply.as_array().unwrap_or_default();
    match (items.first(), items.get(1).and_then(Reply::as_array)) {
        (Some(Reply::Bulk(Some(next))), Some(keys)) => Ok((next, keys)),
        _ => Err("unexpected SCAN reply".into()),
    }
}

impl Scraper {
    /// The `single` keys and every key matching `patterns` ([`expand`], SCAN with
    /// `--check-keys-batch-size`), grouped by database ([`group_by_db`]).
    pub(super) async fn keys_by_db(
        &self,
        conn: &mut Connection,
        single: &[DbKey],
        patterns: &[DbKey],
    ) -> Result<Vec<(u32, Vec<Vec<u8>>)>, String> {
        let keys = expand(conn, single, patterns, self.opts.scan_batch).await?;
        Ok(group_by_db(keys))
    }
}

/// Single keys as given, plus every key matching each pattern (plain keys in the pattern list
/// are taken as they are).
async fn expand(
    conn: &mut Connection,
    single: &[DbKey],
    patterns: &[DbKey],
    batch: u32,
) -> Result<Vec<(u32, Vec<u8>)>, String> {
    let mut all: Vec<(u32, Vec<u8>)> = single
        .iter()
        .map(|k| (k.db, k.key.as_bytes().to_vec()))
        .collect();
    for p in patterns {
        if is_glob(&p.key) {
            let mut found = Vec::new();
            scan(conn, p.db, &p.key, batch, Some(&mut found)).await?;
            all.extend(found.into_iter().map(|k| (p.db, k)));
        } else {
            all.push((p.db, p.key.as_bytes().to_vec()));
        }
    }
    Ok(all)
}

/// Keys grouped by database, in first-seen order, each key once.
fn group_by_db(keys: Vec<(u32, Vec<u8>)>) -> Vec<(u32, Vec<Vec<u8>>)> {
    let mut groups: Vec<(u32, Vec<Vec<u8>>)> = Vec::new();
    for (db, key) in keys {
        match groups.iter_mut().find(|(d, _)| *d == db) {
            Some((_, ks)) => {
                if !ks.contains(&key) {
                    ks.push(key)
                }
            }
            None => groups.push((db, vec![key])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    #[test]
    fn scan_replies() {
        let reply = Reply::Array(Some(vec![
            bulk("17"),
            Reply::Array(Some(vec![bulk("a"), bulk("b")])),
        ]));
        let (next, keys) = parse_scan_reply(&reply).unwrap();
        assert_eq!(next, b"17");
        assert_eq!(keys, [bulk("a"), bulk("b")]);
        let done = Reply::Array(Some(vec![bulk("0"), Reply::Array(Some(vec![]))]));
        assert_eq!(parse_scan_reply(&done).unwrap().0, b"0");
        assert_eq!(
            parse_scan_reply(&Reply::Error("NOPERM no scan".into())).unwrap_err(),
            "NOPERM no scan"
        );
        for bad in [
            Reply::Integer(1),
            Reply::Array(Some(vec![Reply::Integer(0), Reply::Array(Some(vec![]))])),
            Reply::Array(Some(vec![bulk("0")])),
        ] {
            assert_eq!(parse_scan_reply(&bad).unwrap_err(), "unexpected SCAN reply");
        }
    }

    #[test]
    fn keys_grouped_by_database_once_each() {
        let keys = vec![
            (0, b"a".to_vec()),
            (2, b"x".to_vec()),
            (0, b"b".to_vec()),
            (0, b"a".to_vec()),
        ];
        assert_eq!(
            group_by_db(keys),
            [
                (0, vec![b"a".to_vec(), b"b".to_vec()]),
                (2, vec![b"x".to_vec()])
            ]
        );
    }
}
