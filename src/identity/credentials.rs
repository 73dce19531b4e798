//! Email addresses and passwords: parsed once at the edge, hashed with argon2id off the async
//! runtime.
//!
//! Each argon2id run holds 19 MiB for its duration, so the number of runs at once is bounded
//! process-wide (by default one per core): a burst of sign-ins queues for a short while, then is
//! refused with `THROTTLED`, instead of taking the memory of hundreds of runs.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AppError, AppResult, ErrorCode};

/// A normalised email address: trimmed, lowercase, at most 254 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an email address.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when it is not a plausible address.
    pub fn parse(input: &str) -> AppResult<Self> {
        let email = input.trim().to_lowercase();
        let invalid = || AppError::bad_input("the email address is not valid");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 is fed at most this much).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Passwords too common to allow whatever their length.
const COMMON_PASSWORDS: [&str; 12] = [
    "password1234",
    "123456789012",
    "qwertyuiopas",
    "passwordpassword",
    "iloveyou1234",
    "letmein12345",
    "administrator",
    "welcome12345",
    "aeternum1234",
    "changeme1234",
    "qwerty123456",
    "111111111111",
];

/// A password that meets the policy: 12 to 128 characters, at least 5 distinct characters, not a
/// well-known password, and not the account's email address. Never logged: `Debug` is redacted.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// Checks a new password against the policy.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming the rule it breaks (never echoing the password).
    pub fn new(input: &str, email: &Email) -> AppResult<Self> {
        let chars = input.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(AppError::bad_input(format!(
                "the password must have at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(AppError::bad_input(format!("the password must have at most {MAX_PASSWORD_CHARS} characters")));
        }
        let distinct: std::collections::HashSet<char> = input.chars().collect();
        let lower = input.to_lowercase();
        if distinct.len() < 5 || COMMON_PASSWORDS.contains(&lower.as_str()) {
            return Err(AppError::bad_input("the password is too easy to guess"));
        }
        if lower.contains(email.as_str()) || lower.contains(email.as_str().split('@').next().unwrap_or_default()) {
            return Err(AppError::bad_input("the password must not contain the email address"));
        }
        Ok(Self(input.to_owned()))
    }

    /// Hashes the password with argon2id on a hashing thread.
    ///
    /// # Errors
    /// `THROTTLED` when no hashing thread is free in time, `INTERNAL` if hashing fails.
    pub async fn hash(self) -> AppResult<String> {
        on_hashing_thread(move || {
            let salt = SaltString::generate(&mut OsRng);
            hasher().hash_password(self.0.as_bytes(), &salt).map(|hash| hash.to_string())
        })
        .await?
        .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
    }
}

/// argon2id with OWASP's parameters: 19 MiB, 2 iterations, parallelism 1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a password against a stored hash on a hashing thread. With no hash (unknown
/// account) it checks against a dummy hash, so both cases cost the same time.
///
/// # Errors
/// `THROTTLED` when no hashing thread is free in time.
pub async fn verify_password(candidate: &str, stored: Option<String>) -> AppResult<bool> {
    let candidate = candidate.chars().take(MAX_PASSWORD_CHARS).collect::<String>();
    on_hashing_thread(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let matches =
            PasswordHash::new(&stored).is_ok_and(|hash| hasher().verify_password(candidate.as_bytes(), &hash).is_ok());
        known && matches
    })
    .await
}

/// How many argon2id runs may happen at once in this process, and how long a caller waits for
/// its turn before it is refused.
#[derive(Clone, Copy, Debug)]
pub struct HashingLimits {
    /// Runs at once; 0 means one per core.
    pub concurrent: usize,
    /// Longest wait for a turn.
    pub queue_timeout: Duration,
}

/// A job for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that run argon2id, and the permits that bound how many jobs are in
/// flight. Dedicated threads keep the memory bounded for good: each keeps its one 19 MiB block
/// between runs, where the shared blocking pool would leave one in every thread's allocator arena.
struct HashingGate {
    permits: Semaphore,
    jobs: std::sync::mpsc::Sender<Job>,
    queue_timeout: Duration,
}

static GATE: OnceLock<HashingGate> = OnceLock::new();

/// Sets the process-wide hashing limits. The first call wins (a process serves one
/// configuration); without a call, one run per core and a five-second queue apply.
pub fn limit_hashing(limits: HashingLimits) {
    let _ = GATE.get_or_init(|| gate(limits));
}

fn gate(limits: HashingLimits) -> HashingGate {
    let concurrent = match limits.concurrent {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    };
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
    for n in 0..concurrent {
        let queue = std::sync::Arc::clone(&queue);
        let spawned = std::thread::Builder::new().name(format!("password-hash-{n}")).spawn(move || {
            loop {
                let job = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
        });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start a password-hashing thread");
        }
    }
    HashingGate { permits: Semaphore::new(concurrent), jobs, queue_timeout: limits.queue_timeout }
}

/// Runs `work` on a hashing thread once a turn is free, waiting at most the queue timeout.
async fn on_hashing_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let gate = GATE.get_or_init(|| gate(HashingLimits { concurrent: 0, queue_timeout: Duration::from_secs(5) }));
    let throttled = || AppError::new(ErrorCode::Throttled, "the server is busy checking passwords; try again shortly");
    let _permit = match tokio::time::timeout(gate.queue_timeout, gate.permits.acquire()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) | Err(_) => return Err(throttled()),
    };
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    gate.jobs.send(job).map_err(|_| AppError::internal(anyhow::anyhow!("the password-hashing threads stopped")))?;
    result.await.map_err(|_| AppError::internal(anyhow::anyhow!("a password-hashing job was dropped")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher().hash_password(b"no account has this password", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("Ada@Example.com ").unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email().as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@-example.com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_password_policy_names_the_broken_rule() {
        let error = |p: &str| Password::new(p, &email()).err().map(|e| e.message().to_owned());
        assert!(error("short").is_some_and(|m| m.contains("at least 12")));
        assert!(error(&"x".repeat(129)).is_some_and(|m| m.contains("at most 128")));
        assert!(error("aaaaaaaaaaaaaaaa").is_some_and(|m| m.contains("too easy")));
        assert!(error("Password1234").is_some_and(|m| m.contains("too easy")));
        assert!(error("ada-rocks-forever").is_some_and(|m| m.contains("email")));
        assert!(Password::new("correct horse battery staple", &email()).is_ok());
        assert!(!format!("{:?}", Password::new("correct horse battery staple", &email())).contains("horse"));
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let hash =
            Password::new("correct horse battery staple", &email()).unwrap_or_else(|e| panic!("{e:?}")).hash().await;
        let hash = hash.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery staple", Some(hash.clone())).await.unwrap_or(false));
        assert!(!verify_password("wrong horse battery staple", Some(hash)).await.unwrap_or(true));
        assert!(!verify_password("no account has this password", None).await.unwrap_or(true));
    }
}
