//! CONFIG GET: the `config_*` families, the number of databases, and every setting as
//! `config_key_value` (`--include-config-metrics`), secrets always left out.

use resp::Reply;

use super::text_pairs;
use crate::metrics::Out;

/// `CONFIG GET` replies (flat name/value arrays): `config_maxclients`, `config_maxmemory`,
/// `config_io_threads`, `config_client_output_buffer_limit_*`, and the number of databases when
/// present.
pub fn config_metrics(replies: &[&Reply], out: &mut Out) -> Option<usize> {
    let mut databases = None;
    for reply in replies {
        for (key, value) in text_pairs(reply) {
            match key.as_ref() {
                "databases" => databases = value.trim().parse::<usize>().ok(),
                "maxmemory" | "maxclients" | "io-threads" => {
                    if let Ok(v) = value.trim().parse::<f64>() {
                        let name = format!("config_{}", key.replace('-', "_"));
                        let help = format!("{name} metric");
                        out.gauge(&name, help, &[], v);
                    }
                }
                "client-output-buffer-limit" => output_buffer_limit_metrics(&value, out),
                _ => {}
            }
        }
    }
    databases
}

/// Settings whose values are secrets: never exported, whatever `--redact-config-metrics` says.
pub fn is_secret_setting(key: &str) -> bool {
    key.contains("pass") || key.ends_with("auth")
}

/// `CONFIG GET *` (`--include-config-metrics`): `config_key_value{key,value}` 1 per setting and
/// `config_value{key}` for numeric ones, leaving out the secrets (`is_secret_setting`).
pub fn config_setting_metrics(reply: &Reply, out: &mut Out) {
    for (key, value) in text_pairs(reply) {
        if is_secret_setting(&key) {
            continue;
        }
        out.gauge(
            "config_key_value",
            "Config key and value",
            &[("key", key.as_ref()), ("value", value.as_ref())],
            1.0,
        );
        if let Ok(v) = value.trim().parse::<f64>() {
            out.gauge(
                "config_value",
                "Config key and value as metric",
                &[("key", key.as_ref())],
                v,
            );
        }
    }
}

/// `client-output-buffer-limit` (`normal 0 0 0 replica 268435456 67108864 60 pubsub ...`): per
/// class, the hard and soft limits in bytes and how long the soft one may be exceeded.
pub fn output_buffer_limit_metrics(value: &str, out: &mut Out) {
    let words: Vec<&str> = value.split_whitespace().collect();
    for class in words.chunks_exact(4) {
        let name = class[0];
        let limits = [
            (class[1], "hard", BUFFER_LIMIT),
            (class[2], "soft", BUFFER_LIMIT),
            (class[3], "soft", BUFFER_LIMIT_OVERCOME),
        ];
        for (word, limit, (metric, help)) in limits {
            if let Ok(v) = word.parse::<f64>() {
                out.gauge(metric, help, &[("class", name), ("limit", limit)], v);
            }
        }
    }
}

/// The families of `client-output-buffer-limit`: name and help.
const BUFFER_LIMIT: (&str, &str) = (
    "config_client_output_buffer_limit_bytes",
    "The configured buffer limits per class",
);
const BUFFER_LIMIT_OVERCOME: (&str, &str) = (
    "config_client_output_buffer_limit_overcome_seconds",
    "How long for buffer limits per class to be exceeded before replicas are dropped",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::test_support::{bulks, names};

    #[test]
    fn config_replies() {
        let mut out = Out::new("redis");
        let a = bulks(&["maxmemory", "100"]);
        let b = bulks(&["io-threads", "4", "databases", "32"]);
        let denied = Reply::Error("ERR unknown command 'CONFIG'".into());
        let limits = bulks(&[
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 x",
        ]);
        assert_eq!(
            config_metrics(&[&a, &b, &denied, &limits], &mut out),
            Some(32)
        );
        let limit = "redis_config_client_output_buffer_limit_bytes";
        let overcome = "redis_config_client_output_buffer_limit_overcome_seconds";
        assert_eq!(
            names(&out),
            [
                ("redis_config_maxmemory", 100.0),
                ("redis_config_io_threads", 4.0),
                (limit, 0.0),
                (limit, 0.0),
                (overcome, 0.0),
                (limit, 268435456.0),
                (limit, 67108864.0),
                (overcome, 60.0),
                (limit, 33554432.0),
                (limit, 8388608.0),
            ]
        );
        let slave_soft = &out.families[6].samples[0].labels;
        assert_eq!(slave_soft[0].1, "slave");
        assert_eq!(slave_soft[1].1, "soft");
    }

    #[test]
    fn config_settings_leave_secrets_out() {
        let reply = bulks(&[
            "maxclients",
            "10000",
            "requirepass",
            "hunter2",
            "masterauth",
            "hunter3",
            "tls-key-file-pass",
            "hunter4",
            "appendfsync",
            "everysec",
            "dangling",
        ]);
        let mut out = Out::new("redis");
        config_setting_metrics(&reply, &mut out);
        let mut text = String::new();
        exporter_core::encode::encode_text(&out.families, &mut text);
        assert!(text.contains("redis_config_key_value{key=\"maxclients\",value=\"10000\"} 1"));
        assert!(text.contains("redis_config_value{key=\"maxclients\"} 10000"));
        assert!(text.contains("redis_config_key_value{key=\"appendfsync\",value=\"everysec\"} 1"));
        assert!(!text.contains("config_value{key=\"appendfsync\""));
        assert!(!text.contains("hunter"), "{text}");
        assert!(
            !text.contains("requirepass") && !text.contains("dangling"),
            "{text}"
        );
    }
}
