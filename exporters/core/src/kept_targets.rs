//! What a multi-target route (`/scrape?target=`, `/probe?target=`) keeps between requests: one
//! value per target (a scraper or exporter holding its connections), at most a fixed number of
//! them, the least recently used given up first.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// At most `capacity` values by key, each stamped with when it was last asked for.
pub struct KeptTargets<K, V> {
    capacity: usize,
    kept: Mutex<Kept<K, V>>,
}

/// Uses are counted, not timed, so that two requests in one clock tick still have an order.
struct Kept<K, V> {
    /// Requests so far.
    uses: u64,
    /// key -> (the use it was last asked for at, value).
    values: HashMap<K, (u64, Arc<V>)>,
}

impl<K: Eq + Hash + Clone, V> KeptTargets<K, V> {
    /// Keeps up to `capacity` values (at least one).
    pub fn new(capacity: usize) -> Self {
        KeptTargets {
            capacity: capacity.max(1),
            kept: Mutex::new(Kept {
                uses: 0,
                values: HashMap::new(),
            }),
        }
    }

    /// The value kept for `key`, else `make()`'s, kept from now on (giving up the least recently
    /// used one when full). An error from `make` keeps nothing.
    pub fn get_or_try_insert<Q, E>(
        &self,
        key: &Q,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        // A panic while holding the lock leaves the map consistent (no update is half done).
        let mut guard = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        guard.uses += 1;
        let now = guard.uses;
        let kept = &mut guard.values;
        if let Some((used, value)) = kept.get_mut(key) {
            *used = now;
            return Ok(Arc::clone(value));
        }
        let value = Arc::new(make()?);
        if kept.len() >= self.capacity {
            let oldest = kept.iter().min_by_key(|(_, (used, _))| *used);
            if let Some(oldest) = oldest.map(|(k, _)| k.clone()) {
                kept.remove::<K>(&oldest);
            }
        }
        kept.insert(key.to_owned(), (now, Arc::clone(&value)));
        Ok(value)
    }

    /// [`get_or_try_insert`](Self::get_or_try_insert) for a `make` that cannot fail.
    pub fn get_or_insert_with<Q>(&self, key: &Q, make: impl FnOnce() -> V) -> Arc<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        match self.get_or_try_insert(key, || Ok::<V, std::convert::Infallible>(make())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values
            .len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(kept: &KeptTargets<&'static str, String>, key: &'static str) -> Arc<String> {
        kept.get_or_insert_with(&key, || format!("{key} made"))
    }

    #[test]
    fn a_kept_value_is_reused_and_the_least_recently_used_goes_first() {
        let kept = KeptTargets::new(2);
        let a = get(&kept, "a");
        get(&kept, "b");
        assert!(Arc::ptr_eq(&a, &get(&kept, "a")), "a is reused");
        get(&kept, "c"); // full: b, used before a's second use, goes
        assert_eq!(kept.len(), 2);
        assert!(Arc::ptr_eq(&a, &get(&kept, "a")));
        let made_again = kept.get_or_insert_with(&"b", || "b again".to_string());
        assert_eq!(*made_again, "b again");
    }

    #[test]
    fn a_failed_make_keeps_nothing() {
        let kept: KeptTargets<&str, String> = KeptTargets::new(2);
        let err = kept.get_or_try_insert(&"x", || Err("refused")).unwrap_err();
        assert_eq!(err, "refused");
        assert!(kept.is_empty());
    }
}
