//! An exporter: a namespace and its collectors, gathered into one exposition per scrape.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::collector::{outcomes_to_families, run_collectors, AnyCollector};
use crate::encode::encode_text;
use crate::metric::{merge_and_sort, MetricFamily};
use crate::process::process_metrics;

/// The suite's version, shown by `--version`, on the landing page and as the `version` label of
/// `<ns>_exporter_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from (12 hex digits; empty when built outside a git
/// checkout), for `--version` and the build info's `revision` label.
pub const REVISION: &str = env!("EXPORTER_GIT_REVISION");
/// The rustc version that built the binary, for `--version` and the build info's `rustversion`
/// label (where the Go exporters have `goversion`).
pub const RUST_VERSION: &str = env!("EXPORTER_RUST_VERSION");

/// `--version` output, in the Go exporters' layout.
pub fn version_text(program: &str) -> String {
    format!(
        "{program}, version {VERSION} (revision: {REVISION})\n  build with: rustc {RUST_VERSION}"
    )
}

/// What a scrape gathers: a namespace, its collectors, and whether the exporter's own metrics
/// (`process_*`, build info) come along. The server renders it on every request to the telemetry
/// path.
pub struct Exporter {
    namespace: &'static str,
    collectors: Vec<AnyCollector>,
    exporter_metrics: bool,
    /// Whether a scrape may name its collectors (`collect[]`, `exclude[]`), as node_exporter's can.
    collector_selection: bool,
    /// Bytes in the last exposition rendered, to size the next one's buffer.
    last_exposition_len: AtomicUsize,
}

impl Exporter {
    /// `namespace` prefixes the self-metrics: `<ns>_scrape_collector_success`,
    /// `<ns>_exporter_build_info`.
    pub fn new(namespace: &'static str, collectors: Vec<AnyCollector>) -> Self {
        Exporter {
            namespace,
            collectors,
            exporter_metrics: true,
            collector_selection: false,
            last_exposition_len: AtomicUsize::new(0),
        }
    }

    /// Lets a scrape choose its collectors: `?collect[]=cpu&collect[]=meminfo` runs only those,
    /// `?exclude[]=...` all but those (node_exporter's parameters).
    pub fn with_collector_selection(mut self) -> Self {
        self.collector_selection = true;
        self
    }

    pub(crate) fn takes_collector_selection(&self) -> bool {
        self.collector_selection
    }

    /// The collectors a scrape asked for: those named in `collect`, or all but those in
    /// `exclude`. A name that is not an enabled collector, or both lists at once, is an error
    /// worded as node_exporter's (the server answers 400 with it).
    pub fn select(
        &self,
        collect: &[String],
        exclude: &[String],
    ) -> Result<Vec<AnyCollector>, String> {
        if !collect.is_empty() && !exclude.is_empty() {
            return Err("Combined collect and exclude queries are not allowed.".into());
        }
        let (names, keep_named) = if collect.is_empty() {
            (exclude, false)
        } else {
            (collect, true)
        };
        if let Some(unknown) = names
            .iter()
            .find(|n| !self.collectors.iter().any(|c| c.name() == n.as_str()))
        {
            return Err(format!(
                "Couldn't create filtered metrics handler: missing collector: {unknown}"
            ));
        }
        Ok(self
            .collectors
            .iter()
            .filter(|c| names.iter().any(|n| n == c.name()) == keep_named)
            .cloned()
            .collect())
    }

    /// `--web.disable-exporter-metrics`: drop process_* and build info.
    pub fn with_exporter_metrics(mut self, enabled: bool) -> Self {
        self.exporter_metrics = enabled;
        self
    }

    pub(crate) fn collector_names(&self) -> Vec<&'static str> {
        self.collectors.iter().map(|c| c.name()).collect()
    }

    /// Runs every collector under `deadline` and returns the merged, sorted families, including
    /// the per-collector success and duration families.
    pub async fn gather(&self, deadline: Duration) -> Vec<MetricFamily> {
        self.gather_from(&self.collectors, deadline).await
    }

    /// [`gather`](Self::gather) with only `collectors` (from [`select`](Self::select)).
    pub async fn gather_from(
        &self,
        collectors: &[AnyCollector],
        deadline: Duration,
    ) -> Vec<MetricFamily> {
        let outcomes = run_collectors(collectors, deadline).await;
        let mut families = outcomes_to_families(self.namespace, outcomes);
        if self.exporter_metrics {
            families.push(self.build_info());
            families.extend(process_metrics());
        }
        let (families, conflicts) = merge_and_sort(families);
        for name in conflicts {
            tracing::warn!(metric = %name, "dropped a family whose type disagrees with another of the same name");
        }
        families
    }

    /// [`gather`](Self::gather), encoded in the text format.
    pub async fn render(&self, deadline: Duration) -> String {
        self.render_from(&self.collectors, deadline).await
    }

    /// [`render`](Self::render) with only `collectors` (from [`select`](Self::select)).
    pub async fn render_from(&self, collectors: &[AnyCollector], deadline: Duration) -> String {
        let families = self.gather_from(collectors, deadline).await;
        // Sized from the last exposition: no regrowth copies, and no fixed 64 KiB, which at the
        // mmap threshold (see `memory`) would be mapped, faulted in and unmapped every scrape.
        let last = self.last_exposition_len.load(Ordering::Relaxed);
        let mut out = String::with_capacity(last + last / 16 + 1024);
        encode_text(&families, &mut out);
        self.last_exposition_len.store(out.len(), Ordering::Relaxed);
        out
    }

    fn build_info(&self) -> MetricFamily {
        MetricFamily::gauge(
            crate::interned!("{}_exporter_build_info", self.namespace),
            crate::interned!(
                "A metric with a constant '1' value labeled by version, revision, and rustversion from which {}_exporter was built.",
                self.namespace
            ),
        )
        .with(
            &[
                ("revision", REVISION),
                ("rustversion", RUST_VERSION),
                ("version", VERSION),
            ],
            1.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{blocking, BlockingCollector, CollectResult};

    /// A collector named `name` with one gauge `t_<name>` of `value`.
    struct Fixed(&'static str, f64);
    impl BlockingCollector for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn collect(&self) -> CollectResult {
            let name = format!("t_{}", self.0);
            Ok(vec![MetricFamily::gauge(name, "Fixed.").with(&[], self.1)])
        }
    }

    #[tokio::test]
    async fn render_includes_collector_self_and_process_metrics() {
        let text = Exporter::new("t", vec![blocking(Fixed("one", 1.0))])
            .render(Duration::from_secs(1))
            .await;
        for want in [
            "t_one 1\n",
            "t_scrape_collector_success{collector=\"one\"} 1\n",
            "# TYPE t_scrape_collector_duration_seconds gauge\n",
            "t_exporter_build_info{",
            "process_cpu_seconds_total ",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        let bare = Exporter::new("t", vec![blocking(Fixed("one", 1.0))])
            .with_exporter_metrics(false)
            .render(Duration::from_secs(1))
            .await;
        assert!(!bare.contains("process_") && !bare.contains("build_info"));
    }

    #[test]
    fn a_scrape_selects_collectors_by_name() {
        let e = Exporter::new(
            "t",
            vec![blocking(Fixed("one", 1.0)), blocking(Fixed("two", 2.0))],
        );
        let names = |r: Result<Vec<AnyCollector>, String>| -> Vec<&str> {
            r.unwrap().iter().map(|c| c.name()).collect()
        };
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(names(e.select(&s(&["two"]), &[])), ["two"]);
        assert_eq!(names(e.select(&s(&["two", "one"]), &[])), ["one", "two"]);
        assert_eq!(names(e.select(&[], &s(&["one"]))), ["two"]);
        let err = e.select(&s(&["one", "nope"]), &[]).err().unwrap();
        assert!(err.ends_with("missing collector: nope"), "{err}");
        assert!(e.select(&s(&["one"]), &s(&["two"])).is_err());
    }
}
