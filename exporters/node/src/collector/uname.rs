//! `node_uname_info`: the uname(2) strings as labels.
#![allow(unsafe_code, reason = "uname(2) through libc")]

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::paths::HostPaths;
use crate::util::field_labels;

/// The `uname` collector: what it reads and emits is in the module documentation.
pub struct UnameCollector;

impl UnameCollector {
    /// The collector reading under `cfg`.
    pub fn new(_cfg: &HostPaths) -> Self {
        UnameCollector
    }
}

/// The uname(2) fields upstream exports.
#[derive(Debug, Default, PartialEq)]
pub struct Uname {
    /// Operating system name (`Linux`).
    pub sysname: String,
    /// Kernel release.
    pub release: String,
    /// Kernel version (build).
    pub version: String,
    /// Hardware name (`x86_64`).
    pub machine: String,
    /// Host name.
    pub nodename: String,
    /// NIS domain name.
    pub domainname: String,
}

/// Converts one fixed-size `utsname` field to a string: up to the first NUL, or the whole array
/// if the kernel filled it completely (never reads past the array).
pub fn field_to_string(field: &[libc::c_char]) -> String {
    // c_char is i8 or u8 depending on the target; either way the byte is the low 8 bits.
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Calls uname(2).
#[cfg(target_os = "linux")]
pub fn read_uname() -> Result<Uname, CollectError> {
    // SAFETY: `utsname` is arrays of c_char; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to our own initialised struct, valid for the duration of the call;
    // uname writes only within it.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(CollectError::io("uname", std::io::Error::last_os_error()));
    }
    Ok(Uname {
        sysname: field_to_string(&u.sysname),
        release: field_to_string(&u.release),
        version: field_to_string(&u.version),
        machine: field_to_string(&u.machine),
        nodename: field_to_string(&u.nodename),
        domainname: field_to_string(&u.domainname),
    })
}

#[cfg(not(target_os = "linux"))]
pub fn read_uname() -> Result<Uname, CollectError> {
    Err(CollectError::NotAvailable(
        "uname collector is Linux-only".into(),
    ))
}

/// `node_uname_info` labelled with the fields.
pub fn uname_family(u: &Uname) -> MetricFamily {
    MetricFamily::gauge(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
    )
    .with(
        &field_labels!(u, domainname, machine, nodename, release, sysname, version),
        1.0,
    )
}

impl BlockingCollector for UnameCollector {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn collect(&self) -> CollectResult {
        Ok(vec![uname_family(&read_uname()?)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::label_pairs;

    fn field(s: &[u8], len: usize) -> Vec<libc::c_char> {
        let mut v: Vec<libc::c_char> = vec![0; len];
        for (d, &b) in v.iter_mut().zip(s) {
            *d = b as libc::c_char;
        }
        v
    }

    #[test]
    fn fields_stop_at_nul_and_never_overrun() {
        assert_eq!(field_to_string(&field(b"Linux", 65)), "Linux");
        assert_eq!(field_to_string(&field(b"(none)", 65)), "(none)");
        assert_eq!(field_to_string(&field(b"", 65)), "");
        // A completely filled field has no NUL: take the whole array.
        assert_eq!(field_to_string(&field(b"abcd", 4)), "abcd");
        assert_eq!(field_to_string(&field(b"ab\0cd", 5)), "ab");
        assert_eq!(field_to_string(&field(b"h\xffst", 65)), "h\u{fffd}st");
    }

    #[test]
    fn family_has_upstream_labels() {
        let u = Uname {
            sysname: "Linux".into(),
            release: "6.18.44-fc-v782".into(),
            version: "#1 SMP PREEMPT_DYNAMIC @0".into(),
            machine: "x86_64".into(),
            nodename: "vm".into(),
            domainname: "(none)".into(),
        };
        let f = uname_family(&u);
        let labels = label_pairs(&f.samples[0]);
        assert_eq!(
            labels,
            vec![
                ("domainname", "(none)"),
                ("machine", "x86_64"),
                ("nodename", "vm"),
                ("release", "6.18.44-fc-v782"),
                ("sysname", "Linux"),
                ("version", "#1 SMP PREEMPT_DYNAMIC @0"),
            ]
        );
        assert_eq!(f.samples[0].value, 1.0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_the_running_kernel() {
        let u = read_uname().unwrap();
        assert_eq!(u.sysname, "Linux");
        assert!(!u.release.is_empty());
    }
}
