//! Against a REAL Celery: a prefork worker and a client (celery 5.4.0 from a venv made by
//! tests/celery/setup-venv.sh) on a real redis-server, with the exporter binary reading them.

mod common;

use std::time::{Duration, Instant};

use common::*;
use exporter_core::base64;

const T: Duration = Duration::from_secs(40);

fn envelope(body: &[u8], content_type: &str) -> Vec<u8> {
    format!(
        r#"{{"body": "{}", "content-encoding": "utf-8", "content-type": "{content_type}", "headers": {{"hostname": "x"}}, "properties": {{"body_encoding": "base64", "delivery_info": {{"exchange": "celeryev", "routing_key": "task.multi"}}}}}}"#,
        base64::encode(body)
    )
    .into_bytes()
}

/// Everything a hostile or broken publisher could put on the event channel.
fn publish_malformed(redis_port: u16) {
    // 2 MiB of an unterminated array: decoded, found wanting, dropped.
    let mut big_body = b"[".to_vec();
    big_body.extend(std::iter::repeat_n(&b"1,"[..], 1024 * 1024).flatten());
    let huge = envelope(&big_body, "application/json");
    let messages: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        Vec::new(),
        vec![0xff, 0x00, 0xfe, b'{'],
        br#"{"body": "#.to_vec(),
        envelope(b"\x80\x04\x95pickle", "application/x-python-serialize"),
        br#"{"body": "!!!", "content-type": "application/json", "properties": {"body_encoding": "base64"}}"#.to_vec(),
        envelope(br#"[{"type": "task-started"}, 7, {"type": "task-succeeded", "uuid": 5}]"#, "application/json"),
        envelope(br#"{"type": "worker-heartbeat", "hostname": "w1@test", "freq": "often"}"#, "application/json"),
        huge,
    ];
    for (i, m) in messages.iter().enumerate() {
        let channel = if i % 2 == 0 {
            "/0.celeryev/task.multi"
        } else {
            "/0.celeryev/worker.heartbeat"
        };
        let reply = redis_cmd(redis_port, &[b"PUBLISH", channel.as_bytes(), m]);
        assert!(
            reply.starts_with(b":"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
}

#[test]
fn counts_are_exact_and_graceful_stop_is_seen_at_once() {
    let (redis, exporter, celery) = on_redis(&["--queue-discovery-interval", "1s"]);
    // Heartbeats every 5 s: the timeout (10 s) cannot be what marks it down after SIGTERM.
    let mut worker = celery.worker("w1", &["-E", "-c", "2", "--heartbeat-interval", "5"]);
    exporter.wait_value("celery_workers", &[], 1.0, T);
    exporter.wait_worker_up("w1@test", 1.0, T);
    assert_eq!(exporter.value("celery_up", &[]), Some(1.0));

    publish_malformed(redis.port);
    let (n, m, r) = (5, 3, 2);
    celery.client(&format!(
        "for i in range({n}): app.add.delay(i, i)\n\
         for i in range({m}): app.fail.delay('bad')\n\
         for i in range({r}): app.flaky.delay(1)\n"
    ));
    for (name, state, want) in [
        ("tests.add", "SUCCESS", n),
        ("tests.fail", "FAILURE", m),
        ("tests.flaky", "RETRY", r),
        ("tests.flaky", "SUCCESS", r),
    ] {
        exporter.wait_tasks(name, state, want as f64, T);
    }
    // Past the attribution grace: nothing more arrives, nothing lands under another queue.
    std::thread::sleep(Duration::from_millis(2500));
    let text = exporter.scrape();
    let v = |name: &str, state: &str| {
        sample_value(&text, "celery_tasks_total", &task_labels(name, state))
    };
    let n = n as f64;
    let (m, r) = (m as f64, r as f64);
    for (name, state, want) in [
        ("tests.add", "PENDING", n),
        ("tests.add", "RECEIVED", n),
        ("tests.add", "STARTED", n),
        ("tests.add", "SUCCESS", n),
        ("tests.add", "FAILURE", 0.0),
        ("tests.add", "RETRY", 0.0),
        ("tests.fail", "PENDING", m),
        ("tests.fail", "STARTED", m),
        ("tests.fail", "FAILURE", m),
        ("tests.fail", "SUCCESS", 0.0),
        // A retry is sent, received and started again under the same uuid.
        ("tests.flaky", "PENDING", 2.0 * r),
        ("tests.flaky", "RECEIVED", 2.0 * r),
        ("tests.flaky", "STARTED", 2.0 * r),
        ("tests.flaky", "RETRY", r),
        ("tests.flaky", "SUCCESS", r),
        ("tests.flaky", "FAILURE", 0.0),
    ] {
        assert_eq!(v(name, state), Some(want), "{name} {state}");
    }
    assert!(!text.contains("queue=\"unknown\""), "{text}");
    let hist =
        |fam: &str, name: &str| sample_value(&text, fam, &[("name", name), ("queue", "celery")]);
    assert_eq!(
        hist("celery_task_runtime_seconds_count", "tests.add"),
        Some(n)
    );
    assert_eq!(
        hist("celery_task_runtime_seconds_count", "tests.flaky"),
        Some(r)
    );
    assert_eq!(
        hist("celery_task_runtime_seconds_count", "tests.fail"),
        Some(0.0)
    );
    assert_eq!(
        hist("celery_task_queue_wait_seconds_count", "tests.add"),
        Some(n)
    );
    assert!(hist("celery_task_queue_wait_seconds_sum", "tests.add").unwrap() >= 0.0);
    assert!(sample_value(
        &text,
        "celery_worker_tasks_processed",
        &[("hostname", "w1@test")]
    )
    .is_some());

    // The malformed messages were counted, and broke nothing.
    let undecodable = |reason: &str| {
        sample_value(
            &text,
            "celery_exporter_messages_undecodable_total",
            &[("reason", reason)],
        )
        .unwrap()
    };
    assert_eq!(undecodable("garbage"), 4.0, "{text}");
    assert_eq!(undecodable("pickle"), 1.0);
    assert_eq!(undecodable("base64"), 1.0);
    assert_eq!(
        undecodable("body"),
        2.0,
        "bad heartbeat field type, oversized body"
    );
    assert_eq!(undecodable("event"), 3.0);
    assert_eq!(sample_value(&text, "celery_up", &[]), Some(1.0));
    assert_eq!(
        sample_value(&text, "celery_exporter_broker_reconnects_total", &[]),
        Some(0.0)
    );
    assert!(
        text.contains("celery_queue_length{queue=\"celery\"} 0"),
        "{text}"
    );
    assert_eq!(collector_success(&text, "queues"), Some(1.0));
    assert_promtool_clean(&text);

    // Graceful stop: worker-offline marks it down at once (well before the 10 s timeout).
    worker.signal_leader(libc::SIGTERM);
    assert!(
        worker.wait_exit(Duration::from_secs(20)),
        "worker did not stop"
    );
    let stopped = Instant::now();
    exporter.wait_value("celery_workers", &[], 0.0, Duration::from_secs(3));
    exporter.wait_worker_up("w1@test", 0.0, Duration::from_secs(1));
    assert!(stopped.elapsed() < Duration::from_secs(3));
    let log = worker.log_text();
    assert!(log.contains("succeeded"), "{log}");
}

#[test]
fn sigkilled_worker_times_out_and_broker_restart_is_survived() {
    let (mut redis, exporter, celery) = on_redis(&["--flower-metrics"]);
    exporter.wait_value("celery_up", &[], 1.0, T);
    let mut worker = celery.worker("w2", &["-E", "-c", "1", "--heartbeat-interval", "1"]);
    exporter.wait_value("celery_workers", &[], 1.0, T);
    celery.client("for i in range(2): app.add.delay(i, 1)");
    exporter.wait_tasks("tests.add", "SUCCESS", 2.0, T);

    // Broker down: celery_up 0 and a 200 all the same; back: reconnected, counters go on.
    redis.stop();
    exporter.wait_value("celery_up", &[], 0.0, Duration::from_secs(10));
    redis.restart();
    exporter.wait_reconnected(Duration::from_secs(20));
    // The worker reconnects on its own and its heartbeats resume.
    exporter.wait_value("celery_workers", &[], 1.0, T);
    celery.client("for i in range(3): app.add.delay(i, 2)");
    exporter.wait_tasks("tests.add", "SUCCESS", 5.0, T);
    exporter.wait_value(
        "flower_events_total",
        &[
            ("worker", "w2@test"),
            ("type", "task-succeeded"),
            ("task", "tests.add"),
        ],
        5.0,
        T,
    );

    // SIGKILL: no worker-offline; the heartbeat timeout (2 x 1 s) must catch it.
    exporter.wait_value("celery_workers", &[], 1.0, T);
    worker.kill_group();
    let killed = Instant::now();
    exporter.wait_value("celery_workers", &[], 0.0, Duration::from_secs(6));
    let took = killed.elapsed();
    assert!(
        took <= Duration::from_millis(2 * 1000 + 1500),
        "took {took:?}"
    );
    assert_eq!(
        exporter.value("celery_worker_up", &[("hostname", "w2@test")]),
        Some(0.0)
    );
    // Flower's own flower_worker_online would stay 1 forever here; ours follows the timeout.
    let text = exporter.scrape();
    assert_eq!(
        sample_value(&text, "flower_worker_online", &[("worker", "w2@test")]),
        Some(0.0)
    );
    assert_eq!(
        sample_value(
            &text,
            "flower_task_runtime_seconds_count",
            &[("worker", "w2@test"), ("task", "tests.add")]
        ),
        Some(5.0)
    );
    assert_eq!(
        sample_value(
            &text,
            "flower_events_total",
            &[
                ("worker", "producer"),
                ("type", "task-sent"),
                ("task", "tests.add")
            ]
        ),
        Some(5.0)
    );
    assert_promtool_clean(&text);
}

#[test]
fn queue_depth_unacked_and_enable_events_with_a_key_prefix() {
    let (redis, exporter, mut celery) = on_redis(&[
        "--enable-events",
        "--enable-events-interval",
        "1s",
        "--queues",
        "extra,held",
        "--queue-discovery-interval",
        "1s",
        "--broker-transport-option",
        "global_keyprefix=pfx:",
    ]);
    exporter.wait_value("celery_up", &[], 1.0, T);
    celery.keyprefix = Some("pfx:".into());

    // No worker yet: what was sent, at several priorities, is what is queued.
    celery.client(
        "for p, n in [(0, 3), (3, 2), (5, 1), (9, 4)]:\n\
         \x20   for i in range(n): app.sleep.apply_async((0,), priority=p)\n\
         for i in range(2): app.add.apply_async((1, 1), queue='held')\n",
    );
    exporter.wait_value("celery_queue_length", &[("queue", "celery")], 10.0, T);
    let text = exporter.scrape();
    assert_eq!(
        sample_value(&text, "celery_queue_length", &[("queue", "held")]),
        Some(2.0)
    );
    assert_eq!(
        sample_value(&text, "celery_queue_length", &[("queue", "extra")]),
        Some(0.0)
    );
    assert_eq!(sample_value(&text, "celery_queue_unacked", &[]), Some(0.0));
    // The messages really are spread over prefixed priority lists.
    assert_eq!(redis_cmd(redis.port, &[b"LLEN", b"celery"]), b":0\r\n");
    assert_eq!(
        redis_cmd(redis.port, &[b"LLEN", b"pfx:celery\x06\x169"]),
        b":4\r\n"
    );
    assert_eq!(
        sample_value(
            &text,
            "celery_tasks_total",
            &[("name", "tests.sleep"), ("state", "PENDING")]
        ),
        Some(10.0),
        "task-sent events reach us through the prefixed channel"
    );

    // A worker without -E: --enable-events turns its task events on.
    let worker = celery.worker("w3", &["-c", "1", "-Q", "celery"]);
    exporter.wait_value("celery_workers", &[], 1.0, T);
    wait_for("events enabled by remote", T, || {
        worker
            .log_text()
            .contains("enabled by remote")
            .then_some(())
    });
    exporter.wait_value("celery_queue_length", &[("queue", "celery")], 0.0, T);
    celery.client("for i in range(4): app.add.delay(i, i)");
    exporter.wait_tasks("tests.add", "SUCCESS", 4.0, T);
    exporter.wait_tasks("tests.add", "RECEIVED", 4.0, T);

    // One task runs, one is prefetched (unacked), one waits in the queue.
    celery.client("for i in range(3): app.sleep.delay(30)");
    exporter.wait_value("celery_queue_unacked", &[], 1.0, T);
    exporter.wait_value("celery_queue_length", &[("queue", "celery")], 1.0, T);
    exporter.wait_value(
        "celery_worker_tasks_active",
        &[("hostname", "w3@test")],
        1.0,
        T,
    );
    assert_eq!(
        exporter.value("celery_queue_length", &[("queue", "held")]),
        Some(2.0)
    );
}

#[test]
fn queues_named_by_task_events_are_measured_from_the_next_scrape() {
    // Started before any worker: the first scrape's discovery walk finds no binding, and the
    // next one is an hour away.
    let (_redis, exporter, celery) = on_redis(&["--queue-discovery-interval", "1h"]);
    exporter.wait_value("celery_up", &[], 1.0, T);
    let text = exporter.scrape();
    assert!(!text.contains("celery_queue_length{"), "{text}");

    let _worker = celery.worker("w5", &["-E", "-c", "1", "-Q", "fresh"]);
    exporter.wait_value("celery_workers", &[], 1.0, T);
    celery.client(
        "for i in range(3): app.add.apply_async((i, i), queue='fresh')\n\
         for i in range(2): app.add.apply_async((1, 1), queue='parked')\n",
    );
    // The client publishes each message before its task-sent event: once both task-sent events
    // of `parked` are counted, both messages are in its list.
    let pending_parked = [
        ("name", "tests.add"),
        ("state", "PENDING"),
        ("queue", "parked"),
    ];
    exporter.wait_value("celery_tasks_total", &pending_parked, 2.0, T);
    let text = exporter.scrape();
    assert_eq!(
        sample_value(&text, "celery_queue_length", &[("queue", "parked")]),
        Some(2.0),
        "{text}"
    );
    assert!(
        sample_value(&text, "celery_queue_length", &[("queue", "fresh")]).is_some(),
        "{text}"
    );
    // The worker drains the queue it consumes; the length follows.
    let success_fresh = [
        ("name", "tests.add"),
        ("state", "SUCCESS"),
        ("queue", "fresh"),
    ];
    exporter.wait_value("celery_tasks_total", &success_fresh, 3.0, T);
    exporter.wait_value("celery_queue_length", &[("queue", "fresh")], 0.0, T);
}

#[test]
fn celery_exporter_names_ask_the_workers_for_processes_with_a_key_prefix() {
    let (redis, exporter, mut celery) = on_redis(&[
        "--metrics",
        "celery-exporter",
        "--broker-transport-option",
        "global_keyprefix=pfx:",
    ]);
    celery.keyprefix = Some("pfx:".into());
    // No event needed (no -E): the counts are the workers' answers to `stats` (pool processes)
    // and `active_queues`, broadcast on the pidbox channel and replied to our list.
    let _w1 = celery.worker("w1", &["-c", "2"]);
    let _w2 = celery.worker("w2", &["-c", "3", "-Q", "celery,extra"]);
    for (queue, workers, processes) in [("celery", 2.0, 5.0), ("extra", 1.0, 3.0)] {
        let q = [("queue_name", queue)];
        exporter.wait_value("celery_active_process_count", &q, processes, T);
        exporter.wait_value("celery_active_worker_count", &q, workers, T);
        // Named by the answers only, so measured from then on, as upstream does.
        exporter.wait_value("celery_queue_length", &q, 0.0, T);
    }
    // Our reply list is bound like kombu's, under the prefix, and never reported as a queue.
    let members = redis_cmd(
        redis.port,
        &[b"SMEMBERS", b"pfx:_kombu.binding.reply.celery.pidbox"],
    );
    assert!(
        String::from_utf8_lossy(&members).contains(".reply.celery.pidbox"),
        "{}",
        String::from_utf8_lossy(&members)
    );
    let text = exporter.scrape();
    assert!(!text.contains("reply.celery.pidbox"), "{text}");
}
