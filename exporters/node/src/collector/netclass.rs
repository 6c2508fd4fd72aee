//! `node_network_info`, `node_network_up` and the numeric `node_network_*` device properties of
//! /sys/class/net/<iface>/.
//!
//! On the live host (sysfs at /sys) one rtnetlink link dump supplies most of them: a sysfs
//! attribute costs a path walk, an open, a read and a close, ~23 times per device. sysfs is read
//! only for what netlink lacks (`addr_assign_type`, `name_assign_type`, `dev_id`, `speed`,
//! `duplex`, and `flags` on kernels without IFLA_ALLMULTI), from files kept open between scrapes
//! (`KeptFiles`): after the first scrape a device costs one read per attribute, plus one of its
//! `ifindex` to check that /sys shows the device netlink reported. A sysfs tree elsewhere (a
//! container's host mount, a fixture) describes another host or namespace than netlink would, so
//! it is read entirely from files, as is /sys when netlink fails.
//!
//! Attributes that are absent or refuse to be read (EINVAL while a link is down, EOPNOTSUPP on
//! virtual devices) are skipped one by one, as upstream does: the device is still reported.
//!
//! Over 800 lines because of its unit tests (about two fifths of the file), kept beside the
//! parser they check.
#![allow(
    unsafe_code,
    reason = "openat(2) on a kept directory descriptor, wrapped in OwnedFd"
)]

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use exporter_core::{
    interned, BlockingCollector, CollectError, CollectResult, MetricFamily, MetricType,
};
use regex::Regex;

use crate::kept::{KeptFiles, KeptFilesScrape};
use crate::paths::HostPaths;
use crate::util::{field_labels, regex_flag, sorted_dir_names};

/// Numeric properties: (metric stem, sysfs attribute, type), in upstream's emission order.
const PROPERTIES: [(&str, &CStr, MetricType); 17] = [
    (
        "address_assign_type",
        c"addr_assign_type",
        MetricType::Gauge,
    ),
    ("carrier", c"carrier", MetricType::Gauge),
    (
        "carrier_changes_total",
        c"carrier_changes",
        MetricType::Counter,
    ),
    (
        "carrier_up_changes_total",
        c"carrier_up_count",
        MetricType::Counter,
    ),
    (
        "carrier_down_changes_total",
        c"carrier_down_count",
        MetricType::Counter,
    ),
    ("device_id", c"dev_id", MetricType::Gauge),
    ("dormant", c"dormant", MetricType::Gauge),
    ("flags", c"flags", MetricType::Gauge),
    ("iface_id", c"ifindex", MetricType::Gauge),
    ("iface_link", c"iflink", MetricType::Gauge),
    ("iface_link_mode", c"link_mode", MetricType::Gauge),
    ("mtu_bytes", c"mtu", MetricType::Gauge),
    ("name_assign_type", c"name_assign_type", MetricType::Gauge),
    ("net_dev_group", c"netdev_group", MetricType::Gauge),
    // Scaled from Mbit/s to bytes/s.
    ("speed_bytes", c"speed", MetricType::Gauge),
    ("transmit_queue_length", c"tx_queue_len", MetricType::Gauge),
    ("protocol_type", c"type", MetricType::Gauge),
];

/// Index of `speed_bytes` in PROPERTIES.
const SPEED: usize = 14;

/// Indices into PROPERTIES for the netlink path.
#[cfg(target_os = "linux")]
mod idx {
    pub(super) const ADDR_ASSIGN_TYPE: usize = 0;
    pub(super) const CARRIER: usize = 1;
    pub(super) const CARRIER_CHANGES: usize = 2;
    pub(super) const CARRIER_UP: usize = 3;
    pub(super) const CARRIER_DOWN: usize = 4;
    pub(super) const DEV_ID: usize = 5;
    pub(super) const DORMANT: usize = 6;
    pub(super) const FLAGS: usize = 7;
    pub(super) const IFINDEX: usize = 8;
    pub(super) const IFLINK: usize = 9;
    pub(super) const LINK_MODE: usize = 10;
    pub(super) const MTU: usize = 11;
    pub(super) const NAME_ASSIGN_TYPE: usize = 12;
    pub(super) const NETDEV_GROUP: usize = 13;
    pub(super) const SPEED: usize = super::SPEED;
    pub(super) const TX_QUEUE_LEN: usize = 15;
    pub(super) const TYPE: usize = 16;
}

regex_flag! {
    /// Regexp of net devices to ignore for netclass collector.
    NetclassFlags { ignored_devices: "collector.netclass.ignored-devices" = DEFAULT_IGNORED_DEVICES }
}

/// No device is ignored by default.
pub const DEFAULT_IGNORED_DEVICES: &str = "^$";

/// The `netclass` collector: what it reads and emits is in the module documentation.
pub struct NetclassCollector {
    class_net: PathBuf,
    /// The attributes netlink lacks, per device.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    attributes: KeptFiles,
    #[cfg(target_os = "linux")]
    links: crate::netlink::LinkDumper,
    ignored: Option<Regex>,
    /// Netlink describes the exporter's own network namespace, which /sys shows; any other
    /// sysfs root is read from files only.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    use_netlink: bool,
}

impl NetclassCollector {
    /// The collector reading under `cfg`, with its own options.
    pub fn new(cfg: &HostPaths, ignored_devices: &Regex) -> Self {
        NetclassCollector {
            class_net: cfg.sys_path("class/net"),
            attributes: KeptFiles::default(),
            #[cfg(target_os = "linux")]
            links: Default::default(),
            ignored: Some(ignored_devices.clone()),
            use_netlink: cfg!(target_os = "linux") && cfg.sysfs == Path::new("/sys"),
        }
    }

    fn ignored(&self, device: &str) -> bool {
        self.ignored.as_ref().is_some_and(|r| r.is_match(device))
    }
}

/// Parses a numeric sysfs attribute the way procfs does: `0x`-prefixed values are hex (`flags`,
/// `dev_id`), the rest decimal (`speed` may be `-1`).
pub fn parse_attr_int(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    match raw.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => raw.parse().ok(),
    }
}

/// Unknown speed reads as -1 and is reported as -125000, like upstream's default.
fn speed_bytes(mbit: i64) -> f64 {
    mbit.saturating_mul(125_000) as f64
}

/// A directory opened once, so that attribute opens are `openat` relative to it instead of
/// walking /sys/class/net/<dev> (a symlink into /sys/devices) again for every file.
struct Dir(OwnedFd);

#[cfg(target_os = "linux")]
const DIR_FLAGS: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
#[cfg(not(target_os = "linux"))]
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;

impl Dir {
    fn open(path: &Path) -> io::Result<Dir> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(DIR_FLAGS)
            .open(path)?;
        Ok(Dir(file.into()))
    }

    fn open_at(&self, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
        // SAFETY: `name` is NUL-terminated and the directory descriptor is owned by `self`.
        let fd = unsafe { libc::openat(self.0.as_raw_fd(), name.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn subdir(&self, name: &CStr) -> io::Result<Dir> {
        self.open_at(name, DIR_FLAGS).map(Dir)
    }
}

/// Where a device's sysfs attributes are read from.
trait Attributes {
    /// Reads attribute `name` into `buf`.
    fn read(&mut self, name: &CStr, buf: &mut AttrBuf) -> io::Result<()>;
}

impl Attributes for &Dir {
    fn read(&mut self, name: &CStr, buf: &mut AttrBuf) -> io::Result<()> {
        buf.fill(&File::from(
            self.open_at(name, libc::O_RDONLY | libc::O_CLOEXEC)?,
        ))
    }
}

/// A device's attributes from files kept open between scrapes.
struct KeptAttributes<'a, 'f> {
    files: &'a mut KeptFilesScrape<'f>,
    /// `/sys/class/net/<device>/`; each read appends the attribute's name and pops it again.
    dir: &'a mut PathBuf,
}

impl Attributes for KeptAttributes<'_, '_> {
    fn read(&mut self, name: &CStr, buf: &mut AttrBuf) -> io::Result<()> {
        self.dir.push(name.to_str().map_err(io::Error::other)?);
        let result = self.files.read_with(self.dir, |file| {
            buf.fill(file)?;
            Ok(buf.len)
        });
        self.dir.pop();
        result
    }
}

/// One reusable buffer for attribute contents.
struct AttrBuf {
    bytes: Vec<u8>,
    len: usize,
}

/// Attributes are at most a page; anything past this is not a sysfs attribute.
const MAX_ATTR: usize = 1 << 20;

impl AttrBuf {
    fn new() -> Self {
        AttrBuf {
            bytes: vec![0; 4096],
            len: 0,
        }
    }

    /// sysfs hands over a whole attribute in the first read, and regular files (fixtures) fill
    /// the buffer unless at their end: a short read is the end, which saves a read per file.
    fn fill(&mut self, file: &File) -> io::Result<()> {
        self.len = 0;
        loop {
            if self.len == self.bytes.len() {
                if self.len >= MAX_ATTR {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "oversized"));
                }
                self.bytes.resize(self.len * 2, 0);
            }
            match file.read_at(&mut self.bytes[self.len..], self.len as u64) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.len += n;
                    if self.len < self.bytes.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn contents(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// The attribute trimmed, as a label value.
    fn push_str_to(&self, out: &mut String) {
        out.push_str(String::from_utf8_lossy(self.contents()).trim());
    }

    fn int(&self) -> Option<i64> {
        std::str::from_utf8(self.contents())
            .ok()
            .and_then(parse_attr_int)
    }
}

/// One device's values, reused across devices.
#[derive(Default)]
struct Device {
    address: String,
    broadcast: String,
    duplex: String,
    ifalias: String,
    operstate: String,
    values: [Option<f64>; PROPERTIES.len()],
}

impl Device {
    fn clear(&mut self) {
        self.address.clear();
        self.broadcast.clear();
        self.duplex.clear();
        self.ifalias.clear();
        self.operstate.clear();
        self.values = [None; PROPERTIES.len()];
    }

    /// Everything from files under the device's directory.
    fn read_sysfs(&mut self, mut dir: &Dir, buf: &mut AttrBuf) {
        for (out, attr) in [
            (&mut self.address, c"address"),
            (&mut self.broadcast, c"broadcast"),
            (&mut self.duplex, c"duplex"),
            (&mut self.ifalias, c"ifalias"),
            (&mut self.operstate, c"operstate"),
        ] {
            if dir.read(attr, buf).is_ok() {
                buf.push_str_to(out);
            }
        }
        for (i, &(_, attr, _)) in PROPERTIES.iter().enumerate() {
            self.values[i] = read_int(&mut dir, attr, buf).map(|v| {
                if i == SPEED {
                    speed_bytes(v)
                } else {
                    v as f64
                }
            });
        }
    }

    /// Netlink's view of a device, plus the few attributes only sysfs has.
    #[cfg(target_os = "linux")]
    fn read_netlink(
        &mut self,
        link: &crate::netlink::Link,
        mut sysfs: Option<&mut dyn Attributes>,
        buf: &mut AttrBuf,
    ) {
        use crate::netlink::{format_hw_addr, operstate_name};

        // sysfs prints these with `%d`; the casts keep its reading of the kernel's integers.
        let dec = |v: Option<u32>| v.map(|v| f64::from(v as i32));
        let mut sysfs_int =
            |attr: &CStr, buf: &mut AttrBuf| sysfs.as_mut().and_then(|a| read_int(*a, attr, buf));
        let running = link.is_running();

        format_hw_addr(&link.address, &mut self.address);
        format_hw_addr(&link.broadcast, &mut self.broadcast);
        if let Some(alias) = &link.ifalias {
            self.ifalias.push_str(alias.trim());
        }
        if let Some(state) = link.operstate.and_then(operstate_name) {
            self.operstate.push_str(state);
        }

        let v = &mut self.values;
        v[idx::ADDR_ASSIGN_TYPE] = sysfs_int(c"addr_assign_type", buf).map(|v| v as f64);
        v[idx::CARRIER] = link.carrier.filter(|_| running).map(f64::from);
        v[idx::CARRIER_CHANGES] = dec(link.carrier_changes);
        v[idx::CARRIER_UP] = dec(link.carrier_up_count);
        v[idx::CARRIER_DOWN] = dec(link.carrier_down_count);
        v[idx::DEV_ID] = sysfs_int(c"dev_id", buf).map(|v| v as f64);
        v[idx::DORMANT] = link.dormant().map(f64::from);
        v[idx::FLAGS] = match link.sysfs_flags() {
            Some(flags) => Some(f64::from(flags)),
            None => sysfs_int(c"flags", buf).map(|v| v as f64),
        };
        v[idx::IFINDEX] = Some(f64::from(link.index));
        v[idx::IFLINK] = Some(f64::from(link.iflink()));
        v[idx::LINK_MODE] = link.link_mode.map(f64::from);
        v[idx::MTU] = dec(link.mtu);
        v[idx::NAME_ASSIGN_TYPE] = sysfs_int(c"name_assign_type", buf).map(|v| v as f64);
        v[idx::NETDEV_GROUP] = dec(link.group);
        v[idx::TX_QUEUE_LEN] = dec(link.txqlen);
        v[idx::TYPE] = Some(f64::from(link.link_type));
        // sysfs refuses speed and duplex (EINVAL) unless the device is running: skip the reads.
        if running {
            v[idx::SPEED] = sysfs_int(c"speed", buf).map(speed_bytes);
            if let Some(sysfs) = sysfs {
                if sysfs.read(c"duplex", buf).is_ok() {
                    buf.push_str_to(&mut self.duplex);
                }
            }
        }
    }
}

fn read_int(attrs: &mut dyn Attributes, attr: &CStr, buf: &mut AttrBuf) -> Option<i64> {
    attrs.read(attr, buf).ok()?;
    buf.int()
}

fn property_family(stem: &str, kind: MetricType) -> MetricFamily {
    MetricFamily::new(
        interned!("node_network_{stem}"),
        interned!("Network device property: {stem}"),
        kind,
    )
}

struct Families {
    up: MetricFamily,
    info: MetricFamily,
    props: Vec<MetricFamily>,
}

impl Families {
    fn new() -> Self {
        Families {
            up: MetricFamily::gauge(
                "node_network_up",
                "Value is 1 if operstate is 'up', 0 otherwise.",
            ),
            info: MetricFamily::gauge(
                "node_network_info",
                "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            ),
            props: PROPERTIES
                .iter()
                .map(|&(stem, _, kind)| property_family(stem, kind))
                .collect(),
        }
    }

    fn push(&mut self, device: &str, dev: &Device) {
        self.up.push(
            &[("device", device)],
            if dev.operstate == "up" { 1.0 } else { 0.0 },
        );
        self.info.push(
            &field_labels!(
                dev,
                address,
                broadcast,
                ("device", device),
                duplex,
                ifalias,
                operstate,
            ),
            1.0,
        );
        for (fam, value) in self.props.iter_mut().zip(dev.values) {
            if let Some(v) = value {
                fam.push(&[("device", device)], v);
            }
        }
    }

    fn into_vec(self) -> Vec<MetricFamily> {
        let mut families = Vec::with_capacity(self.props.len() + 2);
        families.push(self.up);
        families.push(self.info);
        families.extend(self.props);
        families
    }
}

fn is_errno(e: &io::Error, errno: libc::c_int) -> bool {
    e.raw_os_error() == Some(errno)
}

impl NetclassCollector {
    fn open_class_net(&self) -> Result<Dir, CollectError> {
        Dir::open(&self.class_net)
            .map_err(|e| CollectError::io(self.class_net.display().to_string(), e))
    }

    fn collect_sysfs(&self) -> CollectResult {
        let devices = sorted_dir_names(&self.class_net)?;
        let class = self.open_class_net()?;
        let mut families = Families::new();
        let mut dev = Device::default();
        let mut buf = AttrBuf::new();
        for device in devices.iter().map(String::as_str) {
            if self.ignored(device) {
                continue;
            }
            let Ok(name) = CString::new(device) else {
                continue;
            };
            dev.clear();
            match class.subdir(&name) {
                Ok(dir) => dev.read_sysfs(&dir, &mut buf),
                // `bonding_masters` (and any other regular file) sits beside the device links.
                Err(e) if is_errno(&e, libc::ENOTDIR) => continue,
                Err(_) => {}
            }
            families.push(device, &dev);
        }
        Ok(families.into_vec())
    }

    /// `None` when netlink is unusable, for the caller to fall back to sysfs.
    #[cfg(target_os = "linux")]
    fn collect_netlink(&self) -> Option<CollectResult> {
        let mut links = match self.links.dump() {
            Ok(links) => links,
            Err(e) => {
                tracing::debug!(error = %e, "netclass: falling back to sysfs");
                return None;
            }
        };
        links.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        let mut families = Families::new();
        let mut dev = Device::default();
        let mut buf = AttrBuf::new();
        let mut files = self.attributes.scrape();
        let mut dir = PathBuf::new();
        let mut in_sysfs = 0;
        for link in &links {
            if self.ignored(&link.name) {
                continue;
            }
            dir.clone_from(&self.class_net);
            dir.push(&link.name);
            let mut sysfs = KeptAttributes {
                files: &mut files,
                dir: &mut dir,
            };
            // Only devices /sys shows, as when the listing comes from sysfs; and the same device,
            // not a namesake from the network namespace sysfs was mounted in.
            let readable = match sysfs.read(c"ifindex", &mut buf) {
                Ok(()) if buf.int() == Some(i64::from(link.index)) => true,
                Ok(()) => continue,
                Err(e) if is_errno(&e, libc::ENOENT) || is_errno(&e, libc::ENOTDIR) => continue,
                Err(_) => false,
            };
            in_sysfs += 1;
            dev.clear();
            let sysfs: Option<&mut dyn Attributes> = readable.then_some(&mut sysfs);
            dev.read_netlink(link, sysfs, &mut buf);
            families.push(&link.name, &dev);
        }
        if in_sysfs == 0 {
            // No /sys/class/net at all is an error, as in the sysfs listing.
            if let Err(e) = self.open_class_net() {
                return Some(Err(e));
            }
        }
        Some(Ok(families.into_vec()))
    }
}

impl BlockingCollector for NetclassCollector {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect(&self) -> CollectResult {
        #[cfg(target_os = "linux")]
        if self.use_netlink {
            if let Some(result) = self.collect_netlink() {
                return result;
            }
        }
        self.collect_sysfs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, assert_not_available, family, label_pairs, sysfs_at, write};

    #[test]
    fn parses_hex_decimal_and_negative_attributes() {
        assert_eq!(parse_attr_int("0x1003\n"), Some(4099));
        assert_eq!(parse_attr_int("0x0"), Some(0));
        assert_eq!(parse_attr_int("1500\n"), Some(1500));
        assert_eq!(parse_attr_int("-1\n"), Some(-1));
    }

    #[test]
    fn garbage_attributes_are_none() {
        assert_maps(
            parse_attr_int,
            &[
                ("", None),
                ("0x", None),
                ("0xzz", None),
                ("up", None),
                ("99999999999999999999999", None),
            ],
        );
    }

    fn write_attrs(dir: &Path, attrs: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, value) in attrs {
            std::fs::write(dir.join(name), value).unwrap();
        }
    }

    fn sample<'a>(fams: &'a [MetricFamily], name: &str, device: &str) -> Option<&'a f64> {
        fams.iter()
            .find(|f| f.name == name)?
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|l| l.0 == "device" && l.1 == device))
            .map(|s| &s.value)
    }

    #[test]
    fn collects_devices_skipping_missing_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("class/net");
        write_attrs(
            &net.join("eth0"),
            &[
                ("addr_assign_type", "0\n"),
                ("address", "02:fc:00:00:00:01\n"),
                ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
                ("carrier", "1\n"),
                ("carrier_changes", "2\n"),
                ("carrier_up_count", "1\n"),
                ("carrier_down_count", "1\n"),
                ("dev_id", "0x0\n"),
                ("dormant", "0\n"),
                ("duplex", "unknown\n"),
                ("flags", "0x1003\n"),
                ("ifalias", "\n"),
                ("ifindex", "4\n"),
                ("iflink", "4\n"),
                ("link_mode", "0\n"),
                ("mtu", "1400\n"),
                ("name_assign_type", "1\n"),
                ("netdev_group", "0\n"),
                ("operstate", "up\n"),
                ("speed", "-1\n"),
                ("tx_queue_len", "1000\n"),
                ("type", "1\n"),
            ],
        );
        // A down virtual device: no carrier/dormant/speed/duplex (EINVAL on a real system).
        write_attrs(
            &net.join("ifb0"),
            &[
                ("address", "6e:ce:74:8b:7d:f3\n"),
                ("flags", "0x82\n"),
                ("mtu", "1500\n"),
                ("operstate", "down\n"),
                ("speed", "garbage\n"),
                ("type", "1\n"),
            ],
        );
        write_attrs(&net.join("veth9"), &[("operstate", "up\n")]);
        write(&net.join("bonding_masters"), "bond0\n");

        let cfg = sysfs_at(dir.path());
        let veth = Regex::new("^veth").unwrap();
        let fams = NetclassCollector::new(&cfg, &veth).collect().unwrap();

        let info = family(&fams, "node_network_info");
        assert_eq!(info.samples.len(), 2);
        let labels = label_pairs(&info.samples[0]);
        assert_eq!(
            labels,
            [
                ("address", "02:fc:00:00:00:01"),
                ("broadcast", "ff:ff:ff:ff:ff:ff"),
                ("device", "eth0"),
                ("duplex", "unknown"),
                ("ifalias", ""),
                ("operstate", "up"),
            ]
        );
        assert_eq!(info.samples[1].labels[3].1, "");

        assert_eq!(sample(&fams, "node_network_up", "eth0"), Some(&1.0));
        assert_eq!(sample(&fams, "node_network_up", "ifb0"), Some(&0.0));
        assert_eq!(sample(&fams, "node_network_flags", "eth0"), Some(&4099.0));
        assert_eq!(sample(&fams, "node_network_flags", "ifb0"), Some(&130.0));
        assert_eq!(
            sample(&fams, "node_network_speed_bytes", "eth0"),
            Some(&-125000.0)
        );
        assert_eq!(sample(&fams, "node_network_speed_bytes", "ifb0"), None);
        assert_eq!(sample(&fams, "node_network_carrier", "ifb0"), None);
        assert_eq!(
            sample(&fams, "node_network_carrier_up_changes_total", "eth0"),
            Some(&1.0)
        );
        assert_eq!(sample(&fams, "node_network_iface_id", "eth0"), Some(&4.0));
        assert_eq!(
            sample(&fams, "node_network_transmit_queue_length", "eth0"),
            Some(&1000.0)
        );
        assert_eq!(
            sample(&fams, "node_network_protocol_type", "ifb0"),
            Some(&1.0)
        );
        assert!(sample(&fams, "node_network_up", "veth9").is_none());
        assert!(sample(&fams, "node_network_up", "bonding_masters").is_none());

        let kinds: Vec<_> = fams
            .iter()
            .filter(|f| f.kind == MetricType::Counter)
            .map(|f| f.name.as_ref())
            .collect();
        assert_eq!(
            kinds,
            [
                "node_network_carrier_changes_total",
                "node_network_carrier_up_changes_total",
                "node_network_carrier_down_changes_total"
            ]
        );
    }

    #[test]
    fn missing_class_net_is_not_available() {
        let cfg = HostPaths {
            sysfs: "/nonexistent".into(),
            ..HostPaths::default()
        };
        assert_not_available(
            NetclassCollector::new(&cfg, &Regex::new(DEFAULT_IGNORED_DEVICES).unwrap()).collect(),
        );
    }

    #[test]
    fn attribute_buffer_reads_empty_and_multi_page_files() {
        let dir = tempfile::tempdir().unwrap();
        let big = "7".repeat(10_000);
        write_attrs(
            dir.path(),
            &[("empty", ""), ("big", &big), ("small", " 42\n")],
        );
        let d = Dir::open(dir.path()).unwrap();
        assert!(d.subdir(c"small").is_err());
        let kept = KeptFiles::default();
        let mut scrape = kept.scrape();
        let mut path = dir.path().to_path_buf();
        let sources: [Box<dyn Attributes + '_>; 2] = [
            Box::new(&d),
            Box::new(KeptAttributes {
                files: &mut scrape,
                dir: &mut path,
            }),
        ];
        for mut attrs in sources {
            let mut buf = AttrBuf::new();
            attrs.read(c"empty", &mut buf).unwrap();
            assert_eq!(buf.contents(), b"");
            attrs.read(c"big", &mut buf).unwrap();
            assert_eq!(buf.contents(), big.as_bytes());
            attrs.read(c"small", &mut buf).unwrap();
            assert_eq!(buf.int(), Some(42));
            assert!(attrs.read(c"missing", &mut buf).is_err());
            assert_eq!(read_int(&mut *attrs, c"missing", &mut buf), None);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn netlink_values_read_like_sysfs() {
        use crate::netlink::{Link, IFF_DORMANT, IFF_LOWER_UP, IFF_RUNNING, IFF_UP};
        let mut buf = AttrBuf::new();
        let mut dev = Device::default();
        let up = Link {
            name: "eth0".into(),
            index: 4,
            link_type: 1,
            flags: IFF_UP | IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT | 0x1002,
            address: vec![0x02, 0xfc, 0, 0, 0, 1],
            broadcast: vec![0xff; 6],
            mtu: Some(1400),
            operstate: Some(5),
            txqlen: Some(1000),
            carrier: Some(1),
            carrier_changes: Some(u32::MAX),
            group: Some(0),
            ifalias: Some(" wan \n".into()),
            link_mode: Some(1),
            link: Some(2),
            promiscuity: Some(1),
            allmulti: Some(0),
            ..Link::default()
        };
        dev.read_netlink(&up, None, &mut buf);
        assert_eq!(dev.address, "02:fc:00:00:00:01");
        assert_eq!(dev.broadcast, "ff:ff:ff:ff:ff:ff");
        assert_eq!(dev.ifalias, "wan");
        assert_eq!(dev.operstate, "dormant");
        assert_eq!(dev.duplex, "");
        let v = dev.values;
        assert_eq!(v[idx::ADDR_ASSIGN_TYPE], None);
        assert_eq!(v[idx::CARRIER], Some(1.0));
        // `%d` of a wrapped counter, as sysfs prints it.
        assert_eq!(v[idx::CARRIER_CHANGES], Some(-1.0));
        assert_eq!(v[idx::CARRIER_UP], None);
        assert_eq!(v[idx::DORMANT], Some(1.0));
        assert_eq!(v[idx::FLAGS], Some(f64::from(0x1103)));
        assert_eq!(v[idx::IFINDEX], Some(4.0));
        assert_eq!(v[idx::IFLINK], Some(2.0));
        assert_eq!(v[idx::LINK_MODE], Some(1.0));
        assert_eq!(v[idx::MTU], Some(1400.0));
        assert_eq!(v[idx::NETDEV_GROUP], Some(0.0));
        assert_eq!(v[idx::SPEED], None);
        assert_eq!(v[idx::TX_QUEUE_LEN], Some(1000.0));
        assert_eq!(v[idx::TYPE], Some(1.0));

        // A down device: sysfs refuses carrier and dormant; no address; an unknown operstate.
        let down = Link {
            name: "ifb0".into(),
            index: 2,
            flags: 0x82,
            operstate: Some(9),
            carrier: Some(0),
            ..Link::default()
        };
        dev.clear();
        dev.read_netlink(&down, None, &mut buf);
        assert_eq!(dev.address, "");
        assert_eq!(dev.operstate, "");
        assert_eq!(dev.values[idx::CARRIER], None);
        assert_eq!(dev.values[idx::DORMANT], None);
        assert_eq!(dev.values[idx::IFLINK], Some(2.0));
        // No IFLA_PROMISCUITY/IFLA_ALLMULTI and no sysfs: flags unknown.
        assert_eq!(dev.values[idx::FLAGS], None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn netlink_and_sysfs_agree_on_this_host() {
        if !Path::new("/sys/class/net").is_dir() || crate::netlink::dump_links().is_err() {
            return;
        }
        let netlink = NetclassCollector::new(
            &HostPaths::default(),
            &Regex::new(DEFAULT_IGNORED_DEVICES).unwrap(),
        );
        assert!(netlink.use_netlink);
        let sysfs = NetclassCollector {
            use_netlink: false,
            ..NetclassCollector::new(
                &HostPaths::default(),
                &Regex::new(DEFAULT_IGNORED_DEVICES).unwrap(),
            )
        };
        // Counters can move between two reads; retry a few times before calling it a mismatch.
        // Each round scrapes netlink twice: the second reads the attribute files kept open.
        let mut last = None;
        for _ in 0..5 {
            let opened = netlink.collect().unwrap();
            let kept = netlink.collect().unwrap();
            let b = sysfs.collect().unwrap();
            if opened == b && kept == b {
                return;
            }
            last = Some((opened, kept, b));
        }
        let (opened, kept, b) = last.unwrap();
        assert_eq!(opened, b);
        assert_eq!(kept, b);
    }
}
