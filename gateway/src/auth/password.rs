//! Password hashing with argon2id (SPEC 7).
//!
//! Hashing is deliberately slow, so it never runs on the proxy's threads: hashes
//! run on a few dedicated threads at the lowest scheduling priority, and a
//! semaphore bounds how many are under way, so a storm of sign-ins queues
//! instead of taking CPU from proxied traffic. Unknown
//! users are checked against a dummy hash so that they cost the same time.

use crate::policy::settings::PasswordPolicy;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::fmt;
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::Semaphore;

/// Longest password accepted, in bytes. Longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password as typed. `Debug` never shows it.
pub struct Password(String);

impl Password {
    /// `None` when empty or longer than [`MAX_PASSWORD_BYTES`].
    pub fn new(s: String) -> Option<Password> {
        (!s.is_empty() && s.len() <= MAX_PASSWORD_BYTES).then_some(Password(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Why a new password does not meet the policy; the text is shown to the user.
pub fn check_policy(p: &Password, policy: &PasswordPolicy) -> Result<(), String> {
    let s = p.expose();
    let mut missing = Vec::new();
    if s.chars().count() < policy.min_length {
        return Err(format!("Use at least {} characters.", policy.min_length));
    }
    if policy.require_digit && !s.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit");
    }
    if policy.require_lowercase && !s.chars().any(char::is_lowercase) {
        missing.push("a lower-case letter");
    }
    if policy.require_uppercase && !s.chars().any(char::is_uppercase) {
        missing.push("an upper-case letter");
    }
    if policy.require_symbol && s.chars().all(char::is_alphanumeric) {
        missing.push("a symbol");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("Include {}.", missing.join(", ")))
    }
}

/// Hashes and verifies passwords off the calling thread, a bounded number at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    jobs: Arc<Mutex<mpsc::Sender<Job>>>,
    dummy: Arc<String>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The hasher could not run (its task panicked or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl Hasher {
    pub fn new(max_concurrent: usize) -> Hasher {
        let dummy = hash_now("portcullis dummy password").expect("hashing a constant cannot fail");
        let threads = max_concurrent.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("portcullis-hash-{i}")).spawn(move || {
                // Linux's idle scheduling class (SCHED_IDLE), below even nice 19: a proxy
                // thread that wakes takes the core at once, so a storm of sign-ins waits
                // instead of slowing proxied traffic. Idle-class threads still get a small
                // share of a saturated core, so a sign-in is slowed, never starved.
                let idle = thread_priority::unix::ThreadSchedulePolicy::Normal(
                    thread_priority::unix::NormalThreadSchedulePolicy::Idle,
                );
                if let Err(e) = thread_priority::unix::set_thread_priority_and_policy(
                    thread_priority::unix::thread_native_id(),
                    thread_priority::ThreadPriority::Min,
                    idle,
                ) {
                    tracing::debug!(error = ?e, "could not lower the hashing thread's priority");
                }
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Hasher {
            permits: Arc::new(Semaphore::new(threads)),
            jobs: Arc::new(Mutex::new(tx)),
            dummy: Arc::new(dummy),
        }
    }

    /// A PHC string (`$argon2id$…`) for the password.
    pub async fn hash(&self, p: &Password) -> Result<String, HashError> {
        let p = p.0.clone();
        self.run(move || hash_now(&p).map_err(HashError)).await?
    }

    /// Whether `p` matches `phc`. With `phc = None` (no such user) the same work is done
    /// against a dummy hash, and the answer is false.
    pub async fn verify(&self, p: &Password, phc: Option<&str>) -> Result<bool, HashError> {
        let known = phc.is_some();
        let phc = phc
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy.to_string());
        let p = p.0.clone();
        let ok = self.run(move || verify_now(&p, &phc)).await?;
        Ok(ok && known)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| HashError("the hashing threads are gone".into()))?
            .send(job)
            .map_err(|_| HashError("the hashing threads are gone".into()))?;
        rx.await
            .map_err(|_| HashError("a hashing job failed".into()))
    }
}

fn hash_now(p: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(p.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_now(p: &str, phc: &str) -> bool {
    // The argon2 crate compares the digests in constant time.
    PasswordHash::new(phc)
        .is_ok_and(|h| Argon2::default().verify_password(p.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = Hasher::new(2);
        let p = Password::new("correct horse".into()).unwrap();
        let phc = h.hash(&p).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify(&p, Some(&phc)).await.unwrap());
        let wrong = Password::new("correct horsf".into()).unwrap();
        assert!(!h.verify(&wrong, Some(&phc)).await.unwrap());
        assert!(!h.verify(&p, None).await.unwrap());
        assert!(!h.verify(&p, Some("not a hash")).await.unwrap());
    }

    #[test]
    fn overlong_and_empty_passwords_are_refused() {
        assert!(Password::new(String::new()).is_none());
        assert!(Password::new("x".repeat(MAX_PASSWORD_BYTES + 1)).is_none());
        assert!(Password::new("x".repeat(MAX_PASSWORD_BYTES)).is_some());
    }

    #[test]
    fn the_policy_names_what_is_missing() {
        let policy = PasswordPolicy {
            min_length: 8,
            reset_link_lifetime: std::time::Duration::from_secs(3600),
            require_digit: true,
            require_lowercase: false,
            require_uppercase: true,
            require_symbol: false,
        };
        let p = |s: &str| Password::new(s.into()).unwrap();
        assert_eq!(
            check_policy(&p("short"), &policy).unwrap_err(),
            "Use at least 8 characters."
        );
        assert_eq!(
            check_policy(&p("longenough"), &policy).unwrap_err(),
            "Include a digit, an upper-case letter."
        );
        assert!(check_policy(&p("Longenough1"), &policy).is_ok());
    }
}
