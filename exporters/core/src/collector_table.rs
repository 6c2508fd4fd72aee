//! An exporter's table of collectors, as node_exporter's `registerCollector` keeps it: one row per
//! collector, with its name, whether it runs by default, a help line, and how to build it. The
//! `--collector.<name>` / `--no-collector.<name>` switches and the choice of what runs come from
//! the table, so adding a collector is its file plus one row.

use clap::{Arg, ArgAction, ArgMatches, Command};

/// One row of a collector table.
pub struct CollectorSpec<B: 'static> {
    /// `--collector.<name>`, and the `collector` label of the scrape's self-metrics.
    pub name: &'static str,
    /// Whether it runs when no switch names it.
    pub default_enabled: bool,
    /// The switch's help line.
    pub help: &'static str,
    /// What the exporter needs to make the collector: a constructor, and anything else the
    /// exporter keeps per collector.
    pub build: B,
}

/// Every collector of an exporter, sorted by name.
pub struct CollectorTable<B: 'static>(&'static [CollectorSpec<B>]);

impl<B> CollectorTable<B> {
    /// The table of `rows`. Rows out of order or named twice stop the build: `new` runs at
    /// compile time in a `const`, so a table cannot ship unsorted or with a duplicate.
    pub const fn new(rows: &'static [CollectorSpec<B>]) -> Self {
        let mut i = 1;
        while i < rows.len() {
            assert!(
                name_before(rows[i - 1].name, rows[i].name),
                "collector table rows must be sorted by name, each name once"
            );
            i += 1;
        }
        CollectorTable(rows)
    }

    /// Every row.
    pub fn rows(&self) -> &'static [CollectorSpec<B>] {
        self.0
    }

    /// The row named `name`.
    pub fn find(&self, name: &str) -> Option<&'static CollectorSpec<B>> {
        self.0.iter().find(|c| c.name == name)
    }

    /// Adds `--collector.<name>` and a hidden `--no-collector.<name>` per row; the last one
    /// given wins, as with Go's kingpin.
    pub fn add_switches(&self, mut cmd: Command) -> Command {
        for c in self.0 {
            let state = if c.default_enabled {
                "enabled"
            } else {
                "disabled"
            };
            let on = format!("collector.{}", c.name);
            let off = format!("no-collector.{}", c.name);
            cmd = cmd
                .arg(
                    Arg::new(on.clone())
                        .long(on.clone())
                        .action(ArgAction::SetTrue)
                        .overrides_with(off.clone())
                        .help(format!(
                            "Enable the {} collector (default: {state}). {}",
                            c.name, c.help
                        )),
                )
                .arg(
                    Arg::new(off.clone())
                        .long(off)
                        .action(ArgAction::SetTrue)
                        .overrides_with(on)
                        .hide(true),
                );
        }
        cmd
    }

    /// The rows that run: those a switch turned on, and those `by_default` picks among the ones
    /// no switch names (`by_default` sees `--collector.disable-defaults` and the like).
    pub fn enabled(
        &self,
        matches: &ArgMatches,
        by_default: impl Fn(&CollectorSpec<B>) -> bool,
    ) -> Vec<&'static CollectorSpec<B>> {
        self.0
            .iter()
            .filter(|c| switched(matches, c.name).unwrap_or_else(|| by_default(c)))
            .collect()
    }
}

/// `a` sorts strictly before `b`, byte by byte (const, for [`CollectorTable::new`]).
const fn name_before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// What the command line said about collector `name`: `Some(on)` when a switch named it.
fn switched(matches: &ArgMatches, name: &str) -> Option<bool> {
    let given = |id: String| matches.try_get_one::<bool>(&id).ok().flatten() == Some(&true);
    if given(format!("no-collector.{name}")) {
        Some(false)
    } else if given(format!("collector.{name}")) {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ROWS: &[CollectorSpec<()>] = &[
        CollectorSpec {
            name: "cpu",
            default_enabled: true,
            help: "",
            build: (),
        },
        CollectorSpec {
            name: "x",
            default_enabled: false,
            help: "",
            build: (),
        },
    ];
    const TABLE: CollectorTable<()> = CollectorTable::new(ROWS);

    #[test]
    fn names_compare_as_sorted_strings() {
        assert!(name_before("cpu", "cpufreq") && name_before("arp", "cpu"));
        assert!(!name_before("cpu", "cpu") && !name_before("x", "cpu"));
    }

    fn enabled(args: &[&str], defaults: bool) -> Vec<&'static str> {
        let cmd = TABLE.add_switches(Command::new("t"));
        let m = cmd
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap();
        TABLE
            .enabled(&m, |c| defaults && c.default_enabled)
            .iter()
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn switches_override_defaults_and_the_last_one_wins() {
        assert_eq!(enabled(&[], true), ["cpu"]);
        assert_eq!(enabled(&["--collector.x"], true), ["cpu", "x"]);
        assert_eq!(enabled(&["--no-collector.cpu"], true), Vec::<&str>::new());
        assert_eq!(
            enabled(&["--no-collector.cpu", "--collector.cpu"], true),
            ["cpu"]
        );
        assert_eq!(enabled(&["--collector.x"], false), ["x"]);
        assert_eq!(TABLE.find("x").map(|c| c.name), Some("x"));
    }
}
