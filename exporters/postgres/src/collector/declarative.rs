//! Declarative collectors: a collector that is only SQL plus a row-to-metric mapping is a
//! [`DeclarativeCollector`] value (its SQL and a column table, one entry per column of the
//! SELECT list), and this module is the one piece of code that runs such a query and turns its
//! rows into families. The hand-written collectors use the same column tables ([`Families`])
//! for the part of their mapping that is only a table.
//!
//! A column is a label, a value (one family per value column, named `<prefix>_<name>`), an info
//! column (value 1, the text in a label) or skipped. Every series gets the label columns in
//! table order, then the server's labels (`server` and `--constantLabels`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use exporter_core::{Label, LabelValue, MetricFamily, MetricType};

use super::{on_each_database, on_main, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

/// The SQL of a declarative collector.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sql {
    /// One text for every server version.
    Fixed(&'static str),
    /// Chosen by the server's `server_version_num`.
    ByVersion(fn(u32) -> String),
}

impl Sql {
    /// The text to run on a server of `version` (`server_version_num`).
    pub(crate) fn text(&self, version: u32) -> String {
        match self {
            Sql::Fixed(text) => (*text).to_string(),
            Sql::ByVersion(sql) => sql(version),
        }
    }
}

/// Which connections of a server the query runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RunsOn {
    /// The DSN's own database.
    Server,
    /// The DSN's database and, with `--auto-discover-databases`, every discovered one.
    EachDatabase,
}

/// How a NULL (or non-numeric) value cell becomes a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Null {
    /// NaN, as upstream's built-in maps report it.
    NaN,
    /// 0, as upstream's newer collectors report it.
    Zero,
    /// No sample.
    Skip,
}

/// A family's name (after the prefix), type and help text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col {
    /// Appended to the prefix with `_`; empty: the family is named the prefix alone.
    pub(crate) name: &'static str,
    /// The `# TYPE`.
    pub(crate) kind: MetricType,
    /// The `# HELP`, as upstream words it.
    pub(crate) help: &'static str,
}

/// One column of a query's result, in the order of the SELECT list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Column {
    /// Not read by these families (another [`Families`] of the same query reads it).
    Skip,
    /// A label on every series of these families.
    Label(&'static str),
    /// A label whose values are listed: every listed value is reported for every combination of
    /// the other labels, 0 where no row has it; rows with a value not listed add nothing. At most
    /// one per table, beside label and value columns only.
    FilledLabel(&'static str, &'static [&'static str]),
    /// A number: one family, one sample per row.
    Value(Col),
    /// A text: family `<prefix>_<name>` with value 1 and the text in label `<name>` after the
    /// label columns; no sample where it is NULL.
    Info(Col),
}

/// A label column.
pub(crate) const fn label(name: &'static str) -> Column {
    Column::Label(name)
}

/// A label column whose listed values are always reported (see [`Column::FilledLabel`]).
pub(crate) const fn filled_label(name: &'static str, values: &'static [&'static str]) -> Column {
    Column::FilledLabel(name, values)
}

/// A counter column.
pub(crate) const fn counter(name: &'static str, help: &'static str) -> Column {
    value(name, MetricType::Counter, help)
}

/// A gauge column.
pub(crate) const fn gauge(name: &'static str, help: &'static str) -> Column {
    value(name, MetricType::Gauge, help)
}

/// An untyped column (upstream's "Unknown metric from ...").
pub(crate) const fn untyped(name: &'static str, help: &'static str) -> Column {
    value(name, MetricType::Untyped, help)
}

/// A text column reported as a gauge of value 1 with the text as label `name`.
pub(crate) const fn info(name: &'static str, help: &'static str) -> Column {
    Column::Info(Col {
        name,
        kind: MetricType::Gauge,
        help,
    })
}

const fn value(name: &'static str, kind: MetricType, help: &'static str) -> Column {
    Column::Value(Col { name, kind, help })
}

/// The families one query's rows give under one prefix: a column table and how NULLs count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Families<'a> {
    /// The family names' prefix, `pg_<view>`.
    pub(crate) prefix: &'static str,
    /// How NULL values are reported.
    pub(crate) null: Null,
    /// One entry per result column, in order; columns past the end are not read.
    pub(crate) columns: &'a [Column],
}

impl Families<'_> {
    /// Maps `rows` into one family per value or info column, leaving out families without a
    /// sample. `base` (the server's labels) goes on every series after the label columns.
    pub(crate) fn map(&self, rows: &[Vec<Cell>], base: &[Label]) -> Vec<MetricFamily> {
        let mut families: Vec<(usize, &Column, MetricFamily)> = self
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, column)| match column {
                Column::Value(col) | Column::Info(col) => {
                    let mut family = MetricFamily::new(self.family_name(col), col.help, col.kind);
                    family.samples.reserve(rows.len());
                    Some((i, column, family))
                }
                _ => None,
            })
            .collect();
        if let Some(filled) = self.columns.iter().position(is_filled) {
            self.fill(filled, rows, base, &mut families);
        } else {
            for row in rows {
                let mut labels = self.labels(row);
                let own = labels.len();
                labels.extend(base.iter().cloned());
                for (i, column, family) in &mut families {
                    let cell = row.get(*i).unwrap_or(&Cell::Null);
                    match column {
                        Column::Info(col) if !cell.is_null() => {
                            let mut labels = labels.clone();
                            labels.insert(own, (Cow::Borrowed(col.name), cell.as_label()));
                            family.push_labels(labels, 1.0);
                        }
                        Column::Value(_) => {
                            if let Some(v) = self.value(cell) {
                                family.push_labels(labels.clone(), v);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        families
            .into_iter()
            .map(|(_, _, family)| family)
            .filter(|family| !family.is_empty())
            .collect()
    }

    fn family_name(&self, col: &Col) -> Cow<'static, str> {
        if col.name.is_empty() {
            Cow::Borrowed(self.prefix)
        } else {
            Cow::Owned(format!("{}_{}", self.prefix, col.name))
        }
    }

    fn value(&self, cell: &Cell) -> Option<f64> {
        match (cell.as_f64(), self.null) {
            (Some(v), _) => Some(v),
            (None, Null::NaN) => Some(f64::NAN),
            (None, Null::Zero) => Some(0.0),
            (None, Null::Skip) => None,
        }
    }

    /// The label columns of `row`, in table order.
    fn labels(&self, row: &[Cell]) -> Vec<Label> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(i, column)| match column {
                Column::Label(name) | Column::FilledLabel(name, _) => Some((
                    Cow::Borrowed(*name),
                    row.get(i).map(Cell::as_label).unwrap_or_default(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The mapping for a table with a [`Column::FilledLabel`] at `filled`: series sorted by the
    /// other labels, then in the order the values are listed.
    fn fill(
        &self,
        filled: usize,
        rows: &[Vec<Cell>],
        base: &[Label],
        families: &mut [(usize, &Column, MetricFamily)],
    ) {
        let Column::FilledLabel(name, listed) = self.columns[filled] else {
            return;
        };
        // Where the filled label stands among the labels.
        let at = self.columns[..filled]
            .iter()
            .filter(|c| matches!(c, Column::Label(_) | Column::FilledLabel(..)))
            .count();
        let mut by_key: BTreeMap<Vec<Label>, Vec<Vec<f64>>> = BTreeMap::new();
        for row in rows {
            let mut key = self.labels(row);
            key.remove(at);
            let slots = by_key
                .entry(key)
                .or_insert_with(|| vec![vec![0.0; families.len()]; listed.len()]);
            let value = row.get(filled).map(Cell::as_label).unwrap_or_default();
            if let Some(slot) = listed.iter().position(|l| *l == value) {
                for (j, (i, _, _)) in families.iter().enumerate() {
                    let cell = row.get(*i).unwrap_or(&Cell::Null);
                    slots[slot][j] = self.value(cell).unwrap_or(0.0);
                }
            }
        }
        for (key, slots) in by_key {
            for (listed_value, values) in listed.iter().zip(slots) {
                let mut labels = key.clone();
                labels.insert(at, (Cow::Borrowed(name), LabelValue::new(listed_value)));
                labels.extend(base.iter().cloned());
                for ((_, _, family), v) in families.iter_mut().zip(values) {
                    family.push_labels(labels.clone(), v);
                }
            }
        }
    }
}

fn is_filled(column: &Column) -> bool {
    matches!(column, Column::FilledLabel(..))
}

/// A collector that is only SQL plus column tables: the query runs once per scrape (on the
/// connections [`RunsOn`] names) and every [`Families`] maps its rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeclarativeCollector {
    /// What to run.
    pub(crate) sql: Sql,
    /// Where to run it.
    pub(crate) runs_on: RunsOn,
    /// How the rows become families; several tables may read one row.
    pub(crate) families: &'static [Families<'static>],
}

impl DeclarativeCollector {
    /// Every table's families for `rows`.
    pub(crate) fn map(&self, rows: &[Vec<Cell>], base: &[Label]) -> Vec<MetricFamily> {
        self.families
            .iter()
            .flat_map(|families| families.map(rows, base))
            .collect()
    }
}

impl PgCollector for DeclarativeCollector {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        let sql = move |s: &crate::connection::Session| self.sql.text(s.version_num);
        let map = move |rows: &[Vec<Cell>], inst: &Instance, _: &crate::connection::Session| {
            self.map(rows, &inst.labels)
        };
        match self.runs_on {
            RunsOn::Server => on_main(inst, sql, map),
            RunsOn::EachDatabase => on_each_database(inst, sql, map),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn labels_values_and_nulls() {
        let columns = [label("l"), counter("a", "A."), gauge("b", "B.")];
        let table = |null| Families {
            prefix: "p",
            null,
            columns: &columns,
        };
        let rows = vec![
            vec![text("x"), num(1.0), num(2.0)],
            vec![Cell::Null, Cell::Null, num(3.0)],
        ];
        let fams = table(Null::NaN).map(&rows, &base());
        assert_eq!(fams.len(), 2);
        assert_eq!(fams[0].name, "p_a");
        assert_eq!(fams[0].kind, MetricType::Counter);
        let a = series(&fams[0]);
        assert_eq!(a[0], (on_server(&["l=x"]), 1.0));
        assert_eq!(a[1].0, on_server(&["l="]));
        assert!(a[1].1.is_nan());
        let skipped = table(Null::Skip).map(&rows, &base());
        assert_eq!(skipped[0].samples.len(), 1);
        assert!(table(Null::NaN).map(&[], &base()).is_empty());
    }

    #[test]
    fn skipped_info_and_bare_prefix_columns() {
        let table = Families {
            prefix: "p",
            null: Null::Skip,
            columns: &[
                label("a"),
                Column::Skip,
                label("b"),
                gauge("", "Bare."),
                info("status", "Status."),
            ],
        };
        let rows = vec![
            vec![text("1"), text("ignored"), text("2"), num(5.0), text("ok")],
            vec![text("3"), text("ignored"), text("4"), num(6.0), Cell::Null],
        ];
        let fams = table.map(&rows, &base());
        assert_eq!(
            series(family(&fams, "p")),
            vec![
                (on_server(&["a=1", "b=2"]), 5.0),
                (on_server(&["a=3", "b=4"]), 6.0),
            ]
        );
        assert_eq!(
            series(family(&fams, "p_status")),
            vec![(on_server(&["a=1", "b=2", "status=ok"]), 1.0)]
        );
    }

    #[test]
    fn filled_labels_report_every_listed_value() {
        let table = Families {
            prefix: "p",
            null: Null::Zero,
            columns: &[
                label("db"),
                filled_label("mode", &["x", "y"]),
                gauge("n", "N."),
            ],
        };
        let rows = vec![
            vec![text("b"), text("y"), Cell::Int(2)],
            vec![text("a"), Cell::Null, Cell::Int(0)],
            vec![text("b"), text("z"), Cell::Int(9)],
        ];
        let fams = table.map(&rows, &base());
        assert_eq!(
            series(&fams[0]),
            vec![
                (on_server(&["db=a", "mode=x"]), 0.0),
                (on_server(&["db=a", "mode=y"]), 0.0),
                (on_server(&["db=b", "mode=x"]), 0.0),
                (on_server(&["db=b", "mode=y"]), 2.0),
            ]
        );
    }
}
