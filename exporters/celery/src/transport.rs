//! kombu's Redis transport options (`--broker-transport-option`) and the key and channel
//! names they give on one broker database: event pattern, pidbox channel, queue lists with
//! their priority suffixes, the unacked hash, the binding sets.

use resp::glob_escape;

use crate::broker_url::{err, ConfigError};

/// kombu's Redis transport options that decide key and channel names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportOptions {
    /// Prefix of every key and channel (`global_keyprefix`).
    pub global_keyprefix: String,
    /// `None`: `fanout_prefix=false`; otherwise the prefix, `{db}` not yet substituted.
    pub fanout_prefix: Option<String>,
    /// Fanout messages go to `{exchange}/{routing_key}` channels (`fanout_patterns`).
    pub fanout_patterns: bool,
    /// Separator of a queue name and its priority (`sep`, `\x06\x16` by default).
    pub sep: String,
    /// Priorities with a list of their own (`priority_steps`); 0 is the queue itself.
    pub priority_steps: Vec<u32>,
    /// The hash of delivered, unacknowledged messages (`unacked_key`).
    pub unacked_key: String,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            global_keyprefix: String::new(),
            fanout_prefix: Some("/{db}.".into()),
            fanout_patterns: true,
            sep: "\x06\x16".into(),
            priority_steps: vec![0, 3, 6, 9],
            unacked_key: "unacked".into(),
        }
    }
}

const FLAG: &str = "--broker-transport-option";

fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(err(format!(
            "{FLAG} {key}: expected true or false, not {v:?}"
        ))),
    }
}

/// Decodes `\xNN` escapes so `sep=\x06\x16` can be typed on a command line.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 4);
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl TransportOptions {
    /// Applies `key=value` pairs, as given to `--broker-transport-option`.
    pub fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<TransportOptions, ConfigError> {
        let mut o = TransportOptions::default();
        for pair in pairs {
            let pair = pair.as_ref();
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| err(format!("{FLAG} {pair:?}: expected key=value")))?;
            let (k, v) = (k.trim(), v.trim());
            match k {
                "global_keyprefix" => o.global_keyprefix = unescape(v),
                "fanout_prefix" => {
                    o.fanout_prefix = match parse_bool(k, v) {
                        Ok(true) => Some("/{db}.".into()),
                        Ok(false) => None,
                        // kombu: a string replaces the default prefix.
                        Err(_) => Some(unescape(v)),
                    }
                }
                "fanout_patterns" => o.fanout_patterns = parse_bool(k, v)?,
                "sep" => {
                    if v.is_empty() {
                        return Err(err(format!("{FLAG} sep: must not be empty")));
                    }
                    o.sep = unescape(v)
                }
                "priority_steps" => {
                    let steps: Result<Vec<u32>, _> = v
                        .trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')')
                        .split([',', ' '])
                        .filter(|s| !s.is_empty())
                        .map(str::parse::<u32>)
                        .collect();
                    match steps {
                        Ok(s) if !s.is_empty() && s.len() <= 256 => o.priority_steps = s,
                        _ => {
                            return Err(err(format!(
                                "{FLAG} priority_steps: expected a list of integers like 0,3,6,9, not {v:?}"
                            )))
                        }
                    }
                }
                "unacked_key" => o.unacked_key = unescape(v),
                other => {
                    return Err(err(format!(
                        "{FLAG}: unknown key {other:?} (known: global_keyprefix, fanout_prefix, fanout_patterns, sep, priority_steps, unacked_key)"
                    )))
                }
            }
        }
        Ok(o)
    }
}

/// Key and channel names on one broker database, as kombu forms them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    fanout: String,
    fanout_patterns: bool,
    sep: String,
    priority_steps: Vec<u32>,
    unacked: String,
}

impl Keys {
    /// The names on database `db` under the options `o`.
    pub fn new(o: &TransportOptions, db: u32) -> Keys {
        Keys {
            prefix: o.global_keyprefix.clone(),
            fanout: o
                .fanout_prefix
                .as_deref()
                .map(|f| f.replace("{db}", &db.to_string()))
                .unwrap_or_default(),
            fanout_patterns: o.fanout_patterns,
            sep: o.sep.clone(),
            priority_steps: o.priority_steps.clone(),
            unacked: o.unacked_key.clone(),
        }
    }

    /// The PSUBSCRIBE pattern that receives every event: `{prefix}/{db}.celeryev/*`.
    pub fn events_pattern(&self) -> String {
        let channel = glob_escape(&format!("{}{}celeryev", self.prefix, self.fanout));
        if self.fanout_patterns {
            channel + "/*"
        } else {
            channel
        }
    }

    /// Where `celery control` broadcasts go (routing key "" never gets a `/suffix`).
    pub fn pidbox_channel(&self) -> String {
        format!("{}{}celery.pidbox", self.prefix, self.fanout)
    }

    /// The lists holding a queue's messages: the queue itself and one per priority step.
    pub fn queue_keys(&self, queue: &str) -> Vec<String> {
        self.priority_steps
            .iter()
            .map(|&p| {
                if p == 0 {
                    self.queue_key(queue)
                } else {
                    format!("{}{queue}{}{p}", self.prefix, self.sep)
                }
            })
            .collect()
    }

    /// The list a queue's messages of priority 0 are in (kombu LPUSHes, consumers BRPOP).
    pub fn queue_key(&self, queue: &str) -> String {
        format!("{}{queue}", self.prefix)
    }

    /// kombu's binding of `queue` to a direct `exchange` with `routing_key`: the set that holds
    /// the exchange's bindings, and the member to add (routing key, empty pattern, queue).
    pub fn binding(&self, exchange: &str, routing_key: &str, queue: &str) -> (String, String) {
        (
            format!("{}_kombu.binding.{exchange}", self.prefix),
            format!("{routing_key}{sep}{sep}{queue}", sep = self.sep),
        )
    }

    /// The unacked hash, prefix included.
    pub fn unacked_key(&self) -> String {
        format!("{}{}", self.prefix, self.unacked)
    }

    /// SCAN MATCH pattern of the exchange binding sets.
    pub fn bindings_pattern(&self) -> String {
        format!("{}_kombu.binding.*", glob_escape(&self.prefix))
    }

    /// The exchange of a binding set key, `None` for fanout exchanges Celery uses for events and
    /// remote control (their "queues" are pub/sub subscribers, not lists).
    pub fn binding_exchange<'k>(&self, key: &'k str) -> Option<&'k str> {
        let exchange = key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix("_kombu.binding.")?;
        (exchange != "celeryev" && !exchange.ends_with(".pidbox")).then_some(exchange)
    }

    /// The queue of a binding set member `routing_key{sep}pattern{sep}queue`.
    pub fn binding_queue<'m>(&self, member: &'m str) -> Option<&'m str> {
        let queue = member.splitn(3, self.sep.as_str()).nth(2)?;
        (!queue.is_empty() && !queue.starts_with("celeryev.") && !queue.ends_with(".pidbox"))
            .then_some(queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_match_kombu() {
        let k = Keys::new(&TransportOptions::default(), 0);
        assert_eq!(k.events_pattern(), "/0.celeryev/*");
        assert_eq!(k.pidbox_channel(), "/0.celery.pidbox");
        assert_eq!(
            k.queue_keys("celery"),
            [
                "celery",
                "celery\x06\x163",
                "celery\x06\x166",
                "celery\x06\x169"
            ]
        );
        assert_eq!(k.unacked_key(), "unacked");
        assert_eq!(k.bindings_pattern(), "_kombu.binding.*");
        assert_eq!(k.binding_exchange("_kombu.binding.celery"), Some("celery"));
        assert_eq!(k.binding_exchange("_kombu.binding.celeryev"), None);
        assert_eq!(
            k.binding_exchange("_kombu.binding.reply.celery.pidbox"),
            None
        );
        assert_eq!(
            k.binding_queue("celery\x06\x16\x06\x16celery"),
            Some("celery")
        );
        assert_eq!(k.binding_queue("#\x06\x16\x06\x16celeryev.5f1c"), None);
        assert_eq!(k.binding_queue("garbage"), None);
        // What kombu's direct exchange looks up, and what discovery then skips.
        let (set, member) = k.binding("reply.celery.pidbox", "abc", "abc.reply.celery.pidbox");
        assert_eq!(set, "_kombu.binding.reply.celery.pidbox");
        assert_eq!(member, "abc\x06\x16\x06\x16abc.reply.celery.pidbox");
        assert_eq!(k.binding_queue(&member), None);
    }

    #[test]
    fn transport_options_change_names() {
        let o = TransportOptions::parse(&[
            "global_keyprefix=app*1:",
            "fanout_patterns=false",
            "priority_steps=[0, 5]",
            "sep=:",
        ])
        .unwrap();
        let k = Keys::new(&o, 2);
        assert_eq!(k.events_pattern(), "app\\*1:/2.celeryev");
        assert_eq!(k.pidbox_channel(), "app*1:/2.celery.pidbox");
        assert_eq!(k.queue_keys("q"), ["app*1:q", "app*1:q:5"]);
        assert_eq!(k.unacked_key(), "app*1:unacked");
        assert_eq!(k.bindings_pattern(), "app\\*1:_kombu.binding.*");
        assert_eq!(
            k.binding_exchange("app*1:_kombu.binding.tasks"),
            Some("tasks")
        );
        assert_eq!(k.binding_exchange("other:_kombu.binding.tasks"), None);

        let o = TransportOptions::parse(&["fanout_prefix=false"]).unwrap();
        assert_eq!(Keys::new(&o, 0).events_pattern(), "celeryev/*");
        let o = TransportOptions::parse(&["fanout_prefix=/x{db}.", "sep=\\x01"]).unwrap();
        assert_eq!(Keys::new(&o, 4).events_pattern(), "/x4.celeryev/*");
        assert_eq!(o.sep, "\x01");

        for (bad, want) in [
            (&["nope=1"][..], "unknown key \"nope\""),
            (&["fanout_patterns=maybe"], "fanout_patterns"),
            (&["priority_steps=a,b"], "priority_steps"),
            (&["novalue"], "key=value"),
            (&["sep="], "sep"),
        ] {
            let e = TransportOptions::parse(bad).unwrap_err().0;
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }
}
