//! Randomness from the operating system, for tokens, codes and keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `N` random bytes. The OS generator failing leaves nothing safe to do but stop.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random generator failed");
    buf
}

/// A 256-bit random token, base64url without padding (43 characters).
pub fn token() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<32>())
}

/// A numeric code of `len` digits (at most 18), uniformly drawn.
pub fn digits(len: u32) -> String {
    let len = len.clamp(1, 18);
    let modulus = 10u64.pow(len);
    // Reject the top sliver of u64 so every code is equally likely.
    let zone = u64::MAX - (u64::MAX % modulus);
    loop {
        let n = u64::from_le_bytes(bytes::<8>());
        if n < zone {
            return format!("{:0width$}", n % modulus, width = len as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_length_and_only_digits() {
        for _ in 0..100 {
            let c = digits(6);
            assert_eq!(c.len(), 6);
            assert!(c.chars().all(|ch| ch.is_ascii_digit()));
        }
        assert_eq!(token().len(), 43);
        assert_ne!(token(), token());
    }
}
