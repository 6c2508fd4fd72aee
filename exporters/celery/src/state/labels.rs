//! Label values kept small and bounded: the cut at 200 bytes and the string interner.

use std::collections::HashMap;

use super::{MAX_LABEL_LEN, OTHER};

/// Cuts `s` to [`MAX_LABEL_LEN`] bytes at a character boundary.
pub fn bounded_label(s: &str) -> &str {
    if s.len() <= MAX_LABEL_LEN {
        return s;
    }
    let mut end = MAX_LABEL_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Strings to small ids, at most `cap` of them; id 0 is `unknown`, id 1 is `other` (overflow).
pub(super) struct Interner {
    ids: HashMap<Box<str>, u16>,
    names: Vec<Box<str>>,
    cap: usize,
}

impl Interner {
    pub(super) fn new(cap: usize) -> Interner {
        let mut i = Interner {
            ids: HashMap::new(),
            names: Vec::new(),
            cap: cap + 2,
        };
        i.intern("unknown");
        i.intern("other");
        i
    }

    pub(super) fn intern(&mut self, s: &str) -> u16 {
        let s = bounded_label(s);
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        if self.names.len() >= self.cap {
            return OTHER;
        }
        let id = self.names.len() as u16;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    pub(super) fn name(&self, id: u16) -> &str {
        &self.names[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;
    use crate::state::*;

    #[test]
    fn label_values_are_bounded() {
        let mut s = State::new(options());
        let long = "n".repeat(1000);
        let e = Event {
            name: Some(long.as_str().into()),
            ..task("task-received", "w@h", "u0", 0.0)
        };
        s.apply(&e, 0.0);
        for i in 0..MAX_TASK_NAMES + 10 {
            let name = format!("t.{i}");
            let uuid = format!("u{}", i + 1);
            let e = Event {
                name: Some(name.as_str().into()),
                ..task("task-received", "w@h", &uuid, 0.0)
            };
            s.apply(&e, 0.0);
        }
        let t = text(&mut s, 10.0);
        assert!(t.contains(&format!("name=\"{}\"", "n".repeat(MAX_LABEL_LEN))));
        assert!(!t.contains(&"n".repeat(MAX_LABEL_LEN + 1)));
        assert_eq!(
            value(
                &t,
                "celery_tasks_total",
                &[("name", "other"), ("state", "RECEIVED")]
            ),
            11.0
        );
        assert_eq!(bounded_label("é".repeat(150).as_str()).len(), 200);
    }
}
