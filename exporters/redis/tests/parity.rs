// Over 800 lines: upstream's flag table (~190 lines) and the tests that walk it share helpers.
//! Drop-in parity with oliver006/redis_exporter: every upstream flag and its environment
//! variable is accepted (Go's single-dash form too), the runtime's web and log flags read
//! upstream's variables, `exporter_last_scrape_error` carries the error text, and the families
//! current upstream releases added come out of a real redis-server.

mod common;

use std::process::Command;

use common::{get, write, Exporter, Redis, OURS};
use exporter_core::testkit::{family_shapes, run_to_exit, sample_value, samples};

/// Upstream's flags as of its current releases (main.go, plus `--log-level` and
/// `--tls-server-name`), each with its environment variable and a value to give it.
const UPSTREAM_FLAGS: &[(&str, Option<&str>, &str)] = &[
    ("redis.addr", Some("REDIS_ADDR"), "redis://127.0.0.1:1"),
    ("redis.user", Some("REDIS_USER"), "exporter"),
    ("redis.password", Some("REDIS_PASSWORD"), "pw"),
    (
        "redis.password-file",
        Some("REDIS_PASSWORD_FILE"),
        "/nonexistent.json",
    ),
    ("namespace", Some("REDIS_EXPORTER_NAMESPACE"), "kv"),
    ("check-keys", Some("REDIS_EXPORTER_CHECK_KEYS"), "db1=a*"),
    (
        "check-single-keys",
        Some("REDIS_EXPORTER_CHECK_SINGLE_KEYS"),
        "a",
    ),
    (
        "check-key-groups",
        Some("REDIS_EXPORTER_CHECK_KEY_GROUPS"),
        "^(.*)$",
    ),
    ("check-streams", Some("REDIS_EXPORTER_CHECK_STREAMS"), "s*"),
    (
        "check-single-streams",
        Some("REDIS_EXPORTER_CHECK_SINGLE_STREAMS"),
        "s",
    ),
    (
        "streams-exclude-consumer-metrics",
        Some("REDIS_EXPORTER_STREAMS_EXCLUDE_CONSUMER_METRICS"),
        "true",
    ),
    ("count-keys", Some("REDIS_EXPORTER_COUNT_KEYS"), "db0=a*"),
    (
        "check-keys-batch-size",
        Some("REDIS_EXPORTER_CHECK_KEYS_BATCH_SIZE"),
        "100",
    ),
    ("script", Some("REDIS_EXPORTER_SCRIPT"), "/nonexistent.lua"),
    (
        "web.listen-address",
        Some("REDIS_EXPORTER_WEB_LISTEN_ADDRESS"),
        "127.0.0.1:1",
    ),
    (
        "web.telemetry-path",
        Some("REDIS_EXPORTER_WEB_TELEMETRY_PATH"),
        "/m",
    ),
    ("log-format", Some("REDIS_EXPORTER_LOG_FORMAT"), "json"),
    ("log-level", Some("REDIS_EXPORTER_LOG_LEVEL"), "warn"),
    ("config-command", Some("REDIS_EXPORTER_CONFIG_COMMAND"), "-"),
    (
        "connection-timeout",
        Some("REDIS_EXPORTER_CONNECTION_TIMEOUT"),
        "5s",
    ),
    (
        "tls-client-key-file",
        Some("REDIS_EXPORTER_TLS_CLIENT_KEY_FILE"),
        "/k.pem",
    ),
    (
        "tls-client-cert-file",
        Some("REDIS_EXPORTER_TLS_CLIENT_CERT_FILE"),
        "/c.pem",
    ),
    (
        "tls-ca-cert-file",
        Some("REDIS_EXPORTER_TLS_CA_CERT_FILE"),
        "/ca.pem",
    ),
    (
        "tls-server-key-file",
        Some("REDIS_EXPORTER_TLS_SERVER_KEY_FILE"),
        "/k.pem",
    ),
    (
        "tls-server-cert-file",
        Some("REDIS_EXPORTER_TLS_SERVER_CERT_FILE"),
        "/c.pem",
    ),
    (
        "tls-server-ca-cert-file",
        Some("REDIS_EXPORTER_TLS_SERVER_CA_CERT_FILE"),
        "/ca.pem",
    ),
    (
        "tls-server-min-version",
        Some("REDIS_EXPORTER_TLS_SERVER_MIN_VERSION"),
        "TLS1.3",
    ),
    (
        "tls-server-name",
        Some("REDIS_EXPORTER_TLS_SERVER_NAME"),
        "redis.internal",
    ),
    (
        "max-distinct-key-groups",
        Some("REDIS_EXPORTER_MAX_DISTINCT_KEY_GROUPS"),
        "50",
    ),
    ("debug", Some("REDIS_EXPORTER_DEBUG"), "true"),
    (
        "set-client-name",
        Some("REDIS_EXPORTER_SET_CLIENT_NAME"),
        "false",
    ),
    ("is-tile38", Some("REDIS_EXPORTER_IS_TILE38"), "true"),
    ("is-cluster", Some("REDIS_EXPORTER_IS_CLUSTER"), "true"),
    (
        "export-client-list",
        Some("REDIS_EXPORTER_EXPORT_CLIENT_LIST"),
        "true",
    ),
    (
        "export-client-port",
        Some("REDIS_EXPORTER_EXPORT_CLIENT_PORT"),
        "true",
    ),
    ("version", None, "true"),
    (
        "redis-only-metrics",
        Some("REDIS_EXPORTER_REDIS_ONLY_METRICS"),
        "true",
    ),
    (
        "ping-on-connect",
        Some("REDIS_EXPORTER_PING_ON_CONNECT"),
        "true",
    ),
    (
        "include-config-metrics",
        Some("REDIS_EXPORTER_INCL_CONFIG_METRICS"),
        "true",
    ),
    (
        "include-modules-metrics",
        Some("REDIS_EXPORTER_INCL_MODULES_METRICS"),
        "true",
    ),
    (
        "disable-exporting-key-values",
        Some("REDIS_EXPORTER_DISABLE_EXPORTING_KEY_VALUES"),
        "true",
    ),
    (
        "exclude-latency-histogram-metrics",
        Some("REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS"),
        "true",
    ),
    (
        "redact-config-metrics",
        Some("REDIS_EXPORTER_REDACT_CONFIG_METRICS"),
        "false",
    ),
    (
        "include-system-metrics",
        Some("REDIS_EXPORTER_INCL_SYSTEM_METRICS"),
        "true",
    ),
    (
        "skip-tls-verification",
        Some("REDIS_EXPORTER_SKIP_TLS_VERIFICATION"),
        "true",
    ),
    (
        "skip-checkkeys-for-role-master",
        Some("REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER"),
        "true",
    ),
    (
        "basic-auth-username",
        Some("REDIS_EXPORTER_BASIC_AUTH_USERNAME"),
        "prom",
    ),
    (
        "basic-auth-password",
        Some("REDIS_EXPORTER_BASIC_AUTH_PASSWORD"),
        "pw",
    ),
    (
        "include-metrics-for-empty-databases",
        Some("REDIS_EXPORTER_INCL_METRICS_FOR_EMPTY_DATABASES"),
        "false",
    ),
];

fn ours() -> Command {
    let mut cmd = Command::new(OURS);
    for (_, env, _) in UPSTREAM_FLAGS {
        if let Some(env) = env {
            cmd.env_remove(env);
        }
    }
    cmd
}

/// Exit code and output of ours with `args` and `env`. `--version` exits once the flags parsed,
/// so a zero exit means every flag and variable was accepted.
fn parse_only(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    run_to_exit(ours().arg("--version").args(args).envs(env.iter().copied()))
}

/// The `--help` entry of `--flag`: its line and the help text under it.
fn help_entry<'a>(help: &'a str, flag: &str) -> Option<&'a str> {
    let needle = format!("--{flag}");
    let start = help.match_indices(&needle).find_map(|(i, _)| {
        let after = help[i + needle.len()..].chars().next();
        matches!(after, Some(' ' | '[' | '\n')).then_some(i)
    })?;
    let rest = &help[start..];
    let end = rest[2..].find("\n      --").map_or(rest.len(), |e| e + 2);
    Some(&rest[..end])
}

#[test]
fn every_upstream_flag_and_variable_is_accepted() {
    let (_, help) = run_to_exit(ours().arg("--help"));
    let mut problems = Vec::new();
    for &(flag, env, value) in UPSTREAM_FLAGS {
        for form in [format!("--{flag}={value}"), format!("-{flag}={value}")] {
            let (code, out) = parse_only(&[&form], &[]);
            if code != 0 {
                problems.push(format!("{form}: exit {code}: {out}"));
            }
        }
        let Some(env) = env else { continue };
        match help_entry(&help, flag) {
            Some(entry) if entry.contains(&format!("[env: {env}")) => {}
            entry => problems.push(format!("--{flag} does not read {env}: {entry:?}")),
        }
        let (code, out) = parse_only(&[], &[(env, value)]);
        if code != 0 {
            problems.push(format!("{env}={value}: exit {code}: {out}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn booleans_take_go_forms_and_bad_values_name_the_flag() {
    for args in [
        &["--is-cluster"][..],
        &["-is-cluster"],
        &["-is-cluster=false"],
        &["--set-client-name=false"],
        &["-set-client-name"],
        &["--debug=1"],
    ] {
        assert_eq!(parse_only(args, &[]).0, 0, "{args:?}");
    }
    for (env, value) in [
        ("REDIS_EXPORTER_IS_TILE38", "1"),
        ("REDIS_EXPORTER_IS_TILE38", "TRUE"),
        ("REDIS_EXPORTER_SET_CLIENT_NAME", "0"),
        ("REDIS_EXPORTER_DEBUG", "f"),
    ] {
        assert_eq!(parse_only(&[], &[(env, value)]).0, 0, "{env}={value}");
    }
    // Values that mean nothing fail at start-up, naming the flag (upstream silently ignores
    // a bad boolean; a silent default would hide a typo).
    for (env, value, flag) in [
        ("REDIS_EXPORTER_IS_TILE38", "maybe", "--is-tile38"),
        ("REDIS_EXPORTER_LOG_FORMAT", "xml", "--log-format"),
        ("REDIS_EXPORTER_LOG_LEVEL", "loud", "--log-level"),
        (
            "REDIS_EXPORTER_CONNECTION_TIMEOUT",
            "soon",
            "--connection-timeout",
        ),
    ] {
        let (code, out) = parse_only(&[], &[(env, value)]);
        assert_eq!(code, 2, "{env}={value}: {out}");
        assert!(out.contains(flag), "{env}={value}: {out}");
    }
    for level in ["debug", "INFO", "warning", "error", "trace", "fatal"] {
        assert_eq!(parse_only(&["--log-level", level], &[]).0, 0, "{level}");
    }
    for format in ["txt", "json", "logfmt"] {
        assert_eq!(parse_only(&["-log-format", format], &[]).0, 0, "{format}");
    }
}

/// Every flag Debian's upstream binary lists in its help is one of ours.
#[test]
fn flags_of_the_installed_upstream_binary_are_all_ours() {
    let Ok(out) = Command::new("prometheus-redis-exporter")
        .arg("--help")
        .output()
    else {
        eprintln!("prometheus-redis-exporter is not installed: skipped");
        return;
    };
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let theirs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  -"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(theirs.len() > 30, "{text}");
    let (_, help) = run_to_exit(ours().arg("--help"));
    let missing: Vec<&&str> = theirs
        .iter()
        .filter(|f| help_entry(&help, f).is_none())
        .collect();
    assert!(missing.is_empty(), "upstream flags we lack: {missing:?}");
}

/// Ours started with only environment variables (no --web.listen-address), stderr kept.
fn start_env_only(args: &[&str], env: &[(&str, &str)]) -> Exporter {
    let mut cmd = ours();
    cmd.args(args).envs(env.iter().copied());
    Exporter::spawn(cmd, |cmd, listen| {
        cmd.env("REDIS_EXPORTER_WEB_LISTEN_ADDRESS", listen);
    })
}

#[test]
fn web_and_log_flags_read_upstream_variables() {
    let exp = start_env_only(
        &["--redis.addr", "redis://127.0.0.1:1"],
        &[
            ("REDIS_EXPORTER_WEB_TELEMETRY_PATH", "/redis-metrics"),
            ("REDIS_EXPORTER_LOG_FORMAT", "json"),
        ],
    );
    let (status, body) = get(&exp.url("/redis-metrics"));
    assert_eq!(status, 200);
    assert_eq!(sample_value(&body, "redis_up", &[]), Some(0.0), "{body}");
    assert_eq!(get(&exp.url("/metrics")).0, 404);
    let logs = exp.logs();
    assert!(logs.contains("Listening on"), "{logs}");
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("msg").is_some() && v.get("level").is_some(), "{line}");
    }

    // REDIS_EXPORTER_LOG_LEVEL=error hides the start-up line; --log.format on the command line
    // wins over REDIS_EXPORTER_LOG_FORMAT.
    let quiet = start_env_only(
        &["--redis.addr", "", "--log.format", "logfmt"],
        &[
            ("REDIS_EXPORTER_LOG_LEVEL", "error"),
            ("REDIS_EXPORTER_LOG_FORMAT", "json"),
        ],
    );
    assert_eq!(get(&quiet.url("/metrics")).0, 200);
    let (status, _) = get(&quiet.url("/scrape?target=redis://127.0.0.1:1"));
    assert_eq!(status, 200);
    let logs = quiet.logs();
    assert!(!logs.contains("Listening on"), "{logs}");
    assert!(logs.contains("level=error"), "logfmt, errors only: {logs}");

    // REDIS_EXPORTER_DEBUG turns debug logging on.
    let debug = start_env_only(&["--redis.addr", ""], &[("REDIS_EXPORTER_DEBUG", "true")]);
    let redis = Redis::start(&[]);
    let target = redis.addr().replace(':', "%3A").replace('/', "%2F");
    assert_eq!(get(&debug.url(&format!("/scrape?target={target}"))).0, 200);
    redis.cli(None, &["CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal"]);
    assert_eq!(get(&debug.url(&format!("/scrape?target={target}"))).0, 200);
    assert!(debug.logs().contains("level=debug"), "{}", debug.logs());
}

fn basic_auth_header(user: &str, password: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

#[test]
fn upstream_basic_auth_and_tls_flags_configure_the_web_server() {
    let exp = Exporter::scraping(
        "",
        &[
            "-basic-auth-username",
            "prom",
            "-basic-auth-password",
            "s3cret-web",
        ],
    );
    assert_eq!(get(&exp.url("/metrics")).0, 401);
    let authed = ureq::get(&exp.url("/metrics"))
        .set("Authorization", &basic_auth_header("prom", "s3cret-web"))
        .call()
        .expect("authenticated scrape");
    assert_eq!(authed.status(), 200);
    let wrong = ureq::get(&exp.url("/metrics"))
        .set("Authorization", &basic_auth_header("prom", "wrong"))
        .call();
    assert!(matches!(wrong, Err(ureq::Error::Status(401, _))));
    assert!(!exp.logs().contains("s3cret-web"), "{}", exp.logs());

    // Half a pair, or both web configurations at once, stop the start.
    let (code, out) = run_to_exit(ours().args(["--basic-auth-username", "prom"]));
    assert_eq!(code, 1);
    assert!(out.contains("--basic-auth-password"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let web = write(dir.path(), "web.yml", "{}\n");
    let (code, out) = run_to_exit(ours().args([
        "--web.config.file",
        web.to_str().unwrap(),
        "--basic-auth-username=prom",
        "--basic-auth-password=pw",
    ]));
    assert_eq!(code, 1);
    assert!(out.contains("--web.config.file"), "{out}");

    // HTTPS from --tls-server-cert-file/--tls-server-key-file.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let crt = write(dir.path(), "web.crt", &cert.pem());
    let key = write(dir.path(), "web.key", &key.serialize_pem());
    let https = Exporter::scraping(
        "",
        &[
            "--tls-server-cert-file",
            crt.to_str().unwrap(),
            "--tls-server-key-file",
            key.to_str().unwrap(),
            "--tls-server-min-version",
            "TLS1.2",
        ],
    );
    let Ok(out) = Command::new("curl")
        .args(["-sk", "--cacert"])
        .arg(&crt)
        .arg(format!("https://127.0.0.1:{}/metrics", https.port))
        .output()
    else {
        eprintln!("curl is not installed: HTTPS not checked");
        return;
    };
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("redis_exporter_build_info"),
        "{body}\n{}",
        https.logs()
    );
}

/// `err` of `redis_exporter_last_scrape_error` and its value.
fn last_scrape_error(body: &str) -> (String, f64) {
    samples(body)
        .into_iter()
        .find(|(n, _, _)| n == "redis_exporter_last_scrape_error")
        .map(|(_, labels, v)| {
            let err = labels
                .into_iter()
                .find(|(k, _)| k == "err")
                .map(|(_, v)| v)
                .unwrap_or_default();
            (err, v)
        })
        .unwrap_or_else(|| panic!("no last_scrape_error in\n{body}"))
}

#[test]
fn last_scrape_error_carries_the_error_text_on_both_endpoints() {
    const PW: &str = "pw-never-shown-42";
    let mut redis = Redis::start(&["--requirepass", PW]);
    let other = Redis::start(&["--requirepass", "another-password"]);
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "passwords.json",
        &format!(r#"{{"{}": "{PW}"}}"#, redis.addr()),
    );
    let exp = Exporter::scraping(
        &redis.addr(),
        &[
            "--redis.password",
            PW,
            "--redis.password-file",
            file.to_str().unwrap(),
            "--connection-timeout",
            "2s",
        ],
    );
    let scrape = |target: &str| {
        get(&exp.url(&format!(
            "/scrape?target={}",
            target.replace(':', "%3A").replace('/', "%2F")
        )))
        .1
    };

    assert_eq!(last_scrape_error(&exp.metrics()), (String::new(), 0.0));
    assert_eq!(
        last_scrape_error(&scrape(&redis.addr())),
        (String::new(), 0.0)
    );

    // A stopped Redis: 1, with the reason, on /metrics and /scrape alike.
    redis.stop();
    for body in [exp.metrics(), scrape(&redis.addr())] {
        let (err, value) = last_scrape_error(&body);
        assert_eq!(value, 1.0, "{body}");
        assert!(err.contains("connect"), "{err}");
        assert!(!body.contains(PW), "{body}");
    }
    // An unreachable address, and a server that refuses our password (the default one).
    let (err, value) = last_scrape_error(&scrape("redis://127.0.0.1:1"));
    assert_eq!(value, 1.0);
    assert!(err.contains("Connection refused"), "{err}");
    let body = scrape(&other.addr());
    let (err, value) = last_scrape_error(&body);
    assert_eq!(value, 1.0);
    assert!(err.contains("authentication failed"), "{err}");
    assert!(
        !body.contains(PW) && !body.contains("another-password"),
        "{body}"
    );

    // Back: 0 and an empty err again.
    redis.restart();
    assert_eq!(last_scrape_error(&exp.metrics()), (String::new(), 0.0));
    assert_eq!(
        last_scrape_error(&scrape(&redis.addr())),
        (String::new(), 0.0)
    );
    assert!(!exp.logs().contains(PW));
}

#[test]
fn families_of_current_upstream_releases_from_a_real_redis() {
    let redis = Redis::start(&[]);
    redis.run_lines(
        "SET num 42
         -n 2 SET k v
         XADD s 1-1 f v
         XADD s 2-1 f v
         XGROUP CREATE s g1 0
         XREADGROUP GROUP g1 c1 COUNT 1 STREAMS s >",
    );
    let exp = Exporter::scraping(&redis.addr(), &["--check-streams", "s"]);
    let body = exp.metrics();
    let shapes = family_shapes(&body);
    for (name, kind) in [
        ("redis_max_clients", "gauge"),
        ("redis_memory_used_vm_eval_bytes", "gauge"),
        ("redis_memory_used_vm_functions_bytes", "gauge"),
        ("redis_memory_used_vm_total", "gauge"),
        ("redis_memory_used_functions_bytes", "gauge"),
        ("redis_memory_used_scripts_eval_bytes", "gauge"),
        ("redis_number_of_functions", "gauge"),
        ("redis_number_of_libraries", "gauge"),
        ("redis_mem_total_replication_buffers_bytes", "gauge"),
        ("redis_async_loading", "gauge"),
        ("redis_rdb_saves_total", "gauge"),
        ("redis_rdb_last_load_expired_keys", "gauge"),
        ("redis_rdb_last_load_loaded_keys", "gauge"),
        ("redis_net_repl_input_bytes_total", "counter"),
        ("redis_net_repl_output_bytes_total", "counter"),
        ("redis_expire_cycle_cpu_time_ms_total", "counter"),
        ("redis_evicted_clients_total", "counter"),
        ("redis_eviction_exceeded_time_ms_total", "counter"),
        ("redis_current_eviction_exceeded_time_ms", "gauge"),
        ("redis_pubsubshard_channels", "gauge"),
        ("redis_reply_buffer_shrinks_total", "counter"),
        ("redis_reply_buffer_expands_total", "counter"),
        ("redis_config_client_output_buffer_limit_bytes", "gauge"),
        (
            "redis_config_client_output_buffer_limit_overcome_seconds",
            "gauge",
        ),
        ("redis_stream_first_entry_id", "gauge"),
        ("redis_stream_last_entry_id", "gauge"),
        ("redis_stream_max_deleted_entry_id", "gauge"),
        ("redis_stream_group_entries_read", "gauge"),
        ("redis_stream_group_lag", "gauge"),
        ("redis_commands_latencies_usec", "histogram"),
    ] {
        match shapes.get(name) {
            Some(shape) => assert_eq!(shape.kind, kind, "{name}"),
            None => panic!("{name} missing from\n{body}"),
        }
    }
    assert_eq!(sample_value(&body, "redis_max_clients", &[]), Some(10000.0));
    // LATENCY HISTOGRAM: the SETs above, with INFO's time as the sum.
    let set = [("cmd", "set")];
    assert_eq!(
        sample_value(&body, "redis_commands_latencies_usec_count", &set),
        Some(2.0)
    );
    assert_eq!(
        sample_value(
            &body,
            "redis_commands_latencies_usec_bucket",
            &[("cmd", "set"), ("le", "+Inf")]
        ),
        Some(2.0)
    );
    assert!(sample_value(&body, "redis_commands_latencies_usec_sum", &set).unwrap() > 0.0);
    let labels = [("db", "db0"), ("stream", "s")];
    assert_eq!(
        sample_value(&body, "redis_stream_first_entry_id", &labels),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&body, "redis_stream_last_entry_id", &labels),
        Some(2.0)
    );
    let group = [("db", "db0"), ("stream", "s"), ("group", "g1")];
    assert_eq!(
        sample_value(&body, "redis_stream_group_entries_read", &group),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&body, "redis_stream_group_lag", &group),
        Some(1.0)
    );
    assert_eq!(
        sample_value(
            &body,
            "redis_config_client_output_buffer_limit_overcome_seconds",
            &[("class", "pubsub"), ("limit", "soft")]
        ),
        Some(60.0)
    );
    let replid = redis
        .cli(None, &["INFO", "replication"])
        .lines()
        .find_map(|l| l.trim().strip_prefix("master_replid:").map(str::to_string))
        .unwrap();
    assert_eq!(
        sample_value(&body, "redis_instance_info", &[("master_replid", &replid)]),
        Some(1.0)
    );
}

#[test]
fn upstream_behaviour_flags_against_a_real_redis() {
    let redis = Redis::start(&[]);
    redis.run_lines(
        "SET num 42
         -n 2 SET k v
         XADD s * f v
         XGROUP CREATE s g1 0
         XREADGROUP GROUP g1 c1 COUNT 1 STREAMS s >",
    );
    let exp = Exporter::scraping(
        &redis.addr(),
        &[
            "-include-metrics-for-empty-databases=false",
            "-check-single-keys=num",
            "-disable-exporting-key-values",
            "-check-streams=s",
            "-streams-exclude-consumer-metrics",
            "-export-client-list",
            "-export-client-port",
            "-config-command=-",
            "-exclude-latency-histogram-metrics",
        ],
    );
    let body = exp.metrics();
    let dbs: Vec<String> = samples(&body)
        .into_iter()
        .filter(|(n, _, _)| n == "redis_db_keys")
        .flat_map(|(_, l, _)| l.into_iter().map(|(_, v)| v))
        .collect();
    assert_eq!(dbs, ["db0", "db2"], "only databases with keys");
    assert_eq!(
        sample_value(&body, "redis_key_size", &[("key", "num")]),
        Some(2.0)
    );
    assert!(!body.contains("redis_key_value"), "{body}");
    assert!(
        body.contains("redis_stream_group_messages_pending"),
        "{body}"
    );
    assert!(!body.contains("redis_stream_group_consumer_"), "{body}");
    let shapes = family_shapes(&body);
    assert!(shapes["redis_connected_clients_details"]
        .label_names
        .contains("port"));
    assert!(!body.contains("redis_config_"), "CONFIG skipped: {body}");
    assert_eq!(last_scrape_error(&body), (String::new(), 0.0));

    assert!(!body.contains("redis_commands_latencies_usec"), "{body}");

    // Every setting with --include-config-metrics, and never a password.
    let secret = Redis::start(&["--requirepass", "pw-config-secret"]);
    let config = Exporter::scraping(
        &secret.addr(),
        &[
            "--redis.password",
            "pw-config-secret",
            "--include-config-metrics",
            "--redact-config-metrics=false",
        ],
    );
    let body = config.metrics();
    assert_eq!(
        sample_value(&body, "redis_config_value", &[("key", "maxclients")]),
        Some(10000.0),
        "{body}"
    );
    assert_eq!(
        sample_value(
            &body,
            "redis_config_key_value",
            &[("key", "appendonly"), ("value", "no")]
        ),
        Some(1.0)
    );
    assert!(!body.contains("pw-config-secret"), "{body}");
    assert!(!body.contains("requirepass"), "{body}");

    // CONFIG renamed on the server: --config-command follows it.
    let renamed = Redis::start(&["--rename-command", "CONFIG", "SECRETCONFIG"]);
    let plain = Exporter::scraping(&renamed.addr(), &[]);
    assert!(!plain.metrics().contains("redis_config_maxmemory"));
    let follows = Exporter::scraping(&renamed.addr(), &["--config-command", "SECRETCONFIG"]);
    assert!(follows.metrics().contains("redis_config_maxmemory"));

    // Key checks skipped on a master, as asked.
    let skip = Exporter::scraping(
        &redis.addr(),
        &[
            "--check-single-keys=num",
            "--skip-checkkeys-for-role-master",
        ],
    );
    assert!(!skip.metrics().contains("redis_key_size"));

    // --is-tile38 against Redis (Tile38 is not installable here): Redis refuses SERVER, the
    // scrape goes on, no tile38_* family, and the error says why.
    let tile = Exporter::scraping(&redis.addr(), &["--is-tile38"]);
    let body = tile.metrics();
    assert_eq!(sample_value(&body, "redis_up", &[]), Some(1.0));
    assert!(!body.contains("redis_tile38_"), "{body}");
    let (err, value) = last_scrape_error(&body);
    assert_eq!(value, 1.0);
    assert!(
        err.starts_with("tile38: SERVER: ERR unknown command"),
        "{err}"
    );
}
