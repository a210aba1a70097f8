//! Secrets: made from the operating system's CSPRNG, stored only as hashes,
//! compared in constant time.
//!
//! Every secret Podium issues carries at least 128 random bits, so a single
//! SHA-256 is a sound way to store it: there is nothing to brute-force that
//! a slow password hash would protect. (Operator-chosen values from the
//! environment are the exception; `docs/security.md` says to make them long.)

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A stored secret: the SHA-256 of its text.
pub type SecretHash = [u8; 32];

/// A fresh secret of `bytes` random bytes, as lowercase hex.
pub fn generate(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    hex::encode(buf)
}

/// `N` random bytes.
pub fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// A random 64-bit id from the CSPRNG (a node's id in the cluster: not a
/// secret, but it must not repeat).
pub fn random_u64() -> u64 {
    u64::from_le_bytes(random())
}

/// A uniformly random index below `n` (1 <= n <= 256), from the CSPRNG:
/// bytes that would bias the result are drawn again.
pub fn uniform_index(n: usize) -> usize {
    assert!(
        (1..=256).contains(&n),
        "uniform_index needs 1..=256, got {n}"
    );
    let limit = 256 - 256 % n;
    loop {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).expect("the operating system's random source failed");
        if usize::from(byte[0]) < limit {
            return usize::from(byte[0]) % n;
        }
    }
}

/// The hash under which a secret is stored.
pub fn hash(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `candidate` hashes to `stored`, in time independent of where they differ.
pub fn matches(candidate: &str, stored: &SecretHash) -> bool {
    hash(candidate).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_distinct_hex() {
        let a = generate(16);
        let b = generate(16);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn matching() {
        let s = generate(16);
        let h = hash(&s);
        assert!(matches(&s, &h));
        assert!(!matches("nope", &h));
    }
}
