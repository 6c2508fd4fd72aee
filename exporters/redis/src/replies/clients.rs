//! CLIENT LIST (`--export-client-list`): one `connected_clients_details` series per client.

use crate::metrics::Out;

/// One `CLIENT LIST` line as upstream labels it.
#[derive(Debug, PartialEq)]
pub struct ClientInfo<'a> {
    /// CLIENT SETNAME's name.
    pub name: &'a str,
    /// When the connection was made, in Unix seconds (now minus `age`).
    pub created_at: i64,
    /// Since when the connection is idle, in Unix seconds (now minus `idle`).
    pub idle_since: i64,
    /// Client flags (`N`, `S`, `M`, ...).
    pub flags: &'a str,
    /// The selected database.
    pub db: &'a str,
    /// Output buffer memory in bytes.
    pub omem: &'a str,
    /// The last command.
    pub cmd: &'a str,
    /// The client's address without the port.
    pub host: &'a str,
    /// The client's port.
    pub port: &'a str,
}

/// Parses one `CLIENT LIST` line (`id=3 addr=127.0.0.1:5000 ... age=10 idle=2 ...`).
pub fn parse_client_line(line: &str, now_unix: i64) -> Option<ClientInfo<'_>> {
    let mut c = ClientInfo {
        name: "",
        created_at: 0,
        idle_since: 0,
        flags: "",
        db: "",
        omem: "",
        cmd: "",
        host: "",
        port: "",
    };
    let mut seen_addr = false;
    for part in line.split(' ') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k {
            "addr" => {
                (c.host, c.port) = v.rsplit_once(':').unwrap_or((v, ""));
                seen_addr = true;
            }
            "name" => c.name = v,
            "age" => c.created_at = now_unix - v.parse::<i64>().ok()?,
            "idle" => c.idle_since = now_unix - v.parse::<i64>().ok()?,
            "flags" => c.flags = v,
            "db" => c.db = v,
            "omem" => c.omem = v,
            "cmd" => c.cmd = v,
            _ => {}
        }
    }
    seen_addr.then_some(c)
}

/// One `connected_clients_details` series per client; `with_port` adds the client's port as a
/// label (`--export-client-port`: one series per connection instead of per host).
pub fn client_list_metrics(text: &str, now_unix: i64, with_port: bool, out: &mut Out) {
    for line in text.lines() {
        let Some(c) = parse_client_line(line.trim(), now_unix) else {
            continue;
        };
        let (created, idle) = (c.created_at.to_string(), c.idle_since.to_string());
        let mut labels = vec![
            ("name", c.name),
            ("created_at", created.as_str()),
            ("idle_since", idle.as_str()),
            ("flags", c.flags),
            ("db", c.db),
            ("omem", c.omem),
            ("cmd", c.cmd),
            ("host", c.host),
        ];
        if with_port {
            labels.push(("port", c.port));
        }
        out.gauge(
            "connected_clients_details",
            "Details about connected clients",
            &labels,
            1.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_list_lines() {
        let line = "id=3 addr=127.0.0.1:53516 laddr=127.0.0.1:6379 fd=8 name=app age=10 idle=2 flags=N db=1 sub=0 psub=0 omem=0 cmd=client|list user=default";
        let c = parse_client_line(line, 1000).unwrap();
        assert_eq!(
            c,
            ClientInfo {
                name: "app",
                created_at: 990,
                idle_since: 998,
                flags: "N",
                db: "1",
                omem: "0",
                cmd: "client|list",
                host: "127.0.0.1",
                port: "53516",
            }
        );
        let labels_of = |with_port: bool| {
            let mut out = Out::new("redis");
            client_list_metrics(line, 1000, with_port, &mut out);
            let sample = &out.families[0].samples[0];
            sample
                .labels
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
        };
        assert!(!labels_of(false).contains(&"port".to_string()));
        assert_eq!(labels_of(true).last().map(String::as_str), Some("port"));
        assert_eq!(
            parse_client_line("id=1 addr=[::1]:5 age=1 idle=1", 5)
                .unwrap()
                .host,
            "[::1]"
        );
        assert!(parse_client_line("garbage", 0).is_none());
        assert!(parse_client_line("addr=a:1 age=x", 0).is_none());
    }
}
