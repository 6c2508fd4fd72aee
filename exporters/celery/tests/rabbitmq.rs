//! The exporter against a REAL rabbitmq-server (Debian's 3.10) and a real Celery 5.4 prefork
//! worker and client on it: exact counts, workers going down, queue depth (passive declare and
//! the management API, a priority queue), a broker restart, malformed messages on the
//! `celeryev` exchange, danihodovic/celery-exporter's names, and the password kept out of
//! everything.

mod common;

use std::time::{Duration, Instant};

use common::rabbitmq::{on_rabbitmq, RabbitMq};
use common::{
    assert_promtool_clean, collector_success, promtool_findings, sample_value, CeleryEnv, Exporter,
};

const T: Duration = Duration::from_secs(30);

/// A `python -c` snippet publishing raw messages to the celeryev exchange with py-amqp.
fn publish_raw(env: &CeleryEnv, messages: &[(&str, &str)]) {
    let mut code = String::from(
        "import amqp, os\n\
         from urllib.parse import urlparse\n\
         u = urlparse(os.environ['CELERY_BROKER_URL'])\n\
         c = amqp.Connection(host=f'{u.hostname}:{u.port}', userid=u.username, password=u.password, virtual_host='/')\n\
         c.connect()\n\
         ch = c.channel()\n\
         ch.exchange_declare('celeryev', 'topic', durable=True, auto_delete=False)\n",
    );
    for (content_type, body) in messages {
        code.push_str(&format!(
            "ch.basic_publish(amqp.Message({body:?}.encode(), content_type={content_type:?}, content_encoding='utf-8'), exchange='celeryev', routing_key='task.garbage')\n"
        ));
    }
    code.push_str("c.close()\n");
    env.client(&code);
}

#[test]
fn counts_workers_and_malformed_messages() {
    let Some((_rabbit, exporter, env)) = on_rabbitmq(&["--worker-timeout", "3s"]) else {
        return;
    };
    exporter.wait_value("celery_up", &[], 1.0, T);

    let mut worker = env.worker("w1", &["-E", "-c", "2", "--heartbeat-interval", "1"]);
    exporter.wait_value("celery_workers", &[], 1.0, T);
    env.client(
        "for i in range(5): app.add.delay(i, i)\n\
         for i in range(3): app.fail.delay('bad')\n\
         for i in range(2): app.flaky.delay(1)\n",
    );
    for (name, state, want) in [
        ("tests.add", "SUCCESS", 5.0),
        ("tests.add", "PENDING", 5.0),
        ("tests.fail", "FAILURE", 3.0),
        ("tests.flaky", "RETRY", 2.0),
        ("tests.flaky", "SUCCESS", 2.0),
        // A retry is sent, received and started again under the same uuid.
        ("tests.flaky", "STARTED", 4.0),
        ("tests.flaky", "PENDING", 4.0),
    ] {
        exporter.wait_tasks(name, state, want, T);
    }
    let text = exporter.scrape();
    assert_eq!(
        sample_value(
            &text,
            "celery_task_runtime_seconds_count",
            &[("name", "tests.add"), ("queue", "celery")]
        ),
        Some(5.0)
    );
    assert_eq!(
        sample_value(
            &text,
            "celery_tasks_total",
            &[("name", "tests.add"), ("state", "FAILURE")]
        ),
        Some(0.0)
    );
    assert!(!text.contains("queue=\"unknown\""), "{text}");

    // Garbage, pickle and a batch with one bad element, straight onto the exchange.
    let before = exporter
        .value("celery_exporter_events_received_total", &[])
        .unwrap();
    publish_raw(
        &env,
        &[
            ("application/json", "not json"),
            ("application/x-python-serialize", "pickled bytes"),
            (
                "application/json",
                r#"[{"type":"worker-heartbeat","hostname":"ghost@x","freq":60,"active":0,"processed":0}, 17]"#,
            ),
        ],
    );
    exporter.wait_value(
        "celery_exporter_messages_undecodable_total",
        &[("reason", "body")],
        1.0,
        T,
    );
    exporter.wait_value(
        "celery_exporter_messages_undecodable_total",
        &[("reason", "pickle")],
        1.0,
        T,
    );
    exporter.wait_value(
        "celery_exporter_messages_undecodable_total",
        &[("reason", "event")],
        1.0,
        T,
    );
    assert!(
        exporter
            .value("celery_exporter_events_received_total", &[])
            .unwrap()
            > before
    );
    assert_promtool_clean(&exporter.scrape());

    // SIGKILL: no worker-offline; down by the heartbeat rule (2 x 1 s), well within the 3 s
    // --worker-timeout plus a scrape.
    let killed = Instant::now();
    worker.kill_group();
    exporter.wait_worker_up("w1@test", 0.0, T);
    assert!(killed.elapsed() < Duration::from_secs(10));
    exporter.wait_value("celery_workers", &[], 0.0, T);
}

#[test]
fn queue_depth_by_passive_declare_and_management_api() {
    if !RabbitMq::available() {
        return;
    }
    let rabbit = RabbitMq::start();
    let env = CeleryEnv::new(&rabbit.url());
    // No worker: everything stays queued. `prio` is a priority queue (one RabbitMQ queue for
    // every priority).
    env.client(
        "from kombu import Queue\n\
         app.app.conf.task_queues = [Queue('celery'), Queue('prio', queue_arguments={'x-max-priority': 10})]\n\
         for i in range(5): app.add.delay(i, i)\n\
         for p in (0, 3, 5, 9): app.add.apply_async((p, p), queue='prio', priority=p)\n",
    );
    let declare = Exporter::start(&rabbit.url(), &["--queues", "celery,prio,absent"]);
    declare.wait_value("celery_queue_length", &[("queue", "celery")], 5.0, T);
    declare.wait_value("celery_queue_length", &[("queue", "prio")], 4.0, T);
    declare.wait_value("celery_queue_consumers", &[("queue", "prio")], 0.0, T);
    let text = declare.scrape();
    // A queue that does not exist is not reported, and does not fail the others.
    assert!(!text.contains("queue=\"absent\""), "{text}");
    assert_eq!(collector_success(&text, "queues"), Some(1.0));

    let api = Exporter::start(
        &rabbit.url(),
        &["--rabbitmq-management-url", &rabbit.management_url()],
    );
    // The management API's statistics lag by up to collect_statistics_interval.
    api.wait_value("celery_queue_length", &[("queue", "celery")], 5.0, T);
    api.wait_value("celery_queue_length", &[("queue", "prio")], 4.0, T);
    api.wait_value("celery_queue_unacked", &[], 0.0, T);
    let text = api.scrape();
    // Celery's own queues (the exporter's event queue, pidbox) are not task queues.
    assert!(!text.contains("celeryev."), "{text}");
}

#[test]
fn broker_restart_reconnects_and_counters_continue() {
    let Some((mut rabbit, exporter, env)) = on_rabbitmq(&[]) else {
        return;
    };
    exporter.wait_value("celery_up", &[], 1.0, T);
    let _worker = env.worker("w1", &["-E", "-c", "1", "--heartbeat-interval", "1"]);
    exporter.wait_value("celery_workers", &[], 1.0, T);
    env.client("for i in range(3): app.add.delay(i, i)\n");
    exporter.wait_tasks("tests.add", "SUCCESS", 3.0, T);

    rabbit.stop();
    exporter.wait_value("celery_up", &[], 0.0, T);
    // Task and worker series stay while the broker is away.
    assert_eq!(
        exporter.value(
            "celery_tasks_total",
            &[
                ("name", "tests.add"),
                ("state", "SUCCESS"),
                ("queue", "celery")
            ]
        ),
        Some(3.0)
    );
    rabbit.start_again();
    exporter.wait_reconnected(Duration::from_secs(60));
    // The worker reconnects by itself (broker_connection_retry); its next tasks add up.
    exporter.wait_value("celery_workers", &[], 1.0, Duration::from_secs(60));
    env.client("for i in range(2): app.add.delay(i, i)\n");
    exporter.wait_tasks("tests.add", "SUCCESS", 5.0, Duration::from_secs(60));
}

#[test]
fn celery_exporter_names_on_rabbitmq() {
    let Some((_rabbit, exporter, env)) = on_rabbitmq(&["--metrics", "celery-exporter"]) else {
        return;
    };
    let _worker = env.worker("w1", &["-E", "-c", "2", "--heartbeat-interval", "1"]);
    // A second worker with 3 processes on `celery` and on a queue no task names: upstream's
    // counts come from the workers' answers to `active_queues` and `stats`.
    let _worker2 = env.worker("w2", &["-E", "-c", "3", "-Q", "celery,extra"]);
    env.client(
        "for i in range(4): app.add.delay(i, i)\n\
         app.fail.delay('bad')\n\
         app.flaky.delay(1)\n",
    );
    let labels = |name| {
        [
            ("name", name),
            ("hostname", "test"),
            ("queue_name", "celery"),
        ]
    };
    exporter.wait_value("celery_task_succeeded_total", &labels("tests.add"), 4.0, T);
    exporter.wait_value("celery_task_received_total", &labels("tests.add"), 4.0, T);
    exporter.wait_value("celery_task_retried_total", &labels("tests.flaky"), 1.0, T);
    exporter.wait_value(
        "celery_task_failed_total",
        &[
            ("name", "tests.fail"),
            ("hostname", "test"),
            ("exception", "ValueError"),
            ("queue_name", "celery"),
        ],
        1.0,
        T,
    );
    exporter.wait_value("celery_task_runtime_count", &labels("tests.add"), 4.0, T);
    exporter.wait_worker_up("test", 1.0, T);
    exporter.wait_value("celery_queue_length", &[("queue_name", "celery")], 0.0, T);
    exporter.wait_value(
        "celery_active_consumer_count",
        &[("queue_name", "celery")],
        2.0,
        T,
    );
    for (queue, workers, processes) in [("celery", 2.0, 5.0), ("extra", 1.0, 3.0)] {
        let q = [("queue_name", queue)];
        exporter.wait_value("celery_active_process_count", &q, processes, T);
        exporter.wait_value("celery_active_worker_count", &q, workers, T);
    }
    exporter.wait_value("celery_queue_length", &[("queue_name", "extra")], 0.0, T);
    let text = exporter.scrape();
    // Ours are off: the same names with other labels would clash.
    assert!(!text.contains("celery_tasks_total"), "{text}");
    assert!(!text.contains("hostname=\"w1@test\""), "{text}");
    // task-sent's hostname is the producer's host part, as upstream.
    assert!(sample_value(&text, "celery_task_sent_total", &[("name", "tests.add")]).is_some());
    if let Some(findings) = promtool_findings(&text) {
        // Upstream's names, quirks included: a histogram without a unit suffix, gauges ending in
        // `_count`.
        let real: Vec<&str> = findings
            .lines()
            .filter(|l| {
                !l.trim().is_empty()
                    && !l.contains("celery_task_runtime")
                    && !l.starts_with("celery_active_consumer_count")
                    && !l.starts_with("celery_active_worker_count")
                    && !l.starts_with("celery_active_process_count")
            })
            .collect();
        assert!(real.is_empty(), "promtool: {findings}");
    }
}

#[test]
fn passwords_stay_secret_and_a_refused_login_is_up_0() {
    if !RabbitMq::available() {
        return;
    }
    let rabbit = RabbitMq::start();
    let out = rabbit.ctl(&["add_user", "monitor", "Sup3rSecretPw"]);
    assert!(out.contains("monitor"), "{out}");
    rabbit.ctl(&["set_permissions", "-p", "/", "monitor", ".*", ".*", ".*"]);
    let good = format!(
        "amqp://monitor:Sup3rSecretPw@127.0.0.1:{}//",
        rabbit.amqp_port
    );
    let exporter = Exporter::start(&good, &[]);
    exporter.wait_value("celery_up", &[], 1.0, T);

    let bad = format!(
        "amqp://monitor:WrongSecretPw@127.0.0.1:{}//",
        rabbit.amqp_port
    );
    let refused = Exporter::start(&bad, &[]);
    std::thread::sleep(Duration::from_secs(2));
    let text = refused.scrape();
    assert_eq!(sample_value(&text, "celery_up", &[]), Some(0.0));
    assert_eq!(collector_success(&text, "queues"), Some(0.0));
    for (what, body) in [
        ("metrics", text),
        ("log", refused.log_text()),
        ("log", exporter.log_text()),
        ("metrics", exporter.scrape()),
    ] {
        assert!(!body.contains("Sup3rSecretPw"), "{what}: {body}");
        assert!(!body.contains("WrongSecretPw"), "{what}: {body}");
    }
    assert!(
        refused
            .log_text()
            .contains("amqp://monitor:<secret>@127.0.0.1"),
        "{}",
        refused.log_text()
    );
}

#[test]
fn enable_events_turns_task_events_on() {
    let Some((_rabbit, exporter, env)) =
        on_rabbitmq(&["--enable-events", "--enable-events-interval", "1s"])
    else {
        return;
    };
    // No -E: only worker events until the broadcast reaches the worker's pidbox queue.
    let worker = env.worker("w1", &["-c", "1", "--heartbeat-interval", "1"]);
    exporter.wait_value("celery_workers", &[], 1.0, T);
    let start = Instant::now();
    while !worker.log_text().contains("enabled by remote") {
        assert!(
            start.elapsed() < T,
            "no enable_events broadcast reached the worker:\n{}",
            worker.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    env.client("for i in range(2): app.add.delay(i, i)\n");
    exporter.wait_tasks("tests.add", "SUCCESS", 2.0, T);
}
