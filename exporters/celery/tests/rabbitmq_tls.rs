//! `amqps://` against a REAL rabbitmq-server with a TLS listener (a CA and a server certificate
//! from the test kit's `TestPki`): the exporter, given the CA as on Redis (`?ssl_ca_certs=`),
//! connects over rustls and counts a real Celery worker's events exactly; with another CA it
//! refuses the broker. The password appears in no log and no metric either way.

mod common;

use std::time::Duration;

use common::rabbitmq::RabbitMq;
use common::{free_port, sample_value, task_labels, CeleryEnv, Exporter};
use exporter_core::testkit::pki::TestPki;

const T: Duration = Duration::from_secs(40);
const PASSWORD: &str = "Tls0nlySecretPw";

#[test]
fn amqps_with_the_brokers_ca_counts_events_and_another_ca_is_refused() {
    if !RabbitMq::available() {
        return;
    }
    let pki = TestPki::new("test-ca");
    let (crt, key) = pki.issue("rabbitmq", &["127.0.0.1"]);
    let other_pki = TestPki::new("other-ca");
    let (ca, other_ca) = (pki.ca(), other_pki.ca());
    let tls_port = free_port();
    let rabbit = RabbitMq::start_with(&format!(
        "listeners.ssl.default = 127.0.0.1:{tls_port}\n\
         ssl_options.cacertfile = {ca}\n\
         ssl_options.certfile = {crt}\n\
         ssl_options.keyfile = {key}\n\
         ssl_options.verify = verify_none\n\
         ssl_options.fail_if_no_peer_cert = false\n"
    ));
    rabbit.ctl(&["add_user", "monitor", PASSWORD]);
    rabbit.ctl(&["set_permissions", "-p", "/", "monitor", ".*", ".*", ".*"]);
    let url =
        |ca: &str| format!("amqps://monitor:{PASSWORD}@127.0.0.1:{tls_port}//?ssl_ca_certs={ca}");
    let exporter = Exporter::start(&url(&ca), &[]);
    let wrong_ca = Exporter::start(&url(&other_ca), &[]);
    exporter.wait_value("celery_up", &[], 1.0, T);

    // The worker and client on the plain listener; the exporter reads the same exchange over TLS.
    let env = CeleryEnv::new(&rabbit.url());
    let _worker = env.worker("w1", &["-E", "-c", "2"]);
    env.client(
        "for i in range(3): app.add.delay(i, i)\n\
         for i in range(2): app.fail.delay('bad')\n",
    );
    exporter.wait_tasks("tests.add", "SUCCESS", 3.0, T);
    exporter.wait_tasks("tests.fail", "FAILURE", 2.0, T);
    exporter.wait_tasks("tests.add", "PENDING", 3.0, T);
    exporter.wait_value("celery_queue_length", &[("queue", "celery")], 0.0, T);
    let text = exporter.scrape();
    assert_eq!(
        sample_value(
            &text,
            "celery_tasks_total",
            &task_labels("tests.fail", "SUCCESS")
        ),
        Some(0.0),
        "{text}"
    );

    // The certificate is not signed by the CA it was given: never up, the reason logged.
    let refused = wrong_ca.scrape();
    assert_eq!(
        sample_value(&refused, "celery_up", &[]),
        Some(0.0),
        "{refused}"
    );
    let log = wrong_ca.log_text();
    assert!(
        log.contains("amqps://monitor:<secret>@127.0.0.1") && log.to_lowercase().contains("cert"),
        "{log}"
    );
    for body in [text, refused, log, exporter.log_text()] {
        assert!(!body.contains(PASSWORD), "{body}");
    }
}
