//! The result of a `--script` Lua script: pairs of names and values as `script_values`.

use resp::Reply;

use super::text_pairs;
use crate::metrics::Out;

/// The script's reply: an array of alternating names and values; values that are not numbers
/// are skipped, as upstream does.
pub fn script_metrics(reply: &Reply, out: &mut Out) -> Result<(), String> {
    if let Some(e) = reply.error() {
        return Err(e.to_string());
    }
    let items = match reply {
        Reply::Array(Some(items)) => items.as_slice(),
        Reply::Array(None) | Reply::Bulk(None) => return Ok(()),
        _ => return Err("the script must return an array of names and values".into()),
    };
    if items.len() % 2 != 0 {
        return Err("the script returned an odd number of items".into());
    }
    for (key, value) in text_pairs(reply) {
        if let Ok(v) = value.trim().parse::<f64>() {
            out.gauge(
                "script_values",
                "Values returned by the collect script",
                &[("key", &key)],
                v,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::test_support::{arr, bulk, flat, int, names};

    #[test]
    fn script_results() {
        let mut out = Out::new("redis");
        let ok = flat(vec![
            ("a", bulk("1.5")),
            ("b", bulk("nan-ish")),
            ("c", int(2)),
        ]);
        script_metrics(&ok, &mut out).unwrap();
        assert_eq!(
            names(&out),
            [("redis_script_values", 1.5), ("redis_script_values", 2.0)]
        );
        assert!(script_metrics(&Reply::Error("ERR boom".into()), &mut out).is_err());
        assert!(script_metrics(&arr(vec![bulk("a")]), &mut out).is_err());
        assert!(script_metrics(&int(1), &mut out).is_err());
    }
}
