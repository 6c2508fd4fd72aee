//! `--check-streams` / `--check-single-streams`: XINFO STREAM and XINFO GROUPS of every stream in
//! one round trip per database, then XINFO CONSUMERS of every group in one more (unless
//! `--streams-exclude-consumer-metrics`).

use resp::{cmd, Cmd, Connection, Reply};

use super::Scraper;
use crate::metrics::Out;
use crate::replies;

impl Scraper {
    pub(super) async fn check_streams(
        &self,
        conn: &mut Connection,
        out: &mut Out<'_>,
    ) -> Result<(), String> {
        let by_db = self
            .keys_by_db(
                conn,
                &self.opts.check_single_streams,
                &self.opts.check_streams,
            )
            .await?;
        for (db, keys) in by_db {
            let db_label = format!("db{db}");
            let replies = conn
                .pipeline(&stream_commands(db, &keys))
                .await
                .map_err(|e| e.to_string())?;
            if let Some(e) = replies[0].error() {
                return Err(format!("SELECT {db}: {e}"));
            }
            let with_consumers = !self.opts.streams_exclude_consumer_metrics;
            let consumers = stream_replies(&db_label, &keys, &replies[1..], with_consumers, out);
            if !consumers.is_empty() {
                let cmds: Vec<Cmd> = consumers.iter().map(|c| c.cmd.clone()).collect();
                let replies = conn.pipeline(&cmds).await.map_err(|e| e.to_string())?;
                for (c, r) in consumers.iter().zip(&replies) {
                    replies::consumer_metrics(&db_label, &c.stream, &c.group, r, out);
                }
            }
        }
        Ok(())
    }
}

/// SELECT `db`, then XINFO STREAM and XINFO GROUPS of each key.
fn stream_commands(db: u32, keys: &[Vec<u8>]) -> Vec<Cmd> {
    let mut cmds = vec![cmd(&["SELECT".as_bytes(), db.to_string().as_bytes()])];
    for k in keys {
        cmds.push(cmd(&[b"XINFO".as_slice(), b"STREAM", k]));
        cmds.push(cmd(&[b"XINFO".as_slice(), b"GROUPS", k]));
    }
    cmds
}

/// An XINFO CONSUMERS request and the stream and group it is about.
#[derive(Debug, PartialEq)]
struct ConsumerRequest {
    cmd: Cmd,
    stream: String,
    group: String,
}

/// Emits the stream and group metrics of the XINFO replies (two per key, after SELECT's) and
/// returns the XINFO CONSUMERS requests for the groups found (none when `with_consumers` is off).
/// Keys that are no streams (an error reply) are skipped.
fn stream_replies(
    db: &str,
    keys: &[Vec<u8>],
    replies: &[Reply],
    with_consumers: bool,
    out: &mut Out<'_>,
) -> Vec<ConsumerRequest> {
    let mut requests = Vec::new();
    for (k, pair) in keys.iter().zip(replies.chunks_exact(2)) {
        let (info, groups) = (&pair[0], &pair[1]);
        let name = String::from_utf8_lossy(k);
        if let Some(e) = info.error() {
            tracing::debug!(stream = %name, err = %e, "XINFO STREAM failed");
            continue;
        }
        replies::stream_metrics(db, &name, info, groups, out);
        if !with_consumers {
            continue;
        }
        for g in replies::group_names(groups) {
            requests.push(ConsumerRequest {
                cmd: cmd(&[b"XINFO".as_slice(), b"CONSUMERS", k, g.as_bytes()]),
                stream: name.to_string(),
                group: g,
            });
        }
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(Some(items))
    }

    #[test]
    fn commands_per_database() {
        let cmds = stream_commands(3, &[b"s1".to_vec(), b"s2".to_vec()]);
        let texts: Vec<String> = cmds
            .iter()
            .map(|c| String::from_utf8_lossy(&c.join(&b' ')).into_owned())
            .collect();
        assert_eq!(
            texts,
            [
                "SELECT 3",
                "XINFO STREAM s1",
                "XINFO GROUPS s1",
                "XINFO STREAM s2",
                "XINFO GROUPS s2"
            ]
        );
    }

    #[test]
    fn groups_become_consumer_requests() {
        let keys = [b"s".to_vec(), b"not-a-stream".to_vec()];
        let replies = [
            arr(vec![bulk("length"), Reply::Integer(2)]),
            arr(vec![
                arr(vec![
                    bulk("name"),
                    bulk("g1"),
                    bulk("pending"),
                    Reply::Integer(1),
                ]),
                arr(vec![bulk("name"), bulk("g2")]),
            ]),
            Reply::Error(
                "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
            ),
            Reply::Error("WRONGTYPE".into()),
        ];
        let mut out = Out::new("redis");
        let requests = stream_replies("db0", &keys, &replies, true, &mut out);
        assert_eq!(
            requests,
            [
                ConsumerRequest {
                    cmd: cmd(&["XINFO", "CONSUMERS", "s", "g1"]),
                    stream: "s".into(),
                    group: "g1".into(),
                },
                ConsumerRequest {
                    cmd: cmd(&["XINFO", "CONSUMERS", "s", "g2"]),
                    stream: "s".into(),
                    group: "g2".into(),
                },
            ]
        );
        let names: Vec<&str> = out.families.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            ["redis_stream_length", "redis_stream_group_messages_pending"]
        );
        let mut out = Out::new("redis");
        assert!(stream_replies("db0", &keys, &replies, false, &mut out).is_empty());
        assert_eq!(out.families.len(), 2, "stream metrics without consumers");
    }
}
