//! `--web.systemd-socket`: listen on the sockets systemd passes (socket activation), as
//! exporter-toolkit does, instead of binding `--web.listen-address`.
//!
//! The protocol (sd_listen_fds(3)): the sockets are file descriptors 3, 4, ... `LISTEN_FDS` of
//! them, meant for the process whose pid is `LISTEN_PID`.
#![allow(
    unsafe_code,
    reason = "adopting the file descriptors systemd passes needs fcntl and from_raw_fd"
)]

/// The first descriptor systemd passes.
const FIRST_FD: i32 = 3;

/// Takes the passed sockets as listeners; the error says what is missing or wrong.
#[cfg(unix)]
pub(crate) fn inherited_listeners() -> Result<Vec<std::net::TcpListener>, String> {
    use std::os::fd::FromRawFd;

    let count = passed_socket_count(
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::process::id(),
    )?;
    let mut listeners = Vec::with_capacity(count);
    for fd in (FIRST_FD..).take(count) {
        // SAFETY: fcntl on any integer is defined; it tells whether `fd` is open.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return Err(format!(
                "--web.systemd-socket: LISTEN_FDS names descriptor {fd}, which is not open"
            ));
        }
        // Not inherited by anything this process starts.
        // SAFETY: `fd` is open (checked above); setting FD_CLOEXEC changes nothing else.
        unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        // SAFETY: systemd hands these descriptors to this process (LISTEN_PID matched) and
        // nothing else in it owns them; the listener takes ownership and closes it on drop.
        let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        listener.local_addr().map_err(|e| {
            format!("--web.systemd-socket: descriptor {fd} is not a TCP socket: {e}")
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("--web.systemd-socket: descriptor {fd}: {e}"))?;
        listeners.push(listener);
    }
    Ok(listeners)
}

#[cfg(not(unix))]
pub(crate) fn inherited_listeners() -> Result<Vec<std::net::TcpListener>, String> {
    Err("--web.systemd-socket: socket activation needs a Unix system".into())
}

/// How many sockets were passed to the process `own_pid`, from the two variables' values.
fn passed_socket_count(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    own_pid: u32,
) -> Result<usize, String> {
    let missing = |var: &str| {
        format!("--web.systemd-socket: {var} is not set; start the exporter from a systemd .socket unit")
    };
    let pid = listen_pid.ok_or_else(|| missing("LISTEN_PID"))?;
    let fds = listen_fds.ok_or_else(|| missing("LISTEN_FDS"))?;
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| format!("--web.systemd-socket: LISTEN_PID {pid:?} is not a process id"))?;
    if pid != own_pid {
        return Err(format!(
            "--web.systemd-socket: the sockets are for process {pid}, not this one ({own_pid})"
        ));
    }
    match fds.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(format!(
            "--web.systemd-socket: LISTEN_FDS {fds:?} names no socket"
        )),
        Ok(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sockets_meant_for_this_process_only() {
        assert_eq!(passed_socket_count(Some("42"), Some("2"), 42), Ok(2));
        let err = |pid, fds| passed_socket_count(pid, fds, 42).unwrap_err();
        assert!(err(Some("41"), Some("1")).contains("process 41"));
        assert!(err(None, Some("1")).contains("LISTEN_PID is not set"));
        assert!(err(Some("42"), None).contains("LISTEN_FDS is not set"));
        assert!(err(Some("42"), Some("0")).contains("names no socket"));
        assert!(err(Some("x"), Some("1")).contains("not a process id"));
    }
}
