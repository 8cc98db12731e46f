//! Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
//! Checked on the exact bytes received, in constant time. Nothing else is accepted: no `sha1=`,
//! no truncated digests, no re-serialised bodies.

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the signature must be sha256=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    if hex_digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value for a body: used by tests, the demo and the benchmark.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_sha256_signature() {
        let body = br#"{"object":"page","entry":[]}"#;
        let good = sign(b"s3cret", body);
        assert_eq!(verify(b"s3cret", body, Some(&good)), Ok(()));
        assert_eq!(
            verify(b"other", body, Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(b"s3cret", body, None), Err(SignatureError::Missing));
        let sha1 = format!("sha1={}", &good[7..47]);
        assert_eq!(
            verify(b"s3cret", body, Some(&sha1)),
            Err(SignatureError::Malformed)
        );
        let truncated = &good[..good.len() - 2];
        assert_eq!(
            verify(b"s3cret", body, Some(truncated)),
            Err(SignatureError::Malformed)
        );
        // The same JSON with other whitespace is another body: refused.
        let reserialised = br#"{"object": "page", "entry": []}"#;
        assert_eq!(
            verify(b"s3cret", reserialised, Some(&good)),
            Err(SignatureError::Mismatch)
        );
    }
}
