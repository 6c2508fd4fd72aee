//! The systemd collector's D-Bus side: one connection per scrape (as upstream, so a restarted
//! dbus-daemon or systemd costs nothing to recover from), the manager's `ListUnits` and
//! properties, and each selected unit's properties by `org.freedesktop.DBus.Properties.Get` on
//! the object path `ListUnits` gave for it.
//!
//! The system bus is `DBUS_SYSTEM_BUS_ADDRESS`, else `/var/run/dbus/system_bus_socket`. As
//! upstream (go-systemd's `NewWithContext`), root falls back to systemd's private socket
//! `/run/systemd/private` when the system bus cannot be reached; `--collector.systemd.private`
//! goes there directly. Connecting and every call are bounded by [`CALL_TIMEOUT`].

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use exporter_core::CollectError;
use zbus::connection::Builder;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue};
use zbus::Connection;

use super::{
    parse_version, Snapshot, SocketCounts, SystemdOptions, Unit, UnitDetails,
    MIN_VERSION_SYSTEM_STATE,
};

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

/// Reads what [`super::families`] needs for one scrape.
pub(super) async fn read(options: &SystemdOptions) -> Result<Snapshot, CollectError> {
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
        .map_err(|e| CollectError::Other(format!("couldn't get units: {e}")))?;
    let mut units = Vec::with_capacity(listed.len());
    for (name, _, load_state, active_state, _, _, path, _, _, _) in listed {
        let mut unit = Unit {
            name,
            load_state,
            active_state,
            details: UnitDetails::default(),
        };
        if options.selects(&unit) {
            unit.details = systemd.details(&unit, &path, options, newer_than_212).await;
        }
        units.push(unit);
    }

    let system_state = if newer_than_212 {
        let state = systemd
            .property(&manager, MANAGER, "SystemState")
            .await
            .and_then(|v| String::try_from(v).map_err(zbus::Error::from))
            .map_err(|e| CollectError::Other(format!("couldn't get system state: {e}")))?;
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
async fn connect(private: bool) -> Result<Connection, CollectError> {
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
            CollectError::Other(format!(
                "couldn't connect to the system bus ({bus_error}), nor to systemd ({private_error})"
            ))
        }),
        Err(bus_error) => Err(CollectError::Other(format!(
            "couldn't connect to the system bus: {bus_error}"
        ))),
    }
}

async fn open_private() -> Result<Connection, CollectError> {
    let opened = match Builder::address(PRIVATE_SOCKET) {
        Ok(builder) => open(builder.p2p(), PRIVATE_SOCKET).await,
        Err(e) => Err(format!("{PRIVATE_SOCKET}: {e}")),
    };
    opened.map_err(CollectError::Other)
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
        options: &SystemdOptions,
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
