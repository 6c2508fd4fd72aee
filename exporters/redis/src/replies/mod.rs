//! Pure mappings from the replies of the non-INFO commands to metric families, one file per
//! command family: [`config`] (CONFIG GET), [`latency`] (SLOWLOG, LATENCY), [`clients`]
//! (CLIENT LIST), [`script`] (`--script`'s result), [`streams`] (XINFO).

pub mod clients;
pub mod config;
pub mod latency;
pub mod script;
pub mod streams;

pub use clients::{client_list_metrics, parse_client_line, ClientInfo};
pub use config::{
    config_metrics, config_setting_metrics, is_secret_setting, output_buffer_limit_metrics,
};
pub use latency::{latency_histogram_metrics, latency_metrics, slowlog_metrics};
pub use script::script_metrics;
pub use streams::{consumer_metrics, group_names, stream_id_ms, stream_metrics};

use std::borrow::Cow;

use resp::Reply;

/// Reads a flat `[name, value, name, value, ...]` reply (XINFO in RESP2) as pairs.
pub fn pairs(reply: &Reply) -> Vec<(Cow<'_, str>, &Reply)> {
    flat_pairs(reply)
        .filter_map(|(k, v)| Some((k.as_text()?, v)))
        .collect()
}

/// The value named `name` in `pairs` (the first, if the name repeats).
pub fn field<'r>(pairs: &[(Cow<'_, str>, &'r Reply)], name: &str) -> Option<&'r Reply> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// A flat reply (CONFIG GET, a script's result) as pairs of texts; pairs whose name or value is
/// not text are skipped.
pub fn text_pairs(reply: &Reply) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    flat_pairs(reply).filter_map(|(k, v)| Some((k.as_text()?, v.as_text()?)))
}

/// The items of an array reply two by two (nothing for any other reply; an odd last item is
/// left out).
fn flat_pairs(reply: &Reply) -> impl Iterator<Item = (&Reply, &Reply)> {
    reply
        .as_array()
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|p| (&p[0], &p[1]))
}

#[cfg(test)]
pub(crate) mod test_support {
    use resp::Reply;

    use crate::metrics::Out;

    pub(crate) fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    pub(crate) fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    pub(crate) fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(Some(items))
    }

    /// An array of bulk strings.
    pub(crate) fn bulks(items: &[&str]) -> Reply {
        arr(items.iter().map(|s| bulk(s)).collect())
    }

    /// A flat `[name, value, name, value, ...]` reply, as XINFO and CONFIG GET answer in RESP2.
    pub(crate) fn flat(fields: Vec<(&str, Reply)>) -> Reply {
        arr(fields.into_iter().flat_map(|(k, v)| [bulk(k), v]).collect())
    }

    /// Name and first value of every family, in order.
    pub(crate) fn names<'o>(out: &'o Out) -> Vec<(&'o str, f64)> {
        out.families
            .iter()
            .map(|f| (f.name.as_ref(), f.samples[0].value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{bulk, flat, int};
    use super::*;

    #[test]
    fn flat_pairs() {
        let mut reply = flat(vec![("a", int(1)), ("b", bulk("x"))]);
        if let Reply::Array(Some(items)) = &mut reply {
            items.push(bulk("odd"));
        }
        let got: Vec<_> = pairs(&reply)
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v))
            .collect();
        assert_eq!(
            got,
            [("a".to_string(), &int(1)), ("b".to_string(), &bulk("x"))]
        );
        let texts: Vec<_> = text_pairs(&reply)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(texts, ["a=1", "b=x"]);
        assert!(pairs(&Reply::Error("ERR".into())).is_empty());
    }
}
