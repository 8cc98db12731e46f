//! Checking an OpenID Connect ID token: its signature against one of the provider's published
//! keys (RS256 or ES256; nothing else, never "none"), then what it claims: the issuer, that it
//! was issued to tavla, that it is current, and that it answers this very sign-in (the nonce).
//! Only a token that passes every check says who someone is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature;
use serde::Deserialize;
use serde_json::Value;

/// Seconds of clock difference tolerated between tavla and the provider.
pub const LEEWAY_SECONDS: i64 = 60;

/// Why a token was refused; `reason()` goes to the audit trail (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed(&'static str),
    Algorithm(String),
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    Expired,
    NotYetValid,
    Nonce,
}

impl Rejection {
    pub fn reason(&self) -> String {
        match self {
            Rejection::Malformed(what) => format!("malformed ID token ({what})"),
            Rejection::Algorithm(alg) => {
                format!("ID token signed with {alg:?}, not RS256 or ES256")
            }
            Rejection::UnknownKey => {
                "ID token signed with a key the provider does not publish".into()
            }
            Rejection::Signature => "ID token signature does not verify".into(),
            Rejection::Issuer => "ID token from another issuer".into(),
            Rejection::Audience => "ID token issued to another client".into(),
            Rejection::Expired => "ID token expired".into(),
            Rejection::NotYetValid => "ID token issued in the future".into(),
            Rejection::Nonce => "ID token does not answer this sign-in (nonce)".into(),
        }
    }
}

/// One key of the provider's JWKS.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The token's header: how it says it was signed.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
}

/// What tavla expects of the token.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Seconds since the Unix epoch.
    pub now: i64,
}

/// A token split into its parts, each decoded.
pub struct Parsed {
    pub header: Header,
    pub claims: Value,
    signed: Vec<u8>,
    signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Parsed, Rejection> {
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed("not three parts"));
    };
    let decode = |part: &str, what| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Rejection::Malformed(what))
    };
    let header = serde_json::from_slice(&decode(head, "header")?)
        .map_err(|_| Rejection::Malformed("header"))?;
    let claims: Value = serde_json::from_slice(&decode(body, "claims")?)
        .map_err(|_| Rejection::Malformed("claims"))?;
    if !claims.is_object() {
        return Err(Rejection::Malformed("claims"));
    }
    Ok(Parsed {
        header,
        claims,
        signed: format!("{head}.{body}").into_bytes(),
        signature: decode(sig, "signature")?,
    })
}

/// The key among `keys` that the header names (by `kid`; without one, the only key of its type).
pub fn find_key<'a>(header: &Header, keys: &'a [Jwk]) -> Option<&'a Jwk> {
    let kty = match header.alg.as_str() {
        "RS256" => "RSA",
        "ES256" => "EC",
        _ => return None,
    };
    let usable = keys
        .iter()
        .filter(|k| k.kty == kty && k.usage.as_deref().is_none_or(|u| u == "sig"));
    match &header.kid {
        Some(kid) => usable.into_iter().find(|k| k.kid.as_deref() == Some(kid)),
        None => {
            let candidates: Vec<&Jwk> = usable.collect();
            (candidates.len() == 1).then(|| candidates[0])
        }
    }
}

/// Checks the signature with `key`: RS256 (RSA PKCS#1 v1.5, SHA-256) or ES256 (P-256, SHA-256).
pub fn verify_signature(parsed: &Parsed, key: &Jwk) -> Result<(), Rejection> {
    let field = |value: &Option<String>| {
        value
            .as_deref()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .ok_or(Rejection::Malformed("key"))
    };
    let verified = match parsed.header.alg.as_str() {
        "RS256" => {
            let public = signature::RsaPublicKeyComponents {
                n: field(&key.n)?,
                e: field(&key.e)?,
            };
            public.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &parsed.signed,
                &parsed.signature,
            )
        }
        "ES256" => {
            if key.crv.as_deref() != Some("P-256") {
                return Err(Rejection::Malformed("key"));
            }
            let mut point = vec![0x04];
            point.extend(field(&key.x)?);
            point.extend(field(&key.y)?);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(&parsed.signed, &parsed.signature)
        }
        other => return Err(Rejection::Algorithm(other.to_string())),
    };
    verified.map_err(|_| Rejection::Signature)
}

/// The claims' checks, after the signature's: issuer, audience (and the authorised party when
/// there are several audiences), expiry and issue time with a little leeway, and the nonce.
pub fn check_claims(claims: &Value, expected: &Expected<'_>) -> Result<(), Rejection> {
    if claims["iss"].as_str() != Some(expected.issuer) {
        return Err(Rejection::Issuer);
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences.contains(&expected.client_id) {
        return Err(Rejection::Audience);
    }
    let azp = claims["azp"].as_str();
    if (audiences.len() > 1 || azp.is_some()) && azp != Some(expected.client_id) {
        return Err(Rejection::Audience);
    }
    let exp = claims["exp"]
        .as_i64()
        .ok_or(Rejection::Malformed("no exp"))?;
    if exp + LEEWAY_SECONDS <= expected.now {
        return Err(Rejection::Expired);
    }
    let iat = claims["iat"]
        .as_i64()
        .ok_or(Rejection::Malformed("no iat"))?;
    if iat - LEEWAY_SECONDS > expected.now {
        return Err(Rejection::NotYetValid);
    }
    let nonce = claims["nonce"].as_str().unwrap_or("");
    if !crate::http::auth::constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(Rejection::Nonce);
    }
    if claims["sub"].as_str().is_none_or(str::is_empty) {
        return Err(Rejection::Malformed("no sub"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected(now: i64) -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "tavla",
            nonce: "n-1",
            now,
        }
    }

    fn good(now: i64) -> Value {
        json!({"iss": "https://idp.example", "aud": "tavla", "exp": now + 300, "iat": now,
               "nonce": "n-1", "sub": "abc"})
    }

    #[test]
    fn claims_are_checked_one_by_one() {
        let now = 1_800_000_000;
        assert_eq!(check_claims(&good(now), &expected(now)), Ok(()));
        let with = |key: &str, value: Value| {
            let mut claims = good(now);
            claims[key] = value;
            check_claims(&claims, &expected(now))
        };
        assert_eq!(
            with("iss", json!("https://other.example")),
            Err(Rejection::Issuer)
        );
        assert_eq!(with("aud", json!("other")), Err(Rejection::Audience));
        assert_eq!(
            with("aud", json!(["other", "tavla"])),
            Err(Rejection::Audience)
        );
        assert_eq!(with("azp", json!("tavla")), Ok(()));
        assert_eq!(with("exp", json!(now - 61)), Err(Rejection::Expired));
        assert_eq!(with("exp", json!(now - 30)), Ok(()));
        assert_eq!(with("iat", json!(now + 600)), Err(Rejection::NotYetValid));
        assert_eq!(with("nonce", json!("n-2")), Err(Rejection::Nonce));
        assert_eq!(with("sub", json!("")), Err(Rejection::Malformed("no sub")));
    }

    #[test]
    fn an_es256_token_verifies_with_its_key_and_not_with_another() {
        use ring::rand::SystemRandom;
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = SystemRandom::new();
        let pair = |rng: &SystemRandom| {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng).unwrap();
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng).unwrap()
        };
        let jwk = |key: &EcdsaKeyPair| {
            let point = key.public_key().as_ref();
            Jwk {
                kty: "EC".into(),
                kid: Some("ec-1".into()),
                usage: Some("sig".into()),
                n: None,
                e: None,
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
            }
        };
        let (signer, other) = (pair(&rng), pair(&rng));
        let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let signed = format!(
            "{}.{}",
            part(json!({"alg": "ES256", "kid": "ec-1"})),
            part(good(0))
        );
        let signature = signer.sign(&rng, signed.as_bytes()).unwrap();
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
        let parsed = parse(&token).unwrap();
        let published = [jwk(&signer)];
        let key = find_key(&parsed.header, &published).expect("found by kid");
        assert_eq!(verify_signature(&parsed, key), Ok(()));
        assert_eq!(
            verify_signature(&parsed, &jwk(&other)),
            Err(Rejection::Signature)
        );
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.", part(json!({"alg": "none"})), part(good(0)));
        let parsed = parse(&token).unwrap();
        let key = Jwk {
            kty: "RSA".into(),
            kid: None,
            usage: None,
            n: Some("AQAB".into()),
            e: Some("AQAB".into()),
            crv: None,
            x: None,
            y: None,
        };
        assert!(find_key(&parsed.header, std::slice::from_ref(&key)).is_none());
        assert_eq!(
            verify_signature(&parsed, &key),
            Err(Rejection::Algorithm("none".into()))
        );
    }
}
