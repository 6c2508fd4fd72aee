//! A password that never shows itself: `Debug` prints `<redacted>` and there is no `Display`, so
//! it cannot reach a log line, an error message or a metric by accident.

use std::fmt;

/// A password (for AUTH, a password file, a URL). Read it with [`Secret::expose`] only where it
/// goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The password itself, for the AUTH command (and for masking it in messages).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for the empty password (which means "do not log in").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
        assert!(!s.is_empty() && Secret::new("").is_empty());
    }
}
