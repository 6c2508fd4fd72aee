//! A real `dbus-daemon` on a unix socket in a temp dir, and on it a stand-in for systemd's
//! manager (`org.freedesktop.systemd1`) with a known set of units, for the systemd collector's
//! side-by-side test. systemd itself cannot run in this sandbox; what the stand-in serves is what
//! systemd serves for the methods and properties node_exporter 1.5's collector reads: the
//! manager's `ListUnits`, `Version` and `SystemState`, each unit's `ActiveEnterTimestamp`, and
//! the Service, Socket, Timer and Mount properties, at the object paths systemd gives units.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use exporter_core::testkit::background::Background;
use exporter_core::testkit::{wait_for, ChildGuard};
use zbus::connection::Builder;
use zbus::interface;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};

/// A bus daemon of our own; killed when dropped.
pub(crate) struct DbusDaemon {
    /// `unix:path=...`, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub(crate) address: String,
    _child: ChildGuard,
}

impl DbusDaemon {
    /// Starts `dbus-daemon` with a configuration that lets anyone own any name and call anything,
    /// listening on `dir/system_bus_socket`.
    pub(crate) fn start(dir: &Path) -> DbusDaemon {
        let socket = dir.join("system_bus_socket");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("write the bus configuration");
        let mut cmd = Command::new("/usr/bin/dbus-daemon");
        cmd.arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--nosyslog"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = ChildGuard::spawn("dbus-daemon (apt-get install dbus)", &mut cmd);
        wait_for("the bus socket", Duration::from_secs(20), || {
            socket.exists().then_some(())
        });
        DbusDaemon {
            address: format!("unix:path={}", socket.display()),
            _child: child,
        }
    }
}

/// What the stand-in reports for one unit.
#[derive(Clone)]
pub(crate) struct FakeUnit {
    pub(crate) name: &'static str,
    pub(crate) load_state: &'static str,
    pub(crate) active_state: &'static str,
    pub(crate) active_enter_usec: u64,
    pub(crate) kind: Kind,
}

/// The type-specific interface a unit has.
#[derive(Clone)]
pub(crate) enum Kind {
    /// A service with every property 1.5 reads.
    Service {
        service_type: &'static str,
        restarts: u32,
        tasks_current: u64,
        tasks_max: u64,
    },
    /// A service from a systemd too old for `NRestarts` and the task counts.
    OldService {
        service_type: &'static str,
    },
    Socket {
        accepted: u32,
        connections: u32,
        refused: u32,
    },
    Timer {
        last_trigger_usec: u64,
    },
    Mount {
        fs_type: &'static str,
    },
    /// Only the generic Unit interface (a target).
    Plain,
}

/// systemd's object path for a unit: `/org/freedesktop/systemd1/unit/` and the name with every
/// byte but ASCII letters and digits (and a leading digit) written `_xx` (sd-bus's label escape).
pub(crate) fn unit_path(name: &str) -> String {
    let mut path = String::from("/org/freedesktop/systemd1/unit/");
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (b.is_ascii_digit() && i > 0) {
            path.push(b as char);
        } else {
            path.push_str(&format!("_{b:02x}"));
        }
    }
    path
}

/// The stand-in's connection runs on its own thread; dropping this stops it.
pub(crate) struct FakeSystemd {
    _connection: Background,
}

impl FakeSystemd {
    /// Connects to `address`, serves the manager and `units`, and owns `org.freedesktop.systemd1`
    /// before returning.
    pub(crate) fn serve(
        address: &str,
        version: &'static str,
        system_state: &'static str,
        units: Vec<FakeUnit>,
    ) -> FakeSystemd {
        let (ready, is_ready) = mpsc::channel::<Result<(), String>>();
        let address = address.to_string();
        let background = Background::spawn(move |stop| async move {
            match connect(&address, version, system_state, units).await {
                Ok(conn) => {
                    let _ = ready.send(Ok(()));
                    let _ = stop.await;
                    drop(conn);
                }
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                }
            }
        });
        match is_ready.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the systemd stand-in cannot serve: {e}"),
            Err(e) => panic!("the systemd stand-in did not start: {e}"),
        }
        FakeSystemd {
            _connection: background,
        }
    }
}

async fn connect(
    address: &str,
    version: &'static str,
    system_state: &'static str,
    units: Vec<FakeUnit>,
) -> zbus::Result<zbus::Connection> {
    let mut builder = Builder::address(address)?.name("org.freedesktop.systemd1")?;
    for unit in &units {
        let path = ObjectPath::try_from(unit_path(unit.name))?;
        builder = builder.serve_at(
            path.clone(),
            UnitIface {
                active_enter_usec: unit.active_enter_usec,
            },
        )?;
        builder = match unit.kind.clone() {
            Kind::Service {
                service_type,
                restarts,
                tasks_current,
                tasks_max,
            } => builder.serve_at(
                path.clone(),
                ServiceIface {
                    service_type,
                    restarts,
                    tasks_current,
                    tasks_max,
                },
            )?,
            Kind::OldService { service_type } => {
                builder.serve_at(path.clone(), OldServiceIface { service_type })?
            }
            Kind::Socket {
                accepted,
                connections,
                refused,
            } => builder.serve_at(
                path.clone(),
                SocketIface {
                    accepted,
                    connections,
                    refused,
                },
            )?,
            Kind::Timer { last_trigger_usec } => {
                builder.serve_at(path.clone(), TimerIface { last_trigger_usec })?
            }
            Kind::Mount { fs_type } => builder.serve_at(path.clone(), MountIface { fs_type })?,
            Kind::Plain => builder,
        };
    }
    builder
        .serve_at(
            "/org/freedesktop/systemd1",
            Manager {
                version,
                system_state,
                units,
            },
        )?
        .build()
        .await
}

/// `ListUnits`' row: name, description, load, active and sub state, followed unit, unit path,
/// job id, type and path.
type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

struct Manager {
    version: &'static str,
    system_state: &'static str,
    units: Vec<FakeUnit>,
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    #[zbus(name = "ListUnits")]
    fn list_units(&self) -> Vec<ListedUnit> {
        let path = |p: &str| OwnedObjectPath::try_from(p.to_string()).expect("object path");
        self.units
            .iter()
            .map(|u| {
                (
                    u.name.to_string(),
                    format!("the {} unit", u.name),
                    u.load_state.to_string(),
                    u.active_state.to_string(),
                    "running".to_string(),
                    String::new(),
                    path(&unit_path(u.name)),
                    0,
                    String::new(),
                    path("/"),
                )
            })
            .collect()
    }

    #[zbus(property, name = "Version")]
    fn version(&self) -> String {
        self.version.to_string()
    }

    #[zbus(property, name = "SystemState")]
    fn system_state(&self) -> String {
        self.system_state.to_string()
    }
}

struct UnitIface {
    active_enter_usec: u64,
}

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl UnitIface {
    #[zbus(property, name = "ActiveEnterTimestamp")]
    fn active_enter_timestamp(&self) -> u64 {
        self.active_enter_usec
    }
}

struct ServiceIface {
    service_type: &'static str,
    restarts: u32,
    tasks_current: u64,
    tasks_max: u64,
}

#[interface(name = "org.freedesktop.systemd1.Service")]
impl ServiceIface {
    #[zbus(property, name = "Type")]
    fn service_type(&self) -> String {
        self.service_type.to_string()
    }

    #[zbus(property, name = "NRestarts")]
    fn restarts(&self) -> u32 {
        self.restarts
    }

    #[zbus(property, name = "TasksCurrent")]
    fn tasks_current(&self) -> u64 {
        self.tasks_current
    }

    #[zbus(property, name = "TasksMax")]
    fn tasks_max(&self) -> u64 {
        self.tasks_max
    }
}

struct OldServiceIface {
    service_type: &'static str,
}

#[interface(name = "org.freedesktop.systemd1.Service")]
impl OldServiceIface {
    #[zbus(property, name = "Type")]
    fn service_type(&self) -> String {
        self.service_type.to_string()
    }
}

struct SocketIface {
    accepted: u32,
    connections: u32,
    refused: u32,
}

#[interface(name = "org.freedesktop.systemd1.Socket")]
impl SocketIface {
    #[zbus(property, name = "NAccepted")]
    fn accepted(&self) -> u32 {
        self.accepted
    }

    #[zbus(property, name = "NConnections")]
    fn connections(&self) -> u32 {
        self.connections
    }

    #[zbus(property, name = "NRefused")]
    fn refused(&self) -> u32 {
        self.refused
    }
}

struct TimerIface {
    last_trigger_usec: u64,
}

#[interface(name = "org.freedesktop.systemd1.Timer")]
impl TimerIface {
    #[zbus(property, name = "LastTriggerUSec")]
    fn last_trigger(&self) -> u64 {
        self.last_trigger_usec
    }
}

struct MountIface {
    fs_type: &'static str,
}

#[interface(name = "org.freedesktop.systemd1.Mount")]
impl MountIface {
    #[zbus(property, name = "Type")]
    fn fs_type(&self) -> String {
        self.fs_type.to_string()
    }
}
