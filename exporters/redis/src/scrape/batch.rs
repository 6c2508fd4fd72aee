//! The main batch of a scrape: every command whose reply maps to metrics without a further
//! round trip (INFO ALL, CONFIG GET, SLOWLOG, LATENCY, CLUSTER INFO, CLIENT LIST, the scripts,
//! Tile38's SERVER EXT), sent as one pipeline, with where each reply will be.

use resp::{cmd, Cmd};

use crate::options::ScrapeOptions;

/// The main batch of a scrape, sent as one pipeline; fields are reply positions.
pub(super) struct MainBatch {
    pub(super) cmds: Vec<Cmd>,
    pub(super) info: usize,
    pub(super) config: Vec<usize>,
    pub(super) slowlog_len: usize,
    pub(super) slowlog_get: usize,
    pub(super) latency: usize,
    pub(super) latency_histogram: Option<usize>,
    pub(super) config_all: Option<usize>,
    pub(super) cluster_info: Option<usize>,
    pub(super) client_list: Option<usize>,
    pub(super) scripts: Vec<usize>,
    pub(super) tile38: Option<usize>,
}

impl MainBatch {
    pub(super) fn new(opts: &ScrapeOptions, cluster: bool) -> Self {
        let mut cmds = Vec::with_capacity(12);
        let mut push = |c: Cmd| {
            cmds.push(c);
            cmds.len() - 1
        };
        let info = push(cmd(&["INFO", "ALL"]));
        // One parameter per CONFIG GET: several per call need Redis 7. Any of them may be refused
        // (managed Redis disables or renames CONFIG); that only drops its metric.
        let config = match opts.config_command.as_deref() {
            Some(config) => CONFIG_PARAMETERS
                .iter()
                .map(|p| push(cmd(&[config, "GET", p])))
                .collect(),
            None => Vec::new(),
        };
        let slowlog_len = push(cmd(&["SLOWLOG", "LEN"]));
        let slowlog_get = push(cmd(&["SLOWLOG", "GET", "1"]));
        let latency = push(cmd(&["LATENCY", "LATEST"]));
        let latency_histogram =
            (!opts.exclude_latency_histogram_metrics).then(|| push(cmd(&["LATENCY", "HISTOGRAM"])));
        let config_all = match (&opts.config_command, opts.include_config_metrics) {
            (Some(config), true) => Some(push(cmd(&[config.as_str(), "GET", "*"]))),
            _ => None,
        };
        let cluster_info = (cluster || opts.is_cluster).then(|| push(cmd(&["CLUSTER", "INFO"])));
        let client_list = opts
            .export_client_list
            .then(|| push(cmd(&["CLIENT", "LIST"])));
        let scripts = opts
            .scripts
            .iter()
            .map(|s| push(cmd(&[b"EVAL".as_slice(), s, b"0"])))
            .collect();
        let tile38 = opts.is_tile38.then(|| push(cmd(&["SERVER", "EXT"])));
        MainBatch {
            cmds,
            info,
            config,
            slowlog_len,
            slowlog_get,
            latency,
            latency_histogram,
            config_all,
            cluster_info,
            client_list,
            scripts,
            tile38,
        }
    }
}

/// The CONFIG parameters the scrape asks for: the `config_*` families and the database count.
const CONFIG_PARAMETERS: [&str; 5] = [
    "maxmemory",
    "maxclients",
    "io-threads",
    "databases",
    "client-output-buffer-limit",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::tests::options;

    fn texts(batch: &MainBatch) -> Vec<String> {
        batch
            .cmds
            .iter()
            .map(|c| String::from_utf8_lossy(&c.join(&b' ')).into_owned())
            .collect()
    }

    #[test]
    fn default_batch_and_reply_positions() {
        let batch = MainBatch::new(&options(), false);
        let cmds = texts(&batch);
        assert_eq!(
            cmds,
            [
                "INFO ALL",
                "CONFIG GET maxmemory",
                "CONFIG GET maxclients",
                "CONFIG GET io-threads",
                "CONFIG GET databases",
                "CONFIG GET client-output-buffer-limit",
                "SLOWLOG LEN",
                "SLOWLOG GET 1",
                "LATENCY LATEST",
                "LATENCY HISTOGRAM",
            ]
        );
        assert_eq!(batch.info, 0);
        assert_eq!(batch.config, [1, 2, 3, 4, 5]);
        assert_eq!(
            (batch.slowlog_len, batch.slowlog_get, batch.latency),
            (6, 7, 8)
        );
        assert_eq!(batch.latency_histogram, Some(9));
        assert_eq!(
            (
                batch.config_all,
                batch.cluster_info,
                batch.client_list,
                batch.tile38
            ),
            (None, None, None, None)
        );
        assert!(batch.scripts.is_empty());
    }

    #[test]
    fn options_add_and_remove_commands() {
        let mut opts = options();
        opts.config_command = Some("MYCONFIG".into());
        opts.include_config_metrics = true;
        opts.exclude_latency_histogram_metrics = true;
        opts.export_client_list = true;
        opts.scripts = vec![b"return {}".to_vec()];
        opts.is_tile38 = true;
        let batch = MainBatch::new(&opts, true);
        let cmds = texts(&batch);
        assert_eq!(cmds[1], "MYCONFIG GET maxmemory");
        assert_eq!(batch.latency_histogram, None);
        let at = |i: Option<usize>| cmds[i.unwrap()].clone();
        assert_eq!(at(batch.config_all), "MYCONFIG GET *");
        assert_eq!(
            at(batch.cluster_info),
            "CLUSTER INFO",
            "the server said cluster_enabled"
        );
        assert_eq!(at(batch.client_list), "CLIENT LIST");
        assert_eq!(cmds[batch.scripts[0]], "EVAL return {} 0");
        assert_eq!(at(batch.tile38), "SERVER EXT");
        assert_eq!(batch.cmds.len(), cmds.len());

        opts.config_command = None;
        let batch = MainBatch::new(&opts, false);
        assert!(
            batch.config.is_empty() && batch.config_all.is_none(),
            "`-` skips CONFIG"
        );
        assert!(batch.cluster_info.is_none());
    }
}
