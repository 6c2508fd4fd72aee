//! Faults injected into the live stack, each followed by its recovery. Every fault's alert must
//! reach exactly the receivers its severity routes to, through Prometheus and through vmalert,
//! then resolve. Tracks that touch different services run at the same time; within a service
//! they run one after another, because a critical alert inhibits the service's warnings.

use std::time::Duration;

use exporter_core::testkit::postgres::Postgres;
use exporter_core::testkit::wait_for;

use crate::observe::Evaluator::{Prometheus, Vmalert};
use crate::observe::{Mark, Observer, CRITICAL, WARNING};
use crate::stack::{Celery, Redis, StateDir, Web};

/// From a fault to its notification: the rule's window filling, `for:`, group_wait. From recovery
/// to the resolved notification: the 5 m rate windows diluting the bad samples.
const FIRE: Duration = Duration::from_secs(150);
const RESOLVE: Duration = Duration::from_secs(300);

/// The alert reached `receivers` through Prometheus, and through vmalert too (before recovery,
/// so that a short fault is seen by both evaluators).
fn fired(observer: &Observer, since: Mark, alert: &str, receivers: &[&str]) {
    observer.wait_delivered(since, Prometheus, alert, "firing", receivers, FIRE);
    observer.wait_delivered(since, Vmalert, alert, "firing", receivers, FIRE);
}

/// The alert resolved through both evaluators, so that the next fault of the track (or the Redis
/// fault after all tracks) cannot disturb a resolution still on its way.
fn resolved(observer: &Observer, since: Mark, alert: &str, receivers: &[&str]) {
    observer.wait_delivered(since, Prometheus, alert, "resolved", receivers, RESOLVE);
    observer.wait_delivered(since, Vmalert, alert, "resolved", receivers, RESOLVE);
}

fn step(what: &str) {
    eprintln!("e2e: {what}");
}

/// One fault and its recovery: `act(true)` injects the fault (`steps[0]` says what it is), which
/// must make `alert` reach `receivers`; `act(false)` repairs it (`steps[1]`), which must resolve it.
fn fault_and_recovery(
    observer: &Observer,
    alert: &str,
    receivers: &[&str],
    steps: [&str; 2],
    mut act: impl FnMut(bool),
) {
    step(steps[0]);
    let t = observer.mark();
    act(true);
    fired(observer, t, alert, receivers);
    step(steps[1]);
    let t = observer.mark();
    act(false);
    resolved(observer, t, alert, receivers);
}

/// The example service at a 20% error rate (HighErrorRate), then with a slow tail
/// (HighResponseTime), switched while it serves.
pub fn web(observer: &Observer, web: &Web) {
    // The service's faults (error rate, slow ms, slow share) while each lasts.
    let faults = [
        (
            "HighErrorRate",
            CRITICAL,
            ["web: 20% errors", "web: errors fixed"],
            (0.2, 0, 1.0),
        ),
        // 3 s for half the accepted simulations: a slow tail of over a quarter of all requests.
        (
            "HighResponseTime",
            WARNING,
            ["web: a slow handler", "web: healthy"],
            (0.0, 3000, 0.5),
        ),
    ];
    for (alert, receivers, steps, (error_rate, slow_ms, slow_share)) in faults {
        fault_and_recovery(observer, alert, receivers, steps, |fault| {
            if fault {
                web.set_faults(error_rate, slow_ms, slow_share);
            } else {
                web.set_faults(0.0, 0, 1.0);
            }
        });
    }
}

pub fn postgres(observer: &Observer, postgres: &mut Postgres) {
    down_and_up(
        observer,
        "postgres",
        "PostgreSQLDown",
        postgres,
        Postgres::stop,
        Postgres::run,
    );
}

/// `service` stopped, which must fire its critical `alert`, then started again, which must
/// resolve it.
fn down_and_up<T>(
    observer: &Observer,
    service: &str,
    alert: &str,
    target: &mut T,
    stop: impl Fn(&mut T),
    start: impl Fn(&mut T),
) {
    let (stopped, started) = (format!("{service}: stopped"), format!("{service}: started"));
    fault_and_recovery(observer, alert, CRITICAL, [&stopped, &started], |fault| {
        if fault {
            stop(target)
        } else {
            start(target)
        }
    });
}

/// The worker SIGKILLed (CeleryWorkersDown) while tasks pile up (TooManyPendingTasks, inhibited
/// by the critical), a backlog in a queue no worker consumes (TooManyPendingTasks, delivered), then
/// failing tasks (HighTaskFailureRate).
pub fn celery(observer: &Observer, celery: &mut Celery, state: &StateDir) {
    step("celery: worker SIGKILLed");
    let t = observer.mark();
    // ChildGuard's drop is SIGKILL: no worker-offline event, only missing heartbeats.
    celery.worker = None;
    fired(observer, t, "CeleryWorkersDown", CRITICAL);

    step("celery: 150 tasks pile up with no worker");
    celery.python("from demo_tasks import flaky\nfor _ in range(150): flaky.delay(0)");
    observer.wait_alert(Prometheus, "TooManyPendingTasks", "firing", FIRE);
    assert_inhibited(observer, t, "TooManyPendingTasks");

    step("celery: worker restarted");
    let t = observer.mark();
    celery.start_worker(state);
    resolved(observer, t, "CeleryWorkersDown", CRITICAL);
    // The backlog drains; once the warning is over in both evaluators, it can fire afresh.
    for evaluator in [Prometheus, Vmalert] {
        observer.wait_alert(evaluator, "TooManyPendingTasks", "inactive", RESOLVE);
    }

    // Tasks routed to a queue that no worker consumes yet, until one is told to. Not the worker's
    // own queue paused with cancel_consumer and resumed with add_consumer: Celery 5.4 then leaves
    // the worker consuming nothing after its next broker reconnect (add_consumer does not
    // re-select a queue it already knows), and the Redis fault below would strand the producer's
    // tasks.
    fault_and_recovery(
        observer,
        "TooManyPendingTasks",
        WARNING,
        [
            "celery: 150 tasks queued where no worker consumes",
            "celery: the worker consumes the queue",
        ],
        |fault| {
            if fault {
                celery.python(
                    "from demo_tasks import flaky\nfor _ in range(150): flaky.apply_async((0,), queue='backlog')",
                );
            } else {
                celery.control(&["add_consumer", "backlog"]);
            }
        },
    );

    // The rule looks at 10 minutes of finished tasks, all the producer's included: enough
    // failures to pass 10% of them, then enough successes to fall back under it.
    fault_and_recovery(
        observer,
        "HighTaskFailureRate",
        CRITICAL,
        [
            "celery: 300 failing tasks",
            "celery: failures stop, 3000 tasks succeed",
        ],
        |fault| {
            celery.python(if fault {
                "from demo_tasks import flaky\nfor _ in range(300): flaky.delay(1.0)"
            } else {
                "from demo_tasks import flaky\nfor _ in range(3000): flaky.delay(0)"
            })
        },
    );
}

/// A warning that fires while a critical of its service does: both clustered Alertmanagers hold
/// it as inhibited, and no receiver gets it.
fn assert_inhibited(observer: &Observer, since: Mark, alert: &str) {
    for peer in 0..2 {
        let held = observer.alertmanager_alerts(peer, alert);
        assert!(
            !held.is_empty()
                && held.iter().all(|a| a["status"]["state"] == "suppressed"
                    && !a["status"]["inhibitedBy"].as_array().unwrap().is_empty()),
            "Alertmanager {peer} should hold {alert}, inhibited: {held:?}"
        );
    }
    // Beyond group_wait: had the inhibition failed, the warning would have gone out by now.
    std::thread::sleep(Duration::from_secs(3));
    let reached = observer.receivers_of(since, Prometheus, alert, "firing");
    assert!(reached.is_empty(), "inhibited {alert} reached {reached:?}");
    step(&format!("{alert} inhibited"));
}

/// Last: the broker going away disturbs Celery too. The producer is restarted afterwards, as a
/// supervisor would (it gives up when the broker is gone), and the worker must recover by itself.
pub fn redis(observer: &Observer, redis: &mut Redis, celery: &mut Celery, state: &StateDir) {
    down_and_up(observer, "redis", "RedisDown", redis, Redis::stop, |r| {
        r.start(state)
    });
    celery.start_producer(state);

    // The restarted Redis is empty: every task that succeeds from here on was sent after it came
    // back, so the worker reconnected and consumes again.
    let succeeded = || {
        let result = observer
            .query(r#"sum(celery_tasks_total{state="SUCCESS"})"#)
            .ok()?;
        result.first()?["value"][1].as_str()?.parse::<f64>().ok()
    };
    let before = wait_for("the Celery success count", FIRE, succeeded);
    wait_for(
        "Celery tasks succeeding after the Redis restart",
        FIRE,
        || (succeeded()? > before).then_some(()),
    );
    step("celery: tasks succeed again");
}
