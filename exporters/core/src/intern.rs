//! Metric names and help texts made at run time, kept once instead of allocated every scrape.
//!
//! Many families are named after what the source reports: `node_memory_<field>` for each line of
//! /proc/meminfo, `node_netstat_<Proto>_<Field>`, or a table stem behind a fixed prefix. Formatted
//! afresh, each is two allocations per family per scrape (a node scrape made ~650 of them), which
//! the allocator then has to sort back into its bins. The vocabulary is fixed (by the kernel, or
//! by our own tables), so each distinct text is made once and shared for the rest of the process.
//!
//! Only for texts from such a fixed vocabulary: never for names or label values a user or a
//! remote target chooses. Should a vocabulary turn out larger than [`CAPACITY`], what does not fit
//! is allocated per call as before, so memory stays bounded whatever the input.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Write};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Distinct texts kept (about 1,500 cover every node collector; 16,384 bound a run-away source).
pub const CAPACITY: usize = 16 * 1024;

static KEPT: OnceLock<Kept> = OnceLock::new();

thread_local! {
    /// Where a text is formatted before it is looked up: no allocation once it has grown.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The text `args` formats to, as a `'static` string made once per distinct text. Use it through
/// [`interned!`](crate::interned), which takes `format!`'s arguments.
pub fn interned(args: fmt::Arguments<'_>) -> Cow<'static, str> {
    KEPT.get_or_init(|| Kept::new(CAPACITY)).text(args)
}

/// The texts made so far, up to a capacity.
struct Kept {
    texts: Mutex<HashSet<&'static str>>,
    capacity: usize,
}

impl Kept {
    fn new(capacity: usize) -> Self {
        Kept {
            texts: Mutex::default(),
            capacity,
        }
    }

    fn text(&self, args: fmt::Arguments<'_>) -> Cow<'static, str> {
        if let Some(text) = args.as_str() {
            return Cow::Borrowed(text);
        }
        SCRATCH.with(|scratch| {
            // Only an argument whose Display itself interns could find the scratch in use.
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return Cow::Owned(fmt::format(args));
            };
            scratch.clear();
            let _ = scratch.write_fmt(args);
            let mut texts = self.texts.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(&text) = texts.get(scratch.as_str()) {
                return Cow::Borrowed(text);
            }
            if texts.len() >= self.capacity {
                return Cow::Owned(scratch.clone());
            }
            let text: &'static str = Box::leak(scratch.as_str().into());
            texts.insert(text);
            Cow::Borrowed(text)
        })
    }
}

/// `format!` for a metric name or help text from a fixed vocabulary: a `Cow<'static, str>`
/// made once per distinct text (see the [module](crate::intern) documentation).
#[macro_export]
macro_rules! interned {
    ($($arg:tt)*) => {
        $crate::intern::interned(::std::format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_made_once() {
        let field = "MemTotal";
        let (a, b) = (
            interned!("t_memory_{field}"),
            interned!("t_memory_{}", field),
        );
        assert_eq!(a, "t_memory_MemTotal");
        let (Cow::Borrowed(a), Cow::Borrowed(b)) = (a, b) else {
            panic!("not kept");
        };
        assert!(std::ptr::eq(a, b), "made twice");
        assert_eq!(interned!("t_memory_{}", "MemFree"), "t_memory_MemFree");
        assert!(matches!(interned!("t_literal"), Cow::Borrowed("t_literal")));
    }

    #[test]
    fn texts_beyond_the_capacity_are_made_per_call() {
        let kept = Kept::new(3);
        for i in 0..5 {
            assert_eq!(kept.text(format_args!("t_{i}")), format!("t_{i}"));
        }
        assert_eq!(kept.texts.lock().unwrap().len(), 3);
        let (kept_one, over_capacity) = (1, 4);
        assert!(matches!(
            kept.text(format_args!("t_{kept_one}")),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            kept.text(format_args!("t_{over_capacity}")),
            Cow::Owned(_)
        ));
    }
}
