//! Single sign-on through the organisation's identity provider (OpenID Connect, authorization
//! code flow with PKCE). This part knows the provider: its settings and role rules, its
//! discovery document and published keys (both cached; an unknown key id fetches the keys once
//! more, so the provider may rotate its keys), the code exchange, and which tavla role a person's
//! groups give. The routes are in src/http/oidc.rs, the rows in src/store/oidc.rs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::id_token::{self, Expected, Jwk, Jwks, Rejection};
use super::Role;
use crate::settings::{Secret, Settings};

const BUILT_IN_RULES: &str = include_str!("../../config/oidc.toml");
/// How long the discovery document is trusted before it is read again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// One request to the provider may take this long.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default, rename = "rule")]
    rules: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    group: String,
    role: String,
    #[serde(default)]
    channels: Vec<String>,
}

/// One group (or app role) and what it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    pub group: String,
    pub role: Role,
    /// Channels as `platform:platform_id`; empty: every channel.
    pub channels: Vec<String>,
}

/// What a person's groups give: their roles and channel limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub roles: super::Roles,
    /// Channels as `platform:platform_id`; empty: every channel.
    pub channels: Vec<String>,
}

/// What the rules give a person with these groups (see `OidcConfig::grant_for`).
pub fn grant(rules: &[RoleRule], groups: &[String]) -> Option<Grant> {
    let matching: Vec<&RoleRule> = rules.iter().filter(|r| groups.contains(&r.group)).collect();
    let roles = super::Roles::new(matching.iter().map(|r| r.role))?;
    let channels = if matching.iter().any(|r| r.channels.is_empty()) {
        Vec::new()
    } else {
        let mut all: Vec<String> = matching
            .iter()
            .flat_map(|r| r.channels.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    };
    Some(Grant { roles, channels })
}

/// The rules of `oidc_roles_file`, checked: known roles, channels written as `platform:id`.
pub fn parse_rules(text: &str) -> anyhow::Result<Vec<RoleRule>> {
    let file: RulesFile = toml::from_str(text)?;
    file.rules
        .into_iter()
        .map(|rule| {
            let Some(role) = Role::parse(&rule.role).filter(|r| *r != Role::Integration) else {
                bail!(
                    "role {:?} (the rule for group {:?}) is not a tavla role; write agent, communicator, moderator, admin or auditor",
                    rule.role,
                    rule.group
                );
            };
            if rule.group.trim().is_empty() {
                bail!("a rule has an empty group; write the group's name, object id or app role as the provider sends it");
            }
            if let Some(bad) = rule.channels.iter().find(|c| {
                c.split_once(':')
                    .is_none_or(|(p, id)| p.is_empty() || id.is_empty())
            }) {
                bail!(
                    "rule for group {:?} has channel {bad:?}; write channels as \"platform:platform id\", e.g. \"facebook:104729384756\"",
                    rule.group
                );
            }
            Ok(RoleRule {
                group: rule.group,
                role,
                channels: rule.channels,
            })
        })
        .collect()
}

/// The rules file named by the settings, or the shipped copy (no rules) when it is missing.
pub fn load_rules(path: &Path) -> anyhow::Result<Vec<RoleRule>> {
    let text = if path.exists() {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    } else {
        BUILT_IN_RULES.to_string()
    };
    parse_rules(&text).with_context(|| format!("in {}", path.display()))
}

/// The provider's settings, when single sign-on is configured.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub provider_name: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub redirect_url: reqwest::Url,
    pub scopes: String,
    pub groups_claim: String,
    pub rules: Vec<RoleRule>,
}

impl OidcConfig {
    /// None when `oidc_issuer` is empty (no single sign-on).
    pub fn from_settings(s: &Settings) -> anyhow::Result<Option<OidcConfig>> {
        let issuer = s.oidc_issuer.trim().trim_end_matches('/');
        if issuer.is_empty() {
            return Ok(None);
        }
        if s.oidc_client_id.trim().is_empty() {
            bail!("oidc_issuer is set but oidc_client_id is not; give the client id registered for tavla at the provider");
        }
        let redirect_url = reqwest::Url::parse(s.oidc_redirect_url.trim()).context(
            "oidc_redirect_url is not a URL; write https://<tavla's address>/auth/oidc/callback as registered at the provider",
        )?;
        let mut scopes: Vec<&str> = s.oidc_scopes.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            scopes.insert(0, "openid");
        }
        Ok(Some(OidcConfig {
            issuer: issuer.to_string(),
            provider_name: match s.oidc_provider_name.trim() {
                "" => "the organisation's sign-in".to_string(),
                name => name.to_string(),
            },
            client_id: s.oidc_client_id.trim().to_string(),
            client_secret: s.oidc_client_secret.clone(),
            redirect_url,
            scopes: scopes.join(" "),
            groups_claim: s.oidc_groups_claim.trim().to_string(),
            rules: load_rules(&s.oidc_roles_file)?,
        }))
    }

    /// What the person's groups give together: every matching rule's role (a person may hold
    /// several, issue 19), and the union of their channels, where a matching rule without
    /// channels gives every channel (the limit is the person's, not a role's). None when no rule
    /// matches.
    pub fn grant_for(&self, groups: &[String]) -> Option<Grant> {
        grant(&self.rules, groups)
    }
}

/// The groups (or app roles) an ID token lists under `claim`: a list, or one string.
pub fn groups_in(claims: &Value, claim: &str) -> Vec<String> {
    match &claims[claim] {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Value::String(one) => vec![one.clone()],
        _ => vec![],
    }
}

/// Where the provider's endpoints are, as its discovery document says.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// What went wrong talking to the provider (not the person's fault).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

/// Why an ID token did not sign anyone in.
#[derive(Debug)]
pub enum TokenProblem {
    Provider(ProviderError),
    Rejected(Rejection),
}

/// The secrets of one started sign-in: the state and nonce sent to the provider, and the PKCE
/// verifier kept here (the provider sees only its digest).
pub struct Started {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Started {
    pub fn new() -> Started {
        Started {
            state: random_text(),
            nonce: random_text(),
            verifier: random_text(),
        }
    }
}

impl Default for Started {
    fn default() -> Self {
        Started::new()
    }
}

/// 32 random bytes, URL-safe.
fn random_text() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE challenge (S256) for a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The provider, as this instance knows it: settings, and what it has read from it.
pub struct Provider {
    pub config: OidcConfig,
    http: reqwest::Client,
    discovery: Mutex<Option<(Instant, Discovery)>>,
    keys: Mutex<Vec<Jwk>>,
}

impl Provider {
    pub fn new(config: OidcConfig) -> anyhow::Result<Provider> {
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Provider {
            config,
            http,
            discovery: Mutex::new(None),
            keys: Mutex::new(Vec::new()),
        })
    }

    async fn discovery(&self) -> Result<Discovery, ProviderError> {
        let mut cached = self.discovery.lock().await;
        if let Some((at, found)) = cached.as_ref() {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(found.clone());
            }
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let found: Discovery = self.get_json(&url).await?;
        if found.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(ProviderError(format!(
                "the provider's discovery document names the issuer {:?}, not {:?}; set oidc_issuer to exactly what the provider names",
                found.issuer, self.config.issuer
            )));
        }
        *cached = Some((Instant::now(), found.clone()));
        Ok(found)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, ProviderError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| ProviderError(format!("could not reach {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(ProviderError(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response.json().await.map_err(|e| {
            ProviderError(format!(
                "{url} did not answer what OpenID Connect describes: {e}"
            ))
        })
    }

    /// Where to send the browser: the provider's authorization endpoint with this sign-in's
    /// state, nonce and PKCE challenge.
    pub async fn authorization_url(
        &self,
        started: &Started,
    ) -> Result<reqwest::Url, ProviderError> {
        let discovery = self.discovery().await?;
        let mut url = reqwest::Url::parse(&discovery.authorization_endpoint).map_err(|e| {
            ProviderError(format!(
                "the provider's authorization endpoint is not a URL: {e}"
            ))
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", self.config.redirect_url.as_str())
            .append_pair("scope", &self.config.scopes)
            .append_pair("state", &started.state)
            .append_pair("nonce", &started.nonce)
            .append_pair("code_challenge", &challenge(&started.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Exchanges the code (with the PKCE verifier) for tokens and checks the ID token; returns
    /// its claims.
    pub async fn sign_in(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        now_seconds: i64,
    ) -> Result<Value, TokenProblem> {
        let token = self
            .exchange(code, verifier)
            .await
            .map_err(TokenProblem::Provider)?;
        self.verify(&token, nonce, now_seconds).await
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<String, ProviderError> {
        let discovery = self.discovery().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_url.as_str()),
            ("client_id", &self.config.client_id),
            ("code_verifier", verifier),
        ];
        if !self.config.client_secret.is_blank() {
            form.push(("client_secret", self.config.client_secret.expose()));
        }
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| ProviderError(format!("could not reach the token endpoint: {e}")))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            // The provider's own words (error, error_description) say what it did not accept.
            return Err(ProviderError(format!(
                "the token endpoint refused the code ({status}: {} {})",
                body["error"].as_str().unwrap_or(""),
                body["error_description"].as_str().unwrap_or("")
            )));
        }
        body["id_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError(
                    "the token endpoint gave no id_token; include the openid scope".into(),
                )
            })
    }

    /// Checks an ID token: its signature by a published key (fetching the keys again, once,
    /// when the token names a key not yet known), then its claims.
    pub async fn verify(&self, token: &str, nonce: &str, now: i64) -> Result<Value, TokenProblem> {
        let parsed = id_token::parse(token).map_err(TokenProblem::Rejected)?;
        if !matches!(parsed.header.alg.as_str(), "RS256" | "ES256") {
            return Err(TokenProblem::Rejected(Rejection::Algorithm(
                parsed.header.alg.clone(),
            )));
        }
        let key = self.key_for(&parsed.header).await?;
        id_token::verify_signature(&parsed, &key).map_err(TokenProblem::Rejected)?;
        let expected = Expected {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            nonce,
            now,
        };
        id_token::check_claims(&parsed.claims, &expected).map_err(TokenProblem::Rejected)?;
        Ok(parsed.claims)
    }

    async fn key_for(&self, header: &id_token::Header) -> Result<Jwk, TokenProblem> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = id_token::find_key(header, &keys) {
            return Ok(key.clone());
        }
        let discovery = self.discovery().await.map_err(TokenProblem::Provider)?;
        let fetched: Jwks = self
            .get_json(&discovery.jwks_uri)
            .await
            .map_err(TokenProblem::Provider)?;
        *keys = fetched.keys;
        id_token::find_key(header, &keys)
            .cloned()
            .ok_or(TokenProblem::Rejected(Rejection::UnknownKey))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_matching_rule_gives_its_role_and_bad_rules_are_named() {
        let rules = parse_rules(
            "[[rule]]\ngroup = \"admins\"\nrole = \"admin\"\n\n[[rule]]\ngroup = \"agents\"\nrole = \"agent\"\nchannels = [\"facebook:1\"]\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].channels, ["facebook:1"]);
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let both = grant(&rules, &groups(&["agents", "admins", "kaffe"])).unwrap();
        assert_eq!(
            both.roles.names(),
            ["agent", "admin"],
            "every match, not the first"
        );
        assert!(
            both.channels.is_empty(),
            "a rule without channels gives every channel"
        );
        let agent = grant(&rules, &groups(&["agents"])).unwrap();
        assert_eq!(agent.channels, ["facebook:1"]);
        assert!(grant(&rules, &groups(&["kaffe"])).is_none());
        let bad = parse_rules("[[rule]]\ngroup = \"x\"\nrole = \"boss\"\n").unwrap_err();
        assert!(format!("{bad:#}").contains("\"boss\""), "{bad:#}");
        let bad = parse_rules("[[rule]]\ngroup = \"x\"\nrole = \"agent\"\nchannels = [\"12\"]\n")
            .unwrap_err();
        assert!(
            format!("{bad:#}").contains("platform:platform id"),
            "{bad:#}"
        );
        assert!(parse_rules(BUILT_IN_RULES).unwrap().is_empty());
    }

    #[test]
    fn the_challenge_is_the_verifiers_sha256() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
