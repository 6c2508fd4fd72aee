//! The node exporter's systemd collector's D-Bus side: one connection per scrape (as upstream,
//! so a restarted dbus-daemon or systemd costs nothing to recover from), the manager's
//! `ListUnits` and properties, and each selected unit's properties by
//! `org.freedesktop.DBus.Properties.Get` on the object path `ListUnits` gave for it.
//!
//! The system bus is `DBUS_SYSTEM_BUS_ADDRESS`, else `/var/run/dbus/system_bus_socket`. As
//! upstream (go-systemd's `NewWithContext`), root falls back to systemd's private socket
//! `/run/systemd/private` when the system bus cannot be reached; `Query::private` goes there
//! directly. Connecting and every call are bounded by [`CALL_TIMEOUT`].
//!
//! A crate of its own, not a module of `node-exporter`, for the binary's resident memory: zbus's
//! generic code is instantiated in the crate that calls it, and in the collectors' crate it sat
//! between collectors that run on every scrape, so the page cache's large folios around them
//! mapped it although it never runs unless `--collector.systemd` is on. Here it is laid out in a
//! block of its own (the collector's metric families stay in `node-exporter`).

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use zbus::connection::Builder;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue};
use zbus::Connection;

/// The first systemd with the manager's `SystemState` and the timers' `LastTriggerUSec`.
pub const MIN_VERSION_SYSTEM_STATE: f64 = 212.0;

/// What one scrape reads, from the collector's options.
pub struct Query<'a> {
    /// Talk to systemd on its private socket instead of the system bus.
    pub private: bool,
    /// Services' `TasksCurrent` and `TasksMax`.
    pub task_metrics: bool,
    /// Services' `NRestarts`.
    pub restarts_metrics: bool,
    /// Units' `ActiveEnterTimestamp`.
    pub start_time_metrics: bool,
    /// Whether a listed unit gets its properties read (the per-unit families' filter).
    pub selects: &'a (dyn Fn(&Unit) -> bool + Sync),
}

/// One unit as `ListUnits` gives it, with the properties read for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unit {
    /// `ssh.service`.
    pub name: String,
    /// `loaded`, `not-found`, `masked`, ...
    pub load_state: String,
    /// `active`, `failed`, ...
    pub active_state: String,
    /// Properties read only for selected units; `None` where the unit lacks one or it was not
    /// asked for.
    pub details: UnitDetails,
}

/// Per-unit properties, each read only when its family is enabled and the unit is of its kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitDetails {
    /// A service's `Type` (`simple`, `forking`, ...) or a mount's (`ext4`, ...).
    pub service_type: Option<String>,
    /// A service's `NRestarts`.
    pub restarts: Option<u32>,
    /// `ActiveEnterTimestamp` in microseconds since the epoch (active units only).
    pub active_enter_usec: Option<u64>,
    /// A service's `TasksCurrent` (`u64::MAX`: not counted).
    pub tasks_current: Option<u64>,
    /// A service's `TasksMax` (`u64::MAX`: unlimited).
    pub tasks_max: Option<u64>,
    /// A socket's connection counts.
    pub socket: Option<SocketCounts>,
    /// A timer's `LastTriggerUSec`.
    pub last_trigger_usec: Option<u64>,
}

/// A socket unit's `NAccepted`, `NConnections` and (systemd 239+) `NRefused`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SocketCounts {
    /// Connections accepted since the socket started.
    pub accepted: u32,
    /// Connections open now; when missing, upstream reports neither it nor `refused`.
    pub current: Option<u32>,
    /// Connections refused; `None` before systemd 239.
    pub refused: Option<u32>,
}

/// Everything one scrape read from systemd.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The manager's `Version`, when it could be read.
    pub version: Option<String>,
    /// The manager's `SystemState` (read on systemd 212 and later).
    pub system_state: Option<String>,
    /// Every unit `ListUnits` gave, in its order.
    pub units: Vec<Unit>,
}

/// The number in a systemd version string (`252.22-1~deb12u1` gives 252.22), as upstream finds it:
/// the first run of three or more digits with an optional fraction. `None` if there is none.
pub fn parse_version(version: &str) -> Option<f64> {
    let bytes = version.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i - start < 3 {
            continue;
        }
        let fraction = bytes[i..]
            .iter()
            .skip(1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if bytes.get(i) == Some(&b'.') && fraction > 0 {
            i += 1 + fraction;
        }
        return version[start..i].parse().ok();
    }
    None
}

/// How long connecting, or one call, may take: systemd answers in microseconds, a hung bus
/// never.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const SERVICE: &str = "org.freedesktop.systemd1.Service";
const MOUNT: &str = "org.freedesktop.systemd1.Mount";
const SOCKET: &str = "org.freedesktop.systemd1.Socket";
const TIMER: &str = "org.freedesktop.systemd1.Timer";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

const SYSTEM_BUS_DEFAULT: &str = "unix:path=/var/run/dbus/system_bus_socket";
const PRIVATE_SOCKET: &str = "unix:path=/run/systemd/private";

/// One row of `ListUnits`' `a(ssssssouso)`.
type ListedUnit = (
    String,          // name
    String,          // description
    String,          // load state
    String,          // active state
    String,          // sub state
    String,          // unit it follows
    OwnedObjectPath, // unit object
    u32,             // job id
    String,          // job type
    OwnedObjectPath, // job object
);

/// Reads what the collector's families need for one scrape; `Err` is the collector's error
/// line.
pub async fn read(options: &Query<'_>) -> Result<Snapshot, String> {
    let systemd = Systemd {
        conn: connect(options.private).await?,
    };
    let manager = ObjectPath::from_static_str_unchecked(MANAGER_PATH);
    let version = systemd.string(&manager, MANAGER, "Version").await;
    let newer_than_212 = version
        .as_deref()
        .and_then(parse_version)
        .is_some_and(|v| v >= MIN_VERSION_SYSTEM_STATE);

    let listed = systemd
        .list_units()
        .await
        .map_err(|e| format!("couldn't get units: {e}"))?;
    let mut units = Vec::with_capacity(listed.len());
    for (name, _, load_state, active_state, _, _, path, _, _, _) in listed {
        let mut unit = Unit {
            name,
            load_state,
            active_state,
            details: UnitDetails::default(),
        };
        if (options.selects)(&unit) {
            unit.details = systemd.details(&unit, &path, options, newer_than_212).await;
        }
        units.push(unit);
    }

    let system_state = if newer_than_212 {
        let state = systemd
            .property(&manager, MANAGER, "SystemState")
            .await
            .and_then(|v| String::try_from(v).map_err(zbus::Error::from))
            .map_err(|e| format!("couldn't get system state: {e}"))?;
        Some(state)
    } else {
        None
    };
    Ok(Snapshot {
        version,
        system_state,
        units,
    })
}

/// The system bus, or systemd's private socket (see the module documentation).
async fn connect(private: bool) -> Result<Connection, String> {
    if private {
        return open_private().await;
    }
    let address =
        std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|_| SYSTEM_BUS_DEFAULT.into());
    let system = match Builder::address(address.as_str()) {
        Ok(builder) => open(builder, &address).await,
        Err(e) => Err(format!("{address}: {e}")),
    };
    match system {
        Ok(conn) => Ok(conn),
        Err(bus_error) if running_as_root() => open_private().await.map_err(|private_error| {
            format!(
                "couldn't connect to the system bus ({bus_error}), nor to systemd ({private_error})"
            )
        }),
        Err(bus_error) => Err(format!("couldn't connect to the system bus: {bus_error}")),
    }
}

async fn open_private() -> Result<Connection, String> {
    match Builder::address(PRIVATE_SOCKET) {
        Ok(builder) => open(builder.p2p(), PRIVATE_SOCKET).await,
        Err(e) => Err(format!("{PRIVATE_SOCKET}: {e}")),
    }
}

async fn open(builder: Builder<'_>, address: &str) -> Result<Connection, String> {
    let connecting = builder.method_timeout(CALL_TIMEOUT).build();
    match tokio::time::timeout(CALL_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("{address}: {e}")),
        Err(_) => Err(format!("{address}: no answer within {CALL_TIMEOUT:?}")),
    }
}

/// Whether this process runs as root: /proc/self belongs to the effective user.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A connection to systemd's manager.
struct Systemd {
    conn: Connection,
}

impl Systemd {
    async fn list_units(&self) -> zbus::Result<Vec<ListedUnit>> {
        let reply = self
            .conn
            .call_method(Some(SYSTEMD), MANAGER_PATH, Some(MANAGER), "ListUnits", &())
            .await?;
        reply.body().deserialize()
    }

    async fn property(
        &self,
        path: &ObjectPath<'_>,
        interface: &str,
        name: &str,
    ) -> zbus::Result<OwnedValue> {
        let reply = self
            .conn
            .call_method(
                Some(SYSTEMD),
                path,
                Some(PROPERTIES),
                "Get",
                &(interface, name),
            )
            .await?;
        reply.body().deserialize()
    }

    /// A property of the expected type, or `None` when it is missing or of another type (an
    /// older systemd): upstream leaves such a series out too.
    async fn typed<T: TryFrom<OwnedValue>>(
        &self,
        path: &ObjectPath<'_>,
        interface: &str,
        name: &str,
    ) -> Option<T> {
        match self.property(path, interface, name).await {
            Ok(value) => T::try_from(value).ok(),
            Err(e) => {
                tracing::debug!(%path, interface, name, %e, "couldn't get a systemd property");
                None
            }
        }
    }

    async fn string(&self, path: &ObjectPath<'_>, interface: &str, name: &str) -> Option<String> {
        self.typed(path, interface, name).await
    }

    /// The properties of a selected unit that its kind and the enabled families need.
    async fn details(
        &self,
        unit: &Unit,
        path: &ObjectPath<'_>,
        options: &Query<'_>,
        newer_than_212: bool,
    ) -> UnitDetails {
        let mut d = UnitDetails::default();
        let name = unit.name.as_str();
        if name.ends_with(".mount") {
            d.service_type = self.string(path, MOUNT, "Type").await;
        }
        if name.ends_with(".service") {
            d.service_type = self.string(path, SERVICE, "Type").await;
            if options.restarts_metrics {
                d.restarts = self.typed(path, SERVICE, "NRestarts").await;
            }
            if options.task_metrics {
                d.tasks_current = self.typed(path, SERVICE, "TasksCurrent").await;
                d.tasks_max = self.typed(path, SERVICE, "TasksMax").await;
            }
        }
        if options.start_time_metrics && unit.active_state == "active" {
            d.active_enter_usec = self.typed(path, UNIT, "ActiveEnterTimestamp").await;
        }
        if newer_than_212 && name.ends_with(".timer") {
            d.last_trigger_usec = self.typed(path, TIMER, "LastTriggerUSec").await;
        }
        if name.ends_with(".socket") {
            d.socket = self.socket_counts(path).await;
        }
        d
    }

    /// `NAccepted` (a socket without it is left out, as upstream), `NConnections`, and
    /// `NRefused` where systemd has it.
    async fn socket_counts(&self, path: &ObjectPath<'_>) -> Option<SocketCounts> {
        let accepted = self.typed(path, SOCKET, "NAccepted").await?;
        let current = self.typed(path, SOCKET, "NConnections").await;
        let refused = match current {
            Some(_) => self.typed(path, SOCKET, "NRefused").await,
            None => None,
        };
        Some(SocketCounts {
            accepted,
            current,
            refused,
        })
    }
}
