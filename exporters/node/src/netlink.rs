//! A minimal rtnetlink client: one `RTM_GETLINK` dump, parsed into one [`Link`] per network
//! device of the caller's network namespace.
//!
//! One dump costs a handful of system calls for every device at once, where sysfs costs a path
//! walk, an open, a read and a close per attribute per device. The parser ([`parse_dump`]) is a
//! pure function over the received bytes so it can be tested on hand-built messages; every length
//! read from the wire is checked before it is used, so a truncated or corrupt buffer is an error,
//! never a panic.
//!
//! Over 800 lines because of its unit tests (about two fifths of the file), kept beside the
//! parser they check.
#![allow(
    unsafe_code,
    reason = "a raw rtnetlink socket: socket, setsockopt, sendto, recvfrom through libc"
)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

// uapi/linux/netlink.h
const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
// uapi/linux/rtnetlink.h
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const IFINFOMSG_LEN: usize = 16;
const RTA_HDRLEN: usize = 4;
/// Strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an attribute type.
const NLA_TYPE_MASK: u16 = 0x3fff;
// uapi/linux/if_link.h
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_IFALIAS: u16 = 20;
const IFLA_STATS64: u16 = 23;
const IFLA_GROUP: u16 = 27;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_CARRIER_UP_COUNT: u16 = 47;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
const IFLA_ALLMULTI: u16 = 61;

// uapi/linux/if.h
pub(crate) const IFF_UP: u32 = 0x1;
pub(crate) const IFF_RUNNING: u32 = 0x40;
pub(crate) const IFF_PROMISC: u32 = 0x100;
pub(crate) const IFF_ALLMULTI: u32 = 0x200;
pub(crate) const IFF_LOWER_UP: u32 = 0x1_0000;
pub(crate) const IFF_DORMANT: u32 = 0x2_0000;

/// The largest datagram one `recv` accepts. The kernel sizes dump datagrams from the reader's
/// buffer but caps them at 32 KiB; anything larger is reported as an error, not cut short.
const RECV_BUF: usize = 64 * 1024;
/// Bounds one dump so a misbehaving socket cannot hold a scrape: per `recv`, and in total.
const RECV_TIMEOUT: Duration = Duration::from_secs(1);
const DUMP_DEADLINE: Duration = Duration::from_secs(2);
const MAX_DATAGRAMS: usize = 4096;

/// `struct rtnl_link_stats64`: the first 23 counters exist on every kernel that sends the
/// attribute; the last two are zero when the kernel predates them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LinkStats64 {
    pub(crate) rx_packets: u64,
    pub(crate) tx_packets: u64,
    pub(crate) rx_bytes: u64,
    pub(crate) tx_bytes: u64,
    pub(crate) rx_errors: u64,
    pub(crate) tx_errors: u64,
    pub(crate) rx_dropped: u64,
    pub(crate) tx_dropped: u64,
    pub(crate) multicast: u64,
    pub(crate) collisions: u64,
    pub(crate) rx_length_errors: u64,
    pub(crate) rx_over_errors: u64,
    pub(crate) rx_crc_errors: u64,
    pub(crate) rx_frame_errors: u64,
    pub(crate) rx_fifo_errors: u64,
    pub(crate) rx_missed_errors: u64,
    pub(crate) tx_aborted_errors: u64,
    pub(crate) tx_carrier_errors: u64,
    pub(crate) tx_fifo_errors: u64,
    pub(crate) tx_heartbeat_errors: u64,
    pub(crate) tx_window_errors: u64,
    pub(crate) rx_compressed: u64,
    pub(crate) tx_compressed: u64,
    pub(crate) rx_nohandler: u64,
    pub(crate) rx_otherhost_dropped: u64,
}

/// One network device as `RTM_NEWLINK` describes it. Attributes a kernel did not send are `None`
/// (or empty for the hardware addresses, which the kernel omits when `addr_len` is 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) name: String,
    /// `ifi_index`, sysfs `ifindex`.
    pub(crate) index: i32,
    /// `ifi_type` (ARPHRD_*), sysfs `type`.
    pub(crate) link_type: u16,
    /// `ifi_flags`: unlike sysfs `flags` this carries the computed IFF_RUNNING, IFF_LOWER_UP and
    /// IFF_DORMANT bits and only the user-requested IFF_PROMISC/IFF_ALLMULTI; see
    /// [`Link::sysfs_flags`].
    pub(crate) flags: u32,
    pub(crate) address: Vec<u8>,
    pub(crate) broadcast: Vec<u8>,
    pub(crate) mtu: Option<u32>,
    /// IF_OPER_*, already IF_OPER_DOWN when the device is not running (as sysfs shows it).
    pub(crate) operstate: Option<u8>,
    pub(crate) txqlen: Option<u32>,
    pub(crate) carrier: Option<u8>,
    pub(crate) carrier_changes: Option<u32>,
    pub(crate) carrier_up_count: Option<u32>,
    pub(crate) carrier_down_count: Option<u32>,
    pub(crate) group: Option<u32>,
    pub(crate) ifalias: Option<String>,
    pub(crate) link_mode: Option<u8>,
    /// `IFLA_LINK`: the kernel sends it only when it differs from the device's own index.
    pub(crate) link: Option<i32>,
    pub(crate) promiscuity: Option<u32>,
    pub(crate) allmulti: Option<u32>,
    pub(crate) stats64: Option<LinkStats64>,
}

impl Link {
    /// sysfs `iflink`: the kernel omits IFLA_LINK when it equals the device's own index.
    pub(crate) fn iflink(&self) -> i32 {
        self.link.unwrap_or(self.index)
    }

    /// `netif_running()`: sysfs refuses `carrier`, `dormant`, `speed` and `duplex` without it.
    pub(crate) fn is_running(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// `netif_dormant()` for a running device, as sysfs `dormant` shows it.
    pub(crate) fn dormant(&self) -> Option<u8> {
        self.is_running()
            .then_some(u8::from(self.flags & IFF_DORMANT != 0))
    }

    /// sysfs `flags` (`dev->flags`) rebuilt from `ifi_flags` (`dev_get_flags()`): drop the bits
    /// the kernel computes for netlink and set IFF_PROMISC/IFF_ALLMULTI from their counters, as
    /// `dev->flags` does. `None` on kernels without both counters (IFLA_ALLMULTI is Linux 6.7+).
    pub(crate) fn sysfs_flags(&self) -> Option<u32> {
        let promiscuity = self.promiscuity?;
        let allmulti = self.allmulti?;
        let mut flags =
            self.flags & !(IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT | IFF_PROMISC | IFF_ALLMULTI);
        if promiscuity > 0 {
            flags |= IFF_PROMISC;
        }
        if allmulti > 0 {
            flags |= IFF_ALLMULTI;
        }
        Some(flags)
    }
}

/// sysfs spelling of IF_OPER_* (net-sysfs.c `operstates`); `None` beyond the table, where sysfs
/// answers EINVAL.
pub(crate) fn operstate_name(state: u8) -> Option<&'static str> {
    const NAMES: [&str; 7] = [
        "unknown",
        "notpresent",
        "down",
        "lowerlayerdown",
        "testing",
        "dormant",
        "up",
    ];
    NAMES.get(usize::from(state)).copied()
}

/// Appends a hardware address as sysfs prints it (`%*phC`): lowercase hex, colon-separated.
pub(crate) fn format_hw_addr(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

#[derive(Debug)]
pub(crate) enum Error {
    Io(io::Error),
    /// An errno the kernel reported in NLMSG_ERROR or NLMSG_DONE.
    Kernel(i32),
    Malformed(&'static str),
    Timeout,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "netlink: {e}"),
            Error::Kernel(errno) => write!(
                f,
                "netlink: kernel error: {}",
                io::Error::from_raw_os_error(*errno)
            ),
            Error::Malformed(what) => write!(f, "netlink: malformed reply: {what}"),
            Error::Timeout => f.write_str("netlink: timed out"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Whether a dump needs more datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    More,
    Done,
}

const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let bytes = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let bytes = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_ne_bytes(bytes.try_into().ok()?))
}

fn attr_u32(data: &[u8]) -> Result<u32, Error> {
    u32_at(data, 0).ok_or(Error::Malformed("short u32 attribute"))
}

fn attr_u8(data: &[u8]) -> Result<u8, Error> {
    data.first()
        .copied()
        .ok_or(Error::Malformed("short u8 attribute"))
}

/// A NUL-terminated string attribute (the terminator is optional on the wire).
fn attr_str(data: &[u8]) -> &[u8] {
    match data.iter().position(|&b| b == 0) {
        Some(end) => &data[..end],
        None => data,
    }
}

fn parse_stats64(data: &[u8]) -> Result<LinkStats64, Error> {
    const REQUIRED: usize = 23 * 8;
    if data.len() < REQUIRED {
        return Err(Error::Malformed("short IFLA_STATS64"));
    }
    let mut fields = (0..25).map(|i| u64_at(data, i * 8).unwrap_or(0));
    let mut next = || fields.next().unwrap_or(0);
    Ok(LinkStats64 {
        rx_packets: next(),
        tx_packets: next(),
        rx_bytes: next(),
        tx_bytes: next(),
        rx_errors: next(),
        tx_errors: next(),
        rx_dropped: next(),
        tx_dropped: next(),
        multicast: next(),
        collisions: next(),
        rx_length_errors: next(),
        rx_over_errors: next(),
        rx_crc_errors: next(),
        rx_frame_errors: next(),
        rx_fifo_errors: next(),
        rx_missed_errors: next(),
        tx_aborted_errors: next(),
        tx_carrier_errors: next(),
        tx_fifo_errors: next(),
        tx_heartbeat_errors: next(),
        tx_window_errors: next(),
        rx_compressed: next(),
        tx_compressed: next(),
        rx_nohandler: next(),
        rx_otherhost_dropped: next(),
    })
}

/// Parses the payload of one RTM_NEWLINK message: `struct ifinfomsg` and its attributes.
pub(crate) fn parse_link(payload: &[u8]) -> Result<Link, Error> {
    if payload.len() < IFINFOMSG_LEN {
        return Err(Error::Malformed("short ifinfomsg"));
    }
    // struct ifinfomsg { u8 family; u8 pad; u16 type; i32 index; u32 flags; u32 change; }
    let mut link = Link {
        link_type: u16_at(payload, 2).unwrap_or(0),
        index: u32_at(payload, 4).unwrap_or(0) as i32,
        flags: u32_at(payload, 8).unwrap_or(0),
        ..Link::default()
    };
    let mut name = None;
    let mut off = IFINFOMSG_LEN;
    while off < payload.len() {
        let rest = &payload[off..];
        let (Some(rta_len), Some(rta_type)) = (u16_at(rest, 0), u16_at(rest, 2)) else {
            return Err(Error::Malformed("truncated attribute header"));
        };
        let rta_len = usize::from(rta_len);
        if rta_len < RTA_HDRLEN || rta_len > rest.len() {
            return Err(Error::Malformed("attribute length out of bounds"));
        }
        let data = &rest[RTA_HDRLEN..rta_len];
        match rta_type & NLA_TYPE_MASK {
            IFLA_IFNAME => name = Some(attr_str(data)),
            IFLA_ADDRESS => link.address = data.to_vec(),
            IFLA_BROADCAST => link.broadcast = data.to_vec(),
            IFLA_MTU => link.mtu = Some(attr_u32(data)?),
            IFLA_LINK => link.link = Some(attr_u32(data)? as i32),
            IFLA_TXQLEN => link.txqlen = Some(attr_u32(data)?),
            IFLA_OPERSTATE => link.operstate = Some(attr_u8(data)?),
            IFLA_LINKMODE => link.link_mode = Some(attr_u8(data)?),
            IFLA_IFALIAS => {
                link.ifalias = Some(String::from_utf8_lossy(attr_str(data)).into_owned())
            }
            IFLA_STATS64 => link.stats64 = Some(parse_stats64(data)?),
            IFLA_GROUP => link.group = Some(attr_u32(data)?),
            IFLA_PROMISCUITY => link.promiscuity = Some(attr_u32(data)?),
            IFLA_CARRIER => link.carrier = Some(attr_u8(data)?),
            IFLA_CARRIER_CHANGES => link.carrier_changes = Some(attr_u32(data)?),
            IFLA_CARRIER_UP_COUNT => link.carrier_up_count = Some(attr_u32(data)?),
            IFLA_CARRIER_DOWN_COUNT => link.carrier_down_count = Some(attr_u32(data)?),
            IFLA_ALLMULTI => link.allmulti = Some(attr_u32(data)?),
            _ => {}
        }
        off = off.saturating_add(align4(rta_len));
    }
    let name = name.ok_or(Error::Malformed("link without IFLA_IFNAME"))?;
    if name.is_empty() {
        return Err(Error::Malformed("empty IFLA_IFNAME"));
    }
    // sysfs listings skip names that are not UTF-8 too; mark them for the caller to skip.
    link.name = std::str::from_utf8(name)
        .map_err(|_| Error::Malformed("IFLA_IFNAME is not UTF-8"))?
        .to_owned();
    Ok(link)
}

/// Parses one received datagram of a link dump, appending links to `links`. Messages with a
/// different sequence number (not answers to our request) are skipped. `Done` after NLMSG_DONE
/// (or an ACK); a kernel error is returned as [`Error::Kernel`].
pub(crate) fn parse_dump(buf: &[u8], seq: u32, links: &mut Vec<Link>) -> Result<Progress, Error> {
    let mut off = 0;
    while off < buf.len() {
        let msg = &buf[off..];
        let (Some(len), Some(kind), Some(msg_seq)) =
            (u32_at(msg, 0), u16_at(msg, 4), u32_at(msg, 8))
        else {
            return Err(Error::Malformed("truncated message header"));
        };
        let len = usize::try_from(len).map_err(|_| Error::Malformed("message length"))?;
        if len < NLMSG_HDRLEN || len > msg.len() {
            return Err(Error::Malformed("message length out of bounds"));
        }
        let payload = &msg[NLMSG_HDRLEN..len];
        if msg_seq == seq {
            match kind {
                NLMSG_NOOP => {}
                NLMSG_ERROR => {
                    let errno =
                        u32_at(payload, 0).ok_or(Error::Malformed("short NLMSG_ERROR"))? as i32;
                    if errno == 0 {
                        return Ok(Progress::Done);
                    }
                    return Err(Error::Kernel(errno.saturating_neg()));
                }
                NLMSG_DONE => {
                    // Since Linux 4.x the payload carries the dump's final status.
                    let status = u32_at(payload, 0).map_or(0, |v| v as i32);
                    if status < 0 {
                        return Err(Error::Kernel(status.saturating_neg()));
                    }
                    return Ok(Progress::Done);
                }
                NLMSG_OVERRUN => return Err(Error::Malformed("NLMSG_OVERRUN")),
                RTM_NEWLINK => links.push(parse_link(payload)?),
                _ => {}
            }
        }
        off = off.saturating_add(align4(len));
    }
    Ok(Progress::More)
}

/// The 32-byte `RTM_GETLINK` dump request: nlmsghdr + an all-zero ifinfomsg (AF_UNSPEC).
pub(crate) fn dump_request(seq: u32) -> [u8; NLMSG_HDRLEN + IFINFOMSG_LEN] {
    let mut req = [0u8; NLMSG_HDRLEN + IFINFOMSG_LEN];
    req[0..4].copy_from_slice(&((NLMSG_HDRLEN + IFINFOMSG_LEN) as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&seq.to_ne_bytes());
    // nlmsg_pid 0: the kernel fills in our port id.
    req
}

fn last_os_error() -> Error {
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout,
        _ => Error::Io(e),
    }
}

/// A NETLINK_ROUTE socket, closed on drop.
struct RouteSocket(OwnedFd);

impl RouteSocket {
    fn open() -> Result<Self, Error> {
        // SAFETY: plain system call; the result is checked before it is wrapped.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        // SAFETY: `fd` is a freshly created descriptor nobody else owns.
        let sock = RouteSocket(unsafe { OwnedFd::from_raw_fd(fd) });
        let tv = libc::timeval {
            tv_sec: RECV_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: RECV_TIMEOUT.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: `tv` outlives the call and the length matches its type.
        let rc = unsafe {
            libc::setsockopt(
                sock.0.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::addr_of!(tv).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        Ok(sock)
    }

    fn send(&self, msg: &[u8]) -> Result<(), Error> {
        // SAFETY: an all-zero sockaddr_nl is valid (pid 0 = the kernel).
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: `msg` and `kernel` are valid for the lengths passed.
            let n = unsafe {
                libc::sendto(
                    self.0.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    std::ptr::addr_of!(kernel).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n >= 0 {
                return if n as usize == msg.len() {
                    Ok(())
                } else {
                    Err(Error::Malformed("short send"))
                };
            }
            let e = last_os_error();
            if !matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::Interrupted) {
                return Err(e);
            }
        }
    }

    /// Receives one datagram into `buf` (replacing its contents, reusing its allocation).
    /// Returns whether the kernel sent it: anything else is not an answer to us.
    fn recv(&self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        buf.clear();
        // SAFETY: an all-zero sockaddr_nl is valid.
        let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        loop {
            let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: the kernel writes at most `capacity` bytes into the spare capacity and at
            // most `from_len` bytes into `from`. MSG_TRUNC makes it return the datagram's real
            // length, so a datagram larger than the buffer is detected instead of cut short.
            let n = unsafe {
                libc::recvfrom(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.capacity(),
                    libc::MSG_TRUNC,
                    std::ptr::addr_of_mut!(from).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = last_os_error();
                if matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::Interrupted) {
                    continue;
                }
                return Err(e);
            }
            let n = n as usize;
            if n > buf.capacity() {
                return Err(Error::Malformed("datagram larger than the receive buffer"));
            }
            // SAFETY: the kernel initialised the first `n <= capacity` bytes.
            unsafe { buf.set_len(n) };
            return Ok(from.nl_pid == 0);
        }
    }
}

static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

/// Dumps every link of the caller's network namespace, in the kernel's (ifindex) order, on a
/// socket of its own (the collector keeps one in [`LinkDumper`]).
#[cfg(test)]
pub(crate) fn dump_links() -> Result<Vec<Link>, Error> {
    dump_links_on(&RouteSocket::open()?)
}

/// A route socket kept open from one dump to the next: opening one is three system calls (socket,
/// setsockopt, close) a scrape. An error discards it, so a dump cut short cannot leave datagrams
/// behind for the next one; the next dump opens a new socket.
#[derive(Default)]
pub(crate) struct LinkDumper {
    sock: std::sync::Mutex<Option<RouteSocket>>,
}

impl LinkDumper {
    pub(crate) fn dump(&self) -> Result<Vec<Link>, Error> {
        let mut slot = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let sock = match &mut *slot {
            Some(sock) => sock,
            empty => empty.insert(RouteSocket::open()?),
        };
        let result = dump_links_on(sock);
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

fn dump_links_on(sock: &RouteSocket) -> Result<Vec<Link>, Error> {
    let seq = NEXT_SEQ.fetch_add(1, Ordering::Relaxed);
    sock.send(&dump_request(seq))?;
    let deadline = Instant::now() + DUMP_DEADLINE;
    let mut buf = Vec::with_capacity(RECV_BUF);
    let mut links = Vec::new();
    for _ in 0..MAX_DATAGRAMS {
        if sock.recv(&mut buf)? && parse_dump(&buf, seq, &mut links)? == Progress::Done {
            return Ok(links);
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout);
        }
    }
    Err(Error::Malformed("dump did not end"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds netlink messages for tests (native endian, 4-byte aligned like the kernel).
    #[derive(Default)]
    struct Msg {
        bytes: Vec<u8>,
    }

    impl Msg {
        fn new(kind: u16, flags: u16, seq: u32) -> Self {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&0u32.to_ne_bytes());
            bytes.extend_from_slice(&kind.to_ne_bytes());
            bytes.extend_from_slice(&flags.to_ne_bytes());
            bytes.extend_from_slice(&seq.to_ne_bytes());
            bytes.extend_from_slice(&4242u32.to_ne_bytes());
            Msg { bytes }
        }

        fn ifinfo(mut self, link_type: u16, index: i32, flags: u32) -> Self {
            self.bytes.extend_from_slice(&[0, 0]);
            self.bytes.extend_from_slice(&link_type.to_ne_bytes());
            self.bytes.extend_from_slice(&index.to_ne_bytes());
            self.bytes.extend_from_slice(&flags.to_ne_bytes());
            self.bytes.extend_from_slice(&0xffff_ffffu32.to_ne_bytes());
            self
        }

        fn raw(mut self, data: &[u8]) -> Self {
            self.bytes.extend_from_slice(data);
            self
        }

        fn attr(mut self, kind: u16, data: &[u8]) -> Self {
            self.bytes
                .extend_from_slice(&((RTA_HDRLEN + data.len()) as u16).to_ne_bytes());
            self.bytes.extend_from_slice(&kind.to_ne_bytes());
            self.bytes.extend_from_slice(data);
            while self.bytes.len() & 3 != 0 {
                self.bytes.push(0);
            }
            self
        }

        fn u32(self, kind: u16, v: u32) -> Self {
            self.attr(kind, &v.to_ne_bytes())
        }

        fn build(mut self) -> Vec<u8> {
            let len = self.bytes.len() as u32;
            self.bytes[0..4].copy_from_slice(&len.to_ne_bytes());
            self.bytes
        }
    }

    fn eth0(seq: u32) -> Vec<u8> {
        let mut stats = Vec::new();
        for i in 1..=25u64 {
            stats.extend_from_slice(&i.to_ne_bytes());
        }
        Msg::new(RTM_NEWLINK, 0x2, seq)
            .ifinfo(1, 4, 0x11043)
            .attr(IFLA_IFNAME, b"eth0\0")
            .u32(IFLA_TXQLEN, 1000)
            .attr(IFLA_OPERSTATE, &[6])
            .attr(IFLA_LINKMODE, &[0])
            .u32(IFLA_MTU, 1400)
            .u32(IFLA_GROUP, 0)
            .u32(IFLA_PROMISCUITY, 0)
            .u32(IFLA_ALLMULTI, 0)
            .attr(IFLA_CARRIER, &[1])
            .u32(IFLA_CARRIER_CHANGES, 2)
            .u32(IFLA_CARRIER_UP_COUNT, 1)
            .u32(IFLA_CARRIER_DOWN_COUNT, 1)
            .attr(IFLA_ADDRESS, &[0x02, 0xfc, 0, 0, 0, 1])
            .attr(IFLA_BROADCAST, &[0xff; 6])
            .attr(IFLA_STATS64, &stats)
            // A nested attribute the parser does not know (IFLA_AF_SPEC | NLA_F_NESTED).
            .attr(26 | 0x8000, &[8, 0, 1, 0, 0, 0, 0, 0])
            .build()
    }

    fn done(seq: u32, status: i32) -> Vec<u8> {
        Msg::new(NLMSG_DONE, 0x2, seq)
            .raw(&status.to_ne_bytes())
            .build()
    }

    /// A complete RTM_NEWLINK for `lo` followed by NLMSG_DONE, written out byte by byte.
    #[cfg(target_endian = "little")]
    const LO_AND_DONE: &[u8] = &[
        // nlmsghdr: len 76, RTM_NEWLINK, NLM_F_MULTI, seq 7, pid 99
        76, 0, 0, 0, 16, 0, 2, 0, 7, 0, 0, 0, 99, 0, 0, 0, //
        // ifinfomsg: AF_UNSPEC, ARPHRD_LOOPBACK (772), index 1, flags 0x10049, change 0
        0, 0, 0x04, 0x03, 1, 0, 0, 0, 0x49, 0, 1, 0, 0, 0, 0, 0, //
        // IFLA_IFNAME "lo\0" (len 7, padded to 8)
        7, 0, 3, 0, b'l', b'o', 0, 0, //
        // IFLA_MTU 65536
        8, 0, 4, 0, 0, 0, 1, 0, //
        // IFLA_OPERSTATE IF_OPER_UNKNOWN (len 5, padded to 8)
        5, 0, 16, 0, 0, 0, 0, 0, //
        // IFLA_ADDRESS 00:00:00:00:00:00 (len 10, padded to 12)
        10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        // IFLA_TXQLEN 1000
        8, 0, 13, 0, 0xe8, 0x03, 0, 0, //
        // nlmsghdr: len 20, NLMSG_DONE, NLM_F_MULTI, seq 7, pid 99; status 0
        20, 0, 0, 0, 3, 0, 2, 0, 7, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0,
    ];

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_a_literal_loopback_dump() {
        let mut links = Vec::new();
        assert_eq!(
            parse_dump(LO_AND_DONE, 7, &mut links).unwrap(),
            Progress::Done
        );
        assert_eq!(links.len(), 1);
        let lo = &links[0];
        assert_eq!(lo.name, "lo");
        assert_eq!(lo.index, 1);
        assert_eq!(lo.link_type, 772);
        assert_eq!(lo.flags, 0x10049);
        assert_eq!(lo.mtu, Some(65536));
        assert_eq!(lo.operstate, Some(0));
        assert_eq!(lo.txqlen, Some(1000));
        assert_eq!(lo.address, [0; 6]);
        assert!(lo.broadcast.is_empty());
        assert_eq!(lo.iflink(), 1);
        assert_eq!(lo.carrier, None);
        assert_eq!(lo.sysfs_flags(), None);
        assert!(lo.is_running());
        assert_eq!(lo.dormant(), Some(0));
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn every_truncation_of_the_literal_is_an_error_or_incomplete() {
        for cut in 0..LO_AND_DONE.len() {
            let mut links = Vec::new();
            match parse_dump(&LO_AND_DONE[..cut], 7, &mut links) {
                Err(Error::Malformed(_)) => {}
                Ok(Progress::More) => assert!(cut == 0 || cut == 76, "cut {cut}"),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn parses_a_multi_part_dump() {
        let seq = 11;
        let mut links = Vec::new();
        let first = eth0(seq);
        assert_eq!(parse_dump(&first, seq, &mut links).unwrap(), Progress::More);
        let ifb = Msg::new(RTM_NEWLINK, 0x2, seq)
            .ifinfo(1, 2, 0x82)
            .attr(IFLA_IFNAME, b"ifb0\0")
            .u32(IFLA_MTU, 1500)
            .attr(IFLA_OPERSTATE, &[2])
            .attr(IFLA_CARRIER, &[1])
            .attr(IFLA_IFALIAS, b"uplink \0")
            .u32(IFLA_LINK, 7)
            .u32(IFLA_PROMISCUITY, 2)
            .u32(IFLA_ALLMULTI, 1)
            .build();
        let mut second = ifb;
        second.extend(done(seq, 0));
        assert_eq!(
            parse_dump(&second, seq, &mut links).unwrap(),
            Progress::Done
        );

        assert_eq!(links.len(), 2);
        let eth0 = &links[0];
        assert_eq!(eth0.name, "eth0");
        assert_eq!(eth0.index, 4);
        assert_eq!(eth0.mtu, Some(1400));
        assert_eq!(eth0.operstate.and_then(operstate_name), Some("up"));
        assert_eq!(eth0.carrier, Some(1));
        assert_eq!(eth0.carrier_changes, Some(2));
        assert_eq!(eth0.carrier_up_count, Some(1));
        assert_eq!(eth0.carrier_down_count, Some(1));
        assert_eq!(eth0.group, Some(0));
        assert_eq!(eth0.link_mode, Some(0));
        assert_eq!(eth0.txqlen, Some(1000));
        assert_eq!(eth0.ifalias, None);
        assert_eq!(eth0.iflink(), 4);
        // IFF_RUNNING and IFF_LOWER_UP are netlink-only: sysfs shows 0x1003.
        assert_eq!(eth0.sysfs_flags(), Some(0x1003));
        let stats = eth0.stats64.as_ref().unwrap();
        assert_eq!(stats.rx_packets, 1);
        assert_eq!(stats.tx_compressed, 23);
        assert_eq!(stats.rx_otherhost_dropped, 25);
        let mut addr = String::new();
        format_hw_addr(&eth0.address, &mut addr);
        assert_eq!(addr, "02:fc:00:00:00:01");

        let ifb = &links[1];
        assert_eq!(ifb.iflink(), 7);
        assert_eq!(ifb.ifalias.as_deref(), Some("uplink "));
        assert!(!ifb.is_running());
        assert_eq!(ifb.dormant(), None);
        assert_eq!(ifb.sysfs_flags(), Some(0x82 | IFF_PROMISC | IFF_ALLMULTI));
    }

    #[test]
    fn skips_foreign_sequence_numbers_and_noise() {
        let mut buf = eth0(99);
        buf.extend(Msg::new(NLMSG_NOOP, 0, 5).build());
        buf.extend(Msg::new(0x99, 0, 5).raw(&[1, 2, 3, 4]).build());
        buf.extend(done(99, 0));
        let mut links = Vec::new();
        assert_eq!(parse_dump(&buf, 5, &mut links).unwrap(), Progress::More);
        assert!(links.is_empty());
    }

    #[test]
    fn kernel_errors_are_reported() {
        let mut links = Vec::new();
        let err = Msg::new(NLMSG_ERROR, 0, 3)
            .raw(&(-libc::EPERM).to_ne_bytes())
            .raw(&[0; 16])
            .build();
        assert!(matches!(
            parse_dump(&err, 3, &mut links),
            Err(Error::Kernel(libc::EPERM))
        ));
        let ack = Msg::new(NLMSG_ERROR, 0, 3).raw(&0i32.to_ne_bytes()).build();
        assert_eq!(parse_dump(&ack, 3, &mut links).unwrap(), Progress::Done);
        assert!(matches!(
            parse_dump(&done(3, -libc::EINTR), 3, &mut links),
            Err(Error::Kernel(libc::EINTR))
        ));
        // An old kernel's NLMSG_DONE without a status word.
        let bare = Msg::new(NLMSG_DONE, 0, 3).build();
        assert_eq!(parse_dump(&bare, 3, &mut links).unwrap(), Progress::Done);
        let overrun = Msg::new(NLMSG_OVERRUN, 0, 3).build();
        assert!(parse_dump(&overrun, 3, &mut links).is_err());
        let short_error = Msg::new(NLMSG_ERROR, 0, 3).raw(&[1, 2]).build();
        assert!(parse_dump(&short_error, 3, &mut links).is_err());
    }

    #[test]
    fn every_truncation_of_a_full_link_is_rejected_without_panic() {
        let full = eth0(1);
        for cut in 1..full.len() {
            let mut links = Vec::new();
            assert!(
                parse_dump(&full[..cut], 1, &mut links).is_err(),
                "cut at {cut}"
            );
            // The same bytes with the header's length patched to fit: attributes are cut.
            let mut patched = full[..cut].to_vec();
            if cut >= 4 {
                patched[0..4].copy_from_slice(&(cut as u32).to_ne_bytes());
                let _ = parse_dump(&patched, 1, &mut links);
            }
        }
    }

    #[test]
    fn malformed_links_are_errors() {
        let mut links = Vec::new();
        let cases = [
            // ifinfomsg cut short
            Msg::new(RTM_NEWLINK, 0, 1).raw(&[0; 8]).build(),
            // no name
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .u32(IFLA_MTU, 1)
                .build(),
            // empty name
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .attr(IFLA_IFNAME, b"\0")
                .build(),
            // non-UTF-8 name
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .attr(IFLA_IFNAME, b"\xff\xfe\0")
                .build(),
            // u32 attribute with 2 bytes
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .attr(IFLA_IFNAME, b"x\0")
                .attr(IFLA_MTU, &[1, 2])
                .build(),
            // u8 attribute with no byte
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .attr(IFLA_IFNAME, b"x\0")
                .attr(IFLA_OPERSTATE, &[])
                .build(),
            // short stats
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .attr(IFLA_IFNAME, b"x\0")
                .attr(IFLA_STATS64, &[0; 100])
                .build(),
            // attribute length below its header
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .raw(&[2, 0, 3, 0])
                .build(),
            // attribute length past the message
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .raw(&[200, 0, 3, 0])
                .build(),
            // attribute header cut in half
            Msg::new(RTM_NEWLINK, 0, 1)
                .ifinfo(1, 1, 0)
                .raw(&[8, 0])
                .build(),
        ];
        for (i, case) in cases.iter().enumerate() {
            assert!(
                matches!(parse_dump(case, 1, &mut links), Err(Error::Malformed(_))),
                "case {i}"
            );
        }
        assert!(links.is_empty());
    }

    #[test]
    fn garbage_headers_are_errors() {
        let mut links = Vec::new();
        // Length below the header size, length past the buffer, header cut short.
        for buf in [
            &[4u8, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
            &[255, 255, 255, 255, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
            &[16, 0, 0][..],
        ] {
            assert!(parse_dump(buf, 1, &mut links).is_err());
        }
        // Pseudo-random bytes never panic.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut buf = [0u8; 256];
        for _ in 0..2000 {
            for b in buf.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            let _ = parse_dump(&buf, 1, &mut links);
            let _ = parse_link(&buf);
        }
        assert_eq!(parse_dump(&[], 1, &mut links).unwrap(), Progress::More);
    }

    #[test]
    fn request_is_a_dump_of_getlink() {
        let req = dump_request(0x0102_0304);
        assert_eq!(u32_at(&req, 0), Some(32));
        assert_eq!(u16_at(&req, 4), Some(RTM_GETLINK));
        assert_eq!(u16_at(&req, 6), Some(NLM_F_REQUEST | NLM_F_DUMP));
        assert_eq!(u32_at(&req, 8), Some(0x0102_0304));
        assert!(req[12..].iter().all(|&b| b == 0));
    }

    #[test]
    fn operstates_and_addresses_are_spelled_like_sysfs() {
        let names: Vec<_> = (0..8).map(operstate_name).collect();
        assert_eq!(
            names,
            [
                Some("unknown"),
                Some("notpresent"),
                Some("down"),
                Some("lowerlayerdown"),
                Some("testing"),
                Some("dormant"),
                Some("up"),
                None
            ]
        );
        let mut s = String::new();
        format_hw_addr(&[], &mut s);
        assert_eq!(s, "");
        format_hw_addr(&[0xAB, 0x0c, 0xff], &mut s);
        assert_eq!(s, "ab:0c:ff");
    }

    #[test]
    fn dormant_needs_a_running_device() {
        let mut link = Link {
            flags: IFF_UP | IFF_DORMANT,
            ..Link::default()
        };
        assert_eq!(link.dormant(), Some(1));
        link.flags = IFF_DORMANT;
        assert_eq!(link.dormant(), None);
    }

    /// The live dump agrees with sysfs on this host (skipped where netlink is unavailable).
    #[test]
    fn live_dump_matches_sysfs() {
        let Ok(links) = dump_links() else {
            return;
        };
        assert!(links.iter().any(|l| l.name == "lo"));
        for link in &links {
            let dir = std::path::Path::new("/sys/class/net").join(&link.name);
            let read = |attr: &str| {
                std::fs::read_to_string(dir.join(attr))
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            let Some(ifindex) = read("ifindex") else {
                continue; // sysfs from another namespace
            };
            assert_eq!(ifindex, link.index.to_string());
            assert_eq!(read("iflink"), Some(link.iflink().to_string()));
            assert_eq!(read("mtu"), link.mtu.map(|v| v.to_string()));
            assert_eq!(read("type"), Some(link.link_type.to_string()));
            let mut addr = String::new();
            format_hw_addr(&link.address, &mut addr);
            assert_eq!(read("address"), Some(addr));
            if let Some(flags) = link.sysfs_flags() {
                // sysfs prints `%#x`, which spells zero without the prefix.
                let want = if flags == 0 {
                    "0".to_string()
                } else {
                    format!("{flags:#x}")
                };
                assert_eq!(read("flags"), Some(want));
            }
            assert_eq!(
                read("operstate").as_deref(),
                link.operstate.and_then(operstate_name)
            );
        }
    }
}
