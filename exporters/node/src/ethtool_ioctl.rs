//! The `SIOCETHTOOL` ioctl (include/uapi/linux/ethtool.h), for the ethtool collector: a device's
//! driver info (`ETHTOOL_GDRVINFO`), its legacy link settings (`ETHTOOL_GSET`) and its driver
//! statistics (`ETHTOOL_GSTRINGS` and `ETHTOOL_GSTATS` of the `ETH_SS_STATS` set), the calls
//! node_exporter 1.5 makes (through safchain/ethtool).
#![allow(
    unsafe_code,
    reason = "the SIOCETHTOOL ioctl through libc: socket, and ioctl with the kernel's ethtool structs"
)]

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// include/uapi/linux/sockios.h and ethtool.h
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GSET: u32 = 0x01;
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
const IFNAMSIZ: usize = 16;
/// More statistics than any driver has: a count past it is taken as a corrupt answer.
const MAX_STATS: usize = 1 << 16;

/// `struct ifreq` with the `ifr_data` member of its union (the union is 24 bytes on 64-bit
/// Linux, 16 on 32-bit; the padding covers both).
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: *mut c_void,
    _rest: [u8; 16],
}

/// `struct ethtool_drvinfo`.
#[repr(C)]
struct RawDrvInfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// `struct ethtool_cmd` (the settings `ETHTOOL_GSET` returns).
#[repr(C)]
#[derive(Default)]
struct RawCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

/// What `ETHTOOL_GDRVINFO` says about a device's driver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DriverInfo {
    pub(crate) driver: String,
    pub(crate) version: String,
    pub(crate) fw_version: String,
    pub(crate) bus_info: String,
    pub(crate) erom_version: String,
    /// How many statistics `ETH_SS_STATS` has.
    pub(crate) n_stats: u32,
}

/// The legacy link settings: the first 32 link-mode bits the device supports and advertises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkSettings {
    pub(crate) supported: u32,
    pub(crate) advertising: u32,
    /// `AUTONEG_DISABLE` (0) or `AUTONEG_ENABLE` (1).
    pub(crate) autoneg: u8,
}

/// A socket to address ethtool requests to devices of this network namespace.
pub(crate) struct EthtoolSocket {
    fd: OwnedFd,
}

/// The text of a fixed-size, NUL-padded kernel string (all of it when it has no NUL).
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl EthtoolSocket {
    pub(crate) fn open() -> io::Result<EthtoolSocket> {
        // SAFETY: socket(2) takes no pointers; a non-negative result is a descriptor we own.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(EthtoolSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Sends one ethtool command; `data` starts with the command's `u32` and is as large as the
    /// kernel writes for that command (the callers' SAFETY notes say why).
    fn request(&self, device: &str, data: *mut c_void) -> io::Result<()> {
        let name = device.as_bytes();
        if name.len() >= IFNAMSIZ || name.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{device:?} is not a network device name"),
            ));
        }
        let mut req = IfReq {
            name: [0; IFNAMSIZ],
            data,
            _rest: [0; 16],
        };
        req.name[..name.len()].copy_from_slice(name);
        // SAFETY: `req` is a valid ifreq with a NUL-terminated name; the kernel reads it and
        // reads and writes the buffer at `data`, which the caller sized for the command.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                SIOCETHTOOL as _,
                &mut req as *mut IfReq,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(crate) fn driver_info(&self, device: &str) -> io::Result<DriverInfo> {
        // SAFETY: all-zero bytes are a valid RawDrvInfo (integers and byte arrays).
        let mut raw: RawDrvInfo = unsafe { std::mem::zeroed() };
        raw.cmd = ETHTOOL_GDRVINFO;
        // The kernel writes exactly one struct ethtool_drvinfo.
        self.request(device, (&mut raw as *mut RawDrvInfo).cast())?;
        Ok(DriverInfo {
            driver: c_string(&raw.driver),
            version: c_string(&raw.version),
            fw_version: c_string(&raw.fw_version),
            bus_info: c_string(&raw.bus_info),
            erom_version: c_string(&raw.erom_version),
            n_stats: raw.n_stats,
        })
    }

    pub(crate) fn link_settings(&self, device: &str) -> io::Result<LinkSettings> {
        let mut raw = RawCmd {
            cmd: ETHTOOL_GSET,
            ..RawCmd::default()
        };
        // The kernel writes exactly one struct ethtool_cmd.
        self.request(device, (&mut raw as *mut RawCmd).cast())?;
        Ok(LinkSettings {
            supported: raw.supported,
            advertising: raw.advertising,
            autoneg: raw.autoneg,
        })
    }

    /// The device's statistics, name and value, in the driver's order (empty for a driver
    /// without any).
    pub(crate) fn stats(&self, device: &str) -> io::Result<Vec<(String, u64)>> {
        let count = self.driver_info(device)?.n_stats as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_STATS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{count} statistics"),
            ));
        }
        // The kernel writes as many entries as the driver counts at the time of each call, not
        // as many as asked for: a driver that grew its set since GDRVINFO (channels added) would
        // write past a buffer of `count` entries. Twice the room, and a check of the count it
        // reports, keep such a race inside the buffers.
        let room = 2 * count + 64;

        // struct ethtool_gstrings: cmd, string_set, len, then len names of 32 bytes.
        let mut names = vec![0u32; 3 + room * ETH_GSTRING_LEN / 4];
        names[..3].copy_from_slice(&[ETHTOOL_GSTRINGS, ETH_SS_STATS, count as u32]);
        self.request(device, names.as_mut_ptr().cast())?;
        let named = names[2] as usize;

        // struct ethtool_stats: cmd, n_stats, then n_stats u64 values.
        let mut values = vec![0u64; 1 + room];
        // SAFETY: the first 8 bytes of `values` hold the two u32 header fields.
        let header = values.as_mut_ptr().cast::<u32>();
        unsafe {
            header.write(ETHTOOL_GSTATS);
            header.add(1).write(count as u32);
        }
        self.request(device, values.as_mut_ptr().cast())?;
        // SAFETY: as above; the kernel wrote the count of values it copied.
        let valued = unsafe { header.add(1).read() } as usize;

        if named > room || valued > room {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the driver's statistics changed from {count} to {named}/{valued} entries"),
            ));
        }
        // SAFETY: `names` holds 12 header bytes and `room` names of ETH_GSTRING_LEN bytes.
        let bytes: &[u8] = unsafe {
            std::slice::from_raw_parts(names.as_ptr().cast::<u8>().add(12), room * ETH_GSTRING_LEN)
        };
        Ok(bytes
            .chunks_exact(ETH_GSTRING_LEN)
            .take(named.min(valued))
            .zip(&values[1..])
            .map(|(name, value)| (c_string(name), *value))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_strings_stop_at_the_first_nul() {
        assert_eq!(c_string(b"veth\0\0\0"), "veth");
        assert_eq!(c_string(b"full"), "full");
        assert_eq!(c_string(b"\0x"), "");
    }

    #[test]
    fn struct_sizes_are_the_kernels() {
        assert_eq!(std::mem::size_of::<RawDrvInfo>(), 196);
        assert_eq!(std::mem::size_of::<RawCmd>(), 44);
        assert!(
            std::mem::size_of::<IfReq>() >= 40,
            "at least a 64-bit struct ifreq"
        );
    }

    #[test]
    fn names_that_are_no_device_are_refused_before_the_kernel() {
        let socket = EthtoolSocket::open().unwrap();
        let err = socket.driver_info("a-name-too-long-for-linux").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn loopback_has_no_ethtool_statistics() {
        let socket = EthtoolSocket::open().unwrap();
        // lo has no driver info (EOPNOTSUPP); either way, no statistics.
        assert!(socket.stats("lo").map(|s| s.is_empty()).unwrap_or(true));
    }
}
