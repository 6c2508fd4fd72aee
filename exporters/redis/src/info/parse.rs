//! The `INFO` text itself: `# Section` headers and `key:value` lines, borrowed from the reply.

/// One `key:value` line with the section (`# Memory`) it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The section's name (`Memory`); empty before the first header.
    pub section: &'a str,
    /// The field's name (`used_memory`).
    pub key: &'a str,
    /// Everything after the first `:`.
    pub value: &'a str,
}

/// Parsed `INFO` text. Borrows from the text: parsing allocates one vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info<'a> {
    /// Every field, in reply order.
    pub fields: Vec<Field<'a>>,
}

/// Why a reply is not INFO text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    /// Not one `key:value` line.
    #[error("INFO reply holds no field")]
    NoFields,
    /// More lines that are not `key:value` than fields.
    #[error("INFO reply is malformed (line {line})")]
    Malformed {
        /// The first bad line (1-based).
        line: usize,
    },
}

/// Parses `INFO` text: `# Section` headers, blank lines and `key:value` lines. A reply with no
/// field at all, or with more unparseable lines than fields, is an error.
pub fn parse_info(text: &str) -> Result<Info<'_>, InfoError> {
    let mut fields = Vec::with_capacity(256);
    let mut section = "";
    let mut bad = 0usize;
    let mut first_bad = 0usize;
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('#') {
            section = name.trim();
            continue;
        }
        match line.split_once(':') {
            Some((key, value)) if is_field_key(key) => fields.push(Field {
                section,
                key,
                value,
            }),
            _ => {
                if bad == 0 {
                    first_bad = n + 1;
                }
                bad += 1;
            }
        }
    }
    if fields.is_empty() {
        return Err(if bad > 0 {
            InfoError::Malformed { line: first_bad }
        } else {
            InfoError::NoFields
        });
    }
    if bad > fields.len() {
        return Err(InfoError::Malformed { line: first_bad });
    }
    Ok(Info { fields })
}

fn is_field_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'|' | b'-' | b'.' | b':'))
}

impl<'a> Info<'a> {
    /// The value of the first field named `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.fields.iter().find(|f| f.key == key).map(|f| f.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_info_is_an_error_never_a_panic() {
        assert_eq!(parse_info(""), Err(InfoError::NoFields));
        assert_eq!(parse_info("# Server\r\n\r\n"), Err(InfoError::NoFields));
        assert_eq!(
            parse_info("<html>\nnot redis\nat all\n"),
            Err(InfoError::Malformed { line: 1 })
        );
        assert!(parse_info("a b c\nd e f\nk:v\n").is_err());
        assert!(parse_info("\u{0}\u{1}:::\n").is_err());
    }

    #[test]
    fn fields_keep_their_section() {
        let info = parse_info(
            "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0\r\n",
        )
        .unwrap();
        assert_eq!(
            info.fields,
            [
                Field {
                    section: "Server",
                    key: "redis_version",
                    value: "7.0.15"
                },
                Field {
                    section: "Keyspace",
                    key: "db0",
                    value: "keys=1,expires=0"
                },
            ]
        );
        assert_eq!(info.get("db0"), Some("keys=1,expires=0"));
        assert_eq!(info.get("nope"), None);
    }
}
