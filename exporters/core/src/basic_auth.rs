//! `basic_auth_users`: bcrypt-checked credentials, with successful checks remembered.
//!
//! bcrypt costs tens of milliseconds by design, and Prometheus sends the same credentials with
//! every scrape: checked each time, authentication would cost many times the scrape itself, and a
//! flood of wrong passwords would keep every core busy. So:
//! - a successful check is remembered per user as the SHA-256 of (stored hash, password); the next
//!   request with the same password is compared against it in constant time, without bcrypt. The
//!   stored hash is part of the digest, so a changed hash (a reloaded file) is checked again, and a
//!   changed password misses and is checked again;
//! - at most one bcrypt runs at a time: requests that need one wait their turn, off the event loop.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ring::digest::{digest, SHA256};

type Digest = [u8; 32];

/// `basic_auth_users`: user name -> bcrypt hash.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Checked for unknown users so a wrong name costs as much time as a wrong password.
    dummy_hash: String,
    /// user -> digest of the stored hash and the last password that passed bcrypt.
    verified: Mutex<HashMap<String, Digest>>,
    /// One permit: bcrypt runs one at a time.
    bcrypt_turn: tokio::sync::Semaphore,
}

impl BasicAuth {
    /// Validates every hash; the error names the user whose hash is malformed.
    pub(crate) fn new(users: BTreeMap<String, String>) -> Result<Self, String> {
        let mut cost = None;
        for (user, hash) in &users {
            let parts = hash
                .parse::<bcrypt::HashParts>()
                .map_err(|e| format!("basic_auth_users.{user}: not a valid bcrypt hash ({e})"))?;
            cost = cost.max(Some(parts.get_cost()));
        }
        // Same cost as the configured hashes, so the timing of both paths matches.
        let dummy_hash = bcrypt::hash("not a real password", cost.unwrap_or(bcrypt::DEFAULT_COST))
            .map_err(|e| format!("basic_auth_users: {e}"))?;
        Ok(BasicAuth {
            users,
            dummy_hash,
            verified: Mutex::default(),
            bcrypt_turn: tokio::sync::Semaphore::new(1),
        })
    }

    /// Checks an `Authorization` header value.
    pub async fn check(self: &Arc<Self>, authorization: Option<&str>) -> bool {
        let Some((user, password)) = authorization.and_then(decode_basic) else {
            return false;
        };
        let stored = self.users.get(&user);
        let key = credential_digest(stored.unwrap_or(&self.dummy_hash), &password);
        if stored.is_some() && self.remembered(&user, &key) {
            return true;
        }
        let Ok(_turn) = self.bcrypt_turn.acquire().await else {
            return false;
        };
        // The same credentials may have passed while this request waited for its turn.
        if stored.is_some() && self.remembered(&user, &key) {
            return true;
        }
        let this = Arc::clone(self);
        let (user, ok) = tokio::task::spawn_blocking(move || {
            let ok = this.bcrypt_check(&user, &password);
            (user, ok)
        })
        .await
        .unwrap_or_default();
        if ok {
            self.lock_verified().insert(user, key);
        }
        ok
    }

    fn bcrypt_check(&self, user: &str, password: &str) -> bool {
        match self.users.get(user) {
            Some(hash) => bcrypt::verify(password.as_bytes(), hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(password.as_bytes(), &self.dummy_hash);
                false
            }
        }
    }

    fn remembered(&self, user: &str, key: &Digest) -> bool {
        self.lock_verified()
            .get(user)
            .is_some_and(|known| constant_time_eq(known, key))
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, Digest>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn user_count(&self) -> usize {
        self.users.len()
    }
}

fn credential_digest(stored_hash: &str, password: &str) -> Digest {
    let mut input = Vec::with_capacity(stored_hash.len() + 1 + password.len());
    input.extend_from_slice(stored_hash.as_bytes());
    input.push(0);
    input.extend_from_slice(password.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, &input).as_ref());
    out
}

/// Compares every byte whatever the first difference, so the time taken says nothing about where
/// the digests differ.
fn constant_time_eq(a: &Digest, b: &Digest) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = crate::base64::decode_padded(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // "alice:s3cret", "alice:wrong", "bob:s3cret"
    const ALICE_RIGHT: &str = "Basic YWxpY2U6czNjcmV0";
    const ALICE_WRONG: &str = "Basic YWxpY2U6d3Jvbmc=";
    const BOB: &str = "Basic Ym9iOnMzY3JldA==";

    fn alice(password: &str) -> Arc<BasicAuth> {
        let hash = bcrypt::hash(password, 4).unwrap();
        Arc::new(BasicAuth::new([("alice".to_string(), hash)].into()).unwrap())
    }

    #[tokio::test]
    async fn checks_user_and_password() {
        let auth = alice("s3cret");
        assert!(auth.check(Some(ALICE_RIGHT)).await);
        assert!(!auth.check(Some(ALICE_WRONG)).await);
        assert!(!auth.check(Some(BOB)).await);
        assert!(!auth.check(Some("Bearer abc")).await);
        assert!(!auth.check(Some("Basic !!!")).await);
        assert!(!auth.check(None).await);
    }

    #[tokio::test]
    async fn a_passed_check_is_remembered_and_a_wrong_password_is_not() {
        let auth = alice("s3cret");
        assert!(!auth.remembered("alice", &credential_digest(&auth.users["alice"], "s3cret")));
        assert!(auth.check(Some(ALICE_RIGHT)).await);
        assert!(auth.remembered("alice", &credential_digest(&auth.users["alice"], "s3cret")));
        // A wrong password after a right one still fails, and does not replace the right one.
        assert!(!auth.check(Some(ALICE_WRONG)).await);
        assert!(auth.check(Some(ALICE_RIGHT)).await);
        assert_eq!(auth.lock_verified().len(), 1);
    }

    #[test]
    fn the_digest_depends_on_the_stored_hash() {
        let a = bcrypt::hash("s3cret", 4).unwrap();
        let b = bcrypt::hash("s3cret", 4).unwrap();
        assert_ne!(
            credential_digest(&a, "s3cret"),
            credential_digest(&b, "s3cret")
        );
        assert_ne!(
            credential_digest(&a, "s3cret"),
            credential_digest(&a, "s3cre")
        );
        // The separator keeps (hash, password) pairs from running into each other.
        assert_ne!(credential_digest("ab", "c"), credential_digest("a", "bc"));
    }

    #[test]
    fn constant_time_comparison() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }

    #[test]
    fn malformed_hash_names_the_user() {
        let err = BasicAuth::new([("alice".into(), "notahash".into())].into())
            .err()
            .unwrap();
        assert!(err.contains("basic_auth_users.alice"), "{err}");
    }
}
