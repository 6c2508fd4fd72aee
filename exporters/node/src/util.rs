//! Small helpers for reading procfs/sysfs files into collector errors.

use std::path::Path;

use exporter_core::CollectError;

/// Reads a whole file; a missing file becomes `CollectError::NotAvailable`.
pub fn read_file(path: &Path) -> Result<String, CollectError> {
    std::fs::read_to_string(path).map_err(|e| CollectError::io(path.display().to_string(), e))
}

/// Reads a one-value sysfs attribute, trimmed. `None` when absent or unreadable (many attributes
/// are optional or return EINVAL while a device is down).
pub fn read_attr(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Reads a numeric sysfs attribute.
pub fn read_attr_f64(path: &Path) -> Option<f64> {
    read_attr(path)?.parse().ok()
}

/// Lists the entries of a directory, sorted by name, so output order is stable.
pub fn sorted_dir_names(path: &Path) -> Result<Vec<String>, CollectError> {
    let rd =
        std::fs::read_dir(path).map_err(|e| CollectError::io(path.display().to_string(), e))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Parses one whitespace-separated field as a number, naming it in the error.
pub fn parse_field<T: std::str::FromStr>(
    field: Option<&str>,
    what: &str,
) -> Result<T, CollectError> {
    let raw = field.ok_or_else(|| CollectError::Parse(format!("missing field {what}")))?;
    raw.parse()
        .map_err(|_| CollectError::Parse(format!("invalid {what}: {raw:?}")))
}

/// USER_HZ: the unit of the tick counters in /proc/stat and /proc/diskstats-like files.
pub const USER_HZ: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_field_names_what_is_wrong() {
        assert_eq!(parse_field::<u64>(Some("42"), "x").unwrap(), 42);
        assert!(parse_field::<u64>(None, "x")
            .unwrap_err()
            .to_string()
            .contains("missing field x"));
        assert!(parse_field::<u64>(Some("4z"), "x")
            .unwrap_err()
            .to_string()
            .contains("invalid x"));
    }

    #[test]
    fn missing_files_are_not_available() {
        assert!(matches!(
            read_file(Path::new("/nonexistent/x")),
            Err(CollectError::NotAvailable(_))
        ));
        assert!(read_attr(Path::new("/nonexistent/x")).is_none());
    }
}
