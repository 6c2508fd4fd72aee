//! Where the data source names come from: the `DATA_SOURCE_*` environment of upstream
//! postgres_exporter, read through functions passed in so that it stays testable.

use crate::dsn::{Dsn, Secret};

/// Where the data source names come from, in upstream 0.11's order: `DATA_SOURCE_NAME`
/// (comma-separated list), `DATA_SOURCE_NAME_FILE`, else `DATA_SOURCE_URI(_FILE)` (comma-separated)
/// with `DATA_SOURCE_USER(_FILE)` and `DATA_SOURCE_PASS(_FILE)`. `env` and `read_file` are passed
/// in so this stays testable. An empty list means nothing was configured.
pub fn data_sources(
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Vec<Dsn>, String> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let from_file = |name: &str| -> Result<Option<String>, String> {
        match var(name) {
            Some(path) => read_file(&path)
                .map(|s| Some(s.trim().to_string()))
                .map_err(|e| format!("{name}: cannot read {path}: {e}")),
            None => Ok(None),
        }
    };
    let parse_list = |list: &str, origin: &str| -> Result<Vec<Dsn>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| Dsn::parse(s).map_err(|e| format!("{origin} (entry {}): {e}", i + 1)))
            .collect()
    };
    if let Some(names) = var("DATA_SOURCE_NAME") {
        return parse_list(&names, "DATA_SOURCE_NAME");
    }
    if let Some(names) = from_file("DATA_SOURCE_NAME_FILE")? {
        return parse_list(&names, "DATA_SOURCE_NAME_FILE");
    }
    let uri = match from_file("DATA_SOURCE_URI_FILE")? {
        Some(u) => Some(u),
        None => var("DATA_SOURCE_URI"),
    };
    let Some(uri) = uri else {
        return Ok(Vec::new());
    };
    let user = match from_file("DATA_SOURCE_USER_FILE")? {
        Some(u) => Some(u),
        None => var("DATA_SOURCE_USER"),
    };
    let pass = match from_file("DATA_SOURCE_PASS_FILE")? {
        Some(p) => Some(p),
        None => env("DATA_SOURCE_PASS"),
    };
    let mut out = Vec::new();
    for (i, u) in uri
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let u = u
            .strip_prefix("postgresql://")
            .or_else(|| u.strip_prefix("postgres://"))
            .unwrap_or(u);
        let mut dsn = Dsn::parse(&format!("postgresql://{u}"))
            .map_err(|e| format!("DATA_SOURCE_URI (entry {}): {e}", i + 1))?;
        if let Some(user) = &user {
            dsn.set_user(user);
        }
        if let Some(pass) = &pass {
            dsn.set_password(&Secret::new(pass.clone()));
        }
        out.push(dsn);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_in_upstream_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let no_files =
            |_: &str| -> std::io::Result<String> { Err(std::io::ErrorKind::NotFound.into()) };
        let d = data_sources(
            &env(&[("DATA_SOURCE_NAME", "postgresql://a@h1/x,host=h2 user=b")]),
            &no_files,
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].fingerprint(), "h2:5432");
        let d = data_sources(
            &env(&[
                ("DATA_SOURCE_URI", "h:5433/db?sslmode=disable"),
                ("DATA_SOURCE_USER", "mon"),
                ("DATA_SOURCE_PASS_FILE", "/pw"),
            ]),
            &|p: &str| {
                assert_eq!(p, "/pw");
                Ok("p@ss:word\n".to_string())
            },
        )
        .unwrap();
        assert_eq!(d[0].user(), Some("mon"));
        assert_eq!(d[0].to_config().get_password(), Some(&b"p@ss:word"[..]));
        assert_eq!(d[0].fingerprint(), "h:5433");
        assert!(data_sources(&env(&[]), &no_files).unwrap().is_empty());
        let e = data_sources(&env(&[("DATA_SOURCE_URI_FILE", "/nope")]), &no_files).unwrap_err();
        assert!(e.contains("DATA_SOURCE_URI_FILE"), "{e}");
    }
}
