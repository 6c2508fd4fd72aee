//! The event consumer: one subscribed connection, PSUBSCRIBE to every Celery event, decode and
//! apply. Reconnects with capped exponential backoff; `celery_up` is 0 while disconnected and the
//! counters carry on afterwards (events published meanwhile are lost: pub/sub does not queue).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use resp::{ConnError, Connection, Connector, Reply, Value};

use crate::event::{decode_message, Decoded, Undecodable};
use crate::inspect::Answers;
use crate::state::State;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A subscribed connection is silent between events: ping it so a dead peer (network gone, no
/// FIN) is noticed; no reply within two periods means reconnect.
const PING_EVERY: Duration = Duration::from_secs(10);

/// The state shared by the consumer (writer) and the collectors (readers), with the clock that
/// turns `Instant`s into the state machine's seconds.
pub(crate) struct Shared {
    state: Mutex<State>,
    epoch: Instant,
    /// The workers' last answers to `stats` and `active_queues` (danihodovic's names only).
    answers: Mutex<Option<Answers>>,
}

impl Shared {
    /// Shares `state`; the clock starts now.
    pub(crate) fn new(state: State) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(state),
            epoch: Instant::now(),
            answers: Mutex::new(None),
        })
    }

    /// The state, locked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters that are still counters: carry on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the last round of answers; the queues they name are measured from then on.
    pub(crate) fn set_answers(&self, answers: Answers) {
        {
            let mut st = self.lock();
            for q in answers.queue_names() {
                st.note_queue(q);
            }
        }
        *self.answers.lock().unwrap_or_else(|p| p.into_inner()) = Some(answers);
    }

    /// The last round of answers (`None` before the first).
    pub(crate) fn answers(&self) -> Option<Answers> {
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Monotonic seconds since start.
    pub(crate) fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }
}

/// Runs forever: connect, subscribe, consume; on any failure wait and start over.
/// `broker` is the URL without credentials, for the logs.
pub(crate) async fn run(
    connector: Arc<Connector>,
    broker: String,
    pattern: String,
    shared: Arc<Shared>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut was_connected = false;
    loop {
        match subscribe(&connector, &pattern).await {
            Ok(mut conn) => {
                {
                    let mut st = shared.lock();
                    if was_connected {
                        st.reconnects += 1;
                    }
                    st.connected = true;
                }
                tracing::info!(broker = %broker, %pattern, "subscribed to Celery events");
                was_connected = true;
                backoff = MIN_BACKOFF;
                let err = consume(&mut conn, &shared).await;
                shared.lock().connected = false;
                tracing::warn!(broker = %broker, %err, "lost the event stream; reconnecting");
            }
            Err(err) => {
                tracing::warn!(broker = %broker, %err, retry_in = ?backoff, "cannot subscribe to Celery events");
            }
        }
        tokio::time::sleep(crate::random::jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe(connector: &Connector, pattern: &str) -> Result<Connection, ConnError> {
    let mut conn = connector.connect_within(CONNECT_TIMEOUT).await?;
    let reply = tokio::time::timeout(
        CONNECT_TIMEOUT,
        conn.request(&[b"PSUBSCRIBE" as &[u8], pattern.as_bytes()]),
    )
    .await
    .map_err(|_| ConnError::Timeout("PSUBSCRIBE".into()))??;
    match reply.as_array() {
        Some([kind, ..]) if kind.as_bytes() == Some(b"psubscribe") => Ok(conn),
        _ => match reply {
            Reply::Error(message) => Err(ConnError::Server {
                command: "PSUBSCRIBE",
                message,
            }),
            _ => Err(ConnError::Unexpected("PSUBSCRIBE")),
        },
    }
}

/// Reads and applies until the connection fails; returns why.
async fn consume(conn: &mut Connection, shared: &Shared) -> ConnError {
    let mut scratch = Vec::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut last_rx = Instant::now();
    loop {
        tokio::select! {
            read = conn.fill() => {
                if let Err(e) = read {
                    return e;
                }
                last_rx = Instant::now();
                let mut st = shared.lock();
                let now = shared.now();
                let mut failure = None;
                let drained = conn.drain(|frame| match handle_frame(frame, &mut st, &mut scratch, now) {
                    Ok(()) => true,
                    Err(e) => {
                        failure = Some(e);
                        false
                    }
                });
                if let Err(e) = drained {
                    return e;
                }
                if let Some(e) = failure {
                    return e;
                }
            }
            _ = ping.tick() => {
                if last_rx.elapsed() > 2 * PING_EVERY {
                    return ConnError::Timeout("waiting for the broker (no reply to PING)".into());
                }
                conn.queue(&[b"PING" as &[u8]]);
                if let Err(e) = conn.flush().await {
                    return e;
                }
            }
        }
    }
}

/// One frame of a subscribed connection: a message's payload is decoded into `st`, anything
/// else but an error reply is ignored. Public for the fuzzing properties.
pub fn handle_frame(
    frame: Value<'_>,
    st: &mut State,
    scratch: &mut Vec<u8>,
    now: f64,
) -> Result<(), ConnError> {
    let items = match frame {
        Value::Array(Some(items)) => items,
        Value::Error(message) => {
            return Err(ConnError::Server {
                command: "PSUBSCRIBE",
                message: String::from_utf8_lossy(message).into_owned(),
            })
        }
        _ => return Ok(()),
    };
    let payload = match items.first().and_then(Value::as_bytes) {
        Some(b"pmessage") => items.get(3),
        Some(b"message") => items.get(2),
        // Subscription confirmations and PING replies.
        _ => return Ok(()),
    };
    let Some(payload) = payload.and_then(Value::as_bytes) else {
        st.count_undecodable(Undecodable::Garbage);
        return Ok(());
    };
    apply_payload(payload, st, scratch, now);
    Ok(())
}

/// Decodes one pub/sub payload into `st`; what cannot be decoded is counted and skipped.
pub fn apply_payload(payload: &[u8], st: &mut State, scratch: &mut Vec<u8>, now: f64) {
    let outcome = decode_message(payload, scratch, |e| st.apply(&e, now));
    count_outcome(st, outcome, payload.len());
}

/// Counts what decoding one message left over, on either broker: the batch elements that were
/// not events, or the reason the whole message was dropped.
pub(crate) fn count_outcome(st: &mut State, outcome: Result<Decoded, Undecodable>, bytes: usize) {
    match outcome {
        Ok(d) => {
            for _ in 0..d.bad_events {
                st.count_undecodable(Undecodable::Event);
            }
        }
        Err(why) => {
            tracing::debug!(reason = why.as_str(), bytes, "undecodable event message");
            st.count_undecodable(why);
        }
    }
}
