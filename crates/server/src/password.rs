//! Argon2id password hashing. Hashing is deliberately slow, so callers run
//! these on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// Hashes a password with Argon2id and a random salt (PHC string format).
///
/// # Errors
/// Only if the hasher rejects its parameters, which the defaults do not.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// Whether `password` matches the stored PHC hash. A malformed hash never
/// matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The bundled list of common passwords, one a line (`#` lines are
/// comments), generated from well-known patterns: frequent words and names
/// with common suffixes and years, digit runs and repeats, dates and keyboard
/// walks. Only entries of 8 or more characters: shorter passwords are refused
/// by length anyway.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Whether `password` is on the bundled list of common passwords, compared
/// without regard to case or surrounding spaces ("Password123" is as easy to
/// guess as "password123").
pub fn is_common(password: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    let list = LIST.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    });
    list.contains(password.trim().to_lowercase().as_str())
}

/// A valid hash of a password nobody knows; sign-in verifies against it when
/// the email is unknown, so response time does not reveal which emails exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut random);
        hash_password(&hex::encode(random)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_same_password() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterz", &phc));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn common_passwords_are_recognised_and_passphrases_are_not() {
        for common in [
            "password",
            "Password123",
            "  qwerty123 ",
            "12345678",
            "iloveyou1",
            "1q2w3e4r5t",
            "football2024",
            "aaaaaaaa",
        ] {
            assert!(is_common(common), "{common}");
        }
        // What the apps' and CLI's tests use.
        for fine in [
            "correct horse battery staple",
            "correct horse battery",
            "account password 123",
            "another long passphrase",
            "tZ8#qLw2!vN0",
        ] {
            assert!(!is_common(fine), "{fine}");
        }
        let entries = COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert!(entries > 3000, "{entries}");
    }
}
