//! `--check-keys`, `--check-single-keys`, `--check-streams`, `--count-keys`: the argument syntax
//! (`db3=pattern,key`, as upstream) and glob detection.

/// A key or pattern in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbKey {
    /// The database index.
    pub db: u32,
    /// A key, or a SCAN MATCH pattern.
    pub key: String,
}

/// Parses upstream's list syntax: comma-separated `[db<N>=]key` (or `N=key`), keys URL-unescaped,
/// database 0 by default. Empty items are skipped.
pub fn parse_key_arg(arg: &str) -> Result<Vec<DbKey>, String> {
    let mut out = Vec::new();
    for item in arg.split(',') {
        if item.trim().is_empty() {
            continue;
        }
        let frags: Vec<&str> = item.split('=').collect();
        let (db, key) = match frags.as_slice() {
            [key] => ("0".to_string(), *key),
            [db, key] => (db.trim().replace("db", ""), *key),
            _ => return Err(format!("invalid key list item {item:?}")),
        };
        let key =
            query_unescape(key.trim()).ok_or_else(|| format!("invalid escape in {item:?}"))?;
        if db.is_empty() || key.is_empty() {
            continue;
        }
        let db: u32 = db
            .parse()
            .map_err(|_| format!("invalid database index in {item:?}"))?;
        out.push(DbKey { db, key });
    }
    Ok(out)
}

fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// True when `key` holds a SCAN MATCH glob character, so it names many keys.
pub fn is_glob(key: &str) -> bool {
    key.contains(['?', '*', '[', ']', '^'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_syntax() {
        let k = parse_key_arg("a,db3=b*, 2=c%20d ,,db1=").unwrap();
        assert_eq!(
            k,
            [
                DbKey {
                    db: 0,
                    key: "a".into()
                },
                DbKey {
                    db: 3,
                    key: "b*".into()
                },
                DbKey {
                    db: 2,
                    key: "c d".into()
                },
            ]
        );
        assert!(parse_key_arg("a=b=c").is_err());
        assert!(parse_key_arg("dbx=a").is_err());
        assert!(parse_key_arg("db-1=a").is_err());
        assert!(parse_key_arg("bad%zz").is_err());
        assert!(parse_key_arg("").unwrap().is_empty());
        assert!(is_glob("user:*") && is_glob("a?") && !is_glob("plain:key"));
    }
}
