//! Who is calling, and may they? Every API route carries a `Rule`; the `enforce` middleware
//! authenticates (an API token as `Authorization: Bearer`, or the session cookie with its CSRF
//! header for changes), computes the caller's effective capabilities (role AND valid training),
//! and refuses before the handler runs. Handlers then narrow by conversation kind and channel scope.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use super::AppState;
use crate::access::training::Effective;
use crate::access::{Capability, Roles};
use crate::settings::parse_trusted_proxy;
use crate::settings::Settings;
use crate::store::audit::Actor;
use crate::store::now_ms;
use crate::store::scope::{ReadScope, StaffReading};
use crate::store::staff::StaffMember;

/// What a route demands of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No staff sign-in (health, the console's files, sign-in itself). Some carry their own
    /// credential: webhooks their signature, metrics a scrape token or an allowed address.
    Public,
    /// Any signed-in staff member; the handler shows only what they may see.
    SignedIn,
    /// One capability.
    Needs(Capability),
    /// At least one of these; the handler decides per item (a DM or a comment).
    AnyOf(&'static [Capability]),
}

#[derive(Debug, Clone)]
pub struct SessionRef {
    pub id: i64,
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub staff: StaffMember,
    /// Every role the caller holds; what they may do is the union, each capability gated by its
    /// own training.
    pub roles: Roles,
    pub effective: Effective,
    /// Channels the caller is limited to; None for every channel.
    pub scope: Option<Vec<i64>>,
    pub session: Option<SessionRef>,
    /// The digest of the API token used, so a long-lived stream can see it revoked.
    pub token_digest: Option<String>,
    pub address: Option<String>,
}

impl Caller {
    pub fn can(&self, capability: Capability) -> bool {
        self.effective.has(capability)
    }

    /// Refuses with a message that says whether the roles or the training are missing (naming the
    /// roles held), and which training modules.
    pub fn require(&self, capability: Capability) -> Result<(), AppError> {
        if self.can(capability) {
            return Ok(());
        }
        let missing = self.effective.missing_for(capability);
        if missing.is_empty() {
            return Err(AppError::forbidden(format!(
                "{} {} not include {}; ask an administrator if your work needs it",
                self.roles.describe(),
                if self.roles.len() > 1 { "do" } else { "does" },
                capability.describe()
            )));
        }
        // Which of the caller's roles would give it, so a person with several roles knows
        // which part of their work waits for training.
        let by: Vec<&str> = self
            .roles
            .iter()
            .filter(|r| r.can(capability))
            .map(|r| r.as_str())
            .collect();
        Err(AppError {
            extra: Some(serde_json::json!({"missing_training": missing, "roles": by})),
            ..AppError::forbidden(format!(
                "{} needs training you have not completed (or that has expired): {}; ask your trainer to sign it off (it is part of your {} role)",
                capability.describe(),
                missing.join(", "),
                by.join(" and ")
            ))
        })
    }

    /// What this caller may read of what people wrote: the kinds their effective capabilities
    /// allow, their channel limit, and hidden content when they moderate. Every store read of
    /// message text takes it (src/store/scope.rs).
    pub fn read_scope(&self) -> ReadScope {
        ReadScope::for_staff(StaffReading {
            read_dms: self.can(Capability::ReadDms),
            read_comments: self.can(Capability::ReadComments),
            moderate: self.can(Capability::Moderate),
            channels: self.scope.clone(),
        })
    }

    /// For answering one person's request for their data (the DPO): their words in any kind
    /// of conversation, within the caller's channel limit.
    pub fn privacy_request_scope(&self) -> Result<ReadScope, AppError> {
        self.require(Capability::HandlePrivacyRequests)?;
        Ok(ReadScope::privacy_request(self.scope.clone()))
    }

    pub fn may_see_channel(&self, channel_id: i64) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|channels| channels.contains(&channel_id))
    }

    /// Whether an account limited to `channels` (empty: every channel) lies inside the caller's
    /// own limit. An unlimited caller reaches every account; a limited caller only accounts
    /// limited to channels inside their own limit, so no one widens a limit through another.
    pub fn reaches(&self, channels: &[i64]) -> bool {
        match &self.scope {
            None => true,
            Some(own) => !channels.is_empty() && channels.iter().all(|c| own.contains(c)),
        }
    }

    /// Refuses a channel-limited caller work that spans every channel (a person's data in every
    /// channel, retention, legal holds), as FAQ curation does.
    pub fn require_every_channel(&self, what: &str) -> Result<(), AppError> {
        if self.scope.is_some() {
            return Err(AppError::forbidden(format!(
                "{what} spans every channel, so it needs an account without a channel limit; ask someone without one"
            )));
        }
        Ok(())
    }

    pub fn actor(&self) -> Actor {
        Actor {
            staff_id: Some(self.staff.id),
            name: self.staff.username.clone(),
            address: self.address.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| AppError::internal("a route that needs a caller has no access rule"))
    }
}

/// How long authenticating the request took (a route's `Server-Timing` may report it).
#[derive(Debug, Clone, Copy)]
pub struct Authenticated(pub std::time::Duration);

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tavla_session"
    } else {
        "tavla_session"
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest address in
/// X-Forwarded-For that is not one (README, "Behind a reverse proxy").
pub fn client_address(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<String> {
    let peer = peer?.ip();
    Some(forwarded_client(&state.settings.trusted_proxies, headers, peer).to_string())
}

/// Reads X-Forwarded-For from the right, across all its header lines (a proxy may add a line of
/// its own rather than append): each trusted proxy names the hop before it, and the first hop that
/// is not a trusted proxy is the client. A hop that is not an address ends the walk, since what
/// lies left of it may be forged; without a trusted peer the header is ignored entirely.
fn forwarded_client(trusted: &[String], headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    // An IPv4 peer seen through an IPv6 socket is logged and matched as IPv4.
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| {
        trusted
            .iter()
            .filter_map(|entry| parse_trusted_proxy(entry))
            .any(|(net, bits)| in_network(ip, net, bits))
    };
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| match line.to_str() {
            Ok(line) => line.split(',').map(parse_hop).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = hop else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// One hop: an address, possibly with a port (`203.0.113.5:4711`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Is `ip` within `net`/`bits`?
fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => (u32::from(ip) as u128, u32::from(net) as u128, 32),
        (IpAddr::V6(ip), IpAddr::V6(net)) => (u128::from(ip), u128::from(net), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || (ip >> shift) == (net >> shift)
}

fn session_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Authenticates a request. Cookie-authenticated changes must carry the session's CSRF token.
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Caller, AppError> {
    let address = client_address(state, headers, peer);
    if let Some(header) = headers.get(AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| {
                AppError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let digest = crate::store::staff::token_digest(token);
        let record = state
            .store
            .caller_by_token_digest(&digest)
            .await?
            .ok_or_else(|| {
                AppError::unauthorized("the token is not valid (revoked, or the account is disabled); ask an administrator for a new one")
            })?;
        let grants = (record.roles, record.completions, record.channel_scope);
        return caller(state, record.staff, grants, None, Some(digest), address);
    }
    let Some(token) = session_cookie(headers, cookie_name(state.settings.secure_cookies)) else {
        return Err(AppError::unauthorized(
            "sign in (POST /api/v1/session) or send Authorization: Bearer <token> from `tavla token create`",
        ));
    };
    let session = state
        .store
        .session_by_token(token)
        .await?
        .ok_or_else(|| AppError::unauthorized("your session has ended; sign in again"))?;
    if session_expired(&state.settings, session.created_at, session.last_seen_at) {
        let actor = Actor {
            staff_id: Some(session.staff.id),
            name: session.staff.username.clone(),
            address: address.clone(),
        };
        state
            .store
            .end_session(session.id, &actor, "session.expired")
            .await?;
        return Err(AppError::unauthorized(
            "your session has timed out; sign in again",
        ));
    }
    let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state {
        let given = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), session.csrf_token.as_bytes()) {
            return Err(AppError::forbidden(
                "this change needs the X-CSRF-Token header with the token given at sign-in; reload the page and try again",
            ));
        }
    }
    state.store.touch_session(session.id).await?;
    let grants = grants(state, session.staff.id).await?;
    let session_ref = Some(SessionRef { id: session.id });
    caller(state, session.staff, grants, session_ref, None, address)
}

/// A caller's roles, training completions and channel scope, as stored.
type Grants = (
    Vec<String>,
    Vec<crate::store::access::Completion>,
    Option<Vec<i64>>,
);

/// Three reads of their own: asked at once, one wait instead of three on every request.
async fn grants(state: &AppState, staff_id: i64) -> Result<Grants, AppError> {
    Ok(tokio::try_join!(
        state.store.staff_roles(staff_id),
        state.store.completions(staff_id),
        state.store.channel_scope(staff_id)
    )?)
}

/// The caller, with what their roles and valid training let them do now.
fn caller(
    state: &AppState,
    staff: StaffMember,
    (held, completions, scope): Grants,
    session: Option<SessionRef>,
    token_digest: Option<String>,
    address: Option<String>,
) -> Result<Caller, AppError> {
    let roles = Roles::parse_all(&held)
        .ok_or_else(|| AppError::internal(format!("staff {} has no known role", staff.id)))?;
    let effective = state.training.effective(&roles, &completions, now_ms());
    Ok(Caller {
        staff,
        roles,
        effective,
        scope,
        session,
        token_digest,
        address,
    })
}

/// A session ends after `session_idle_minutes` without use, and in any case
/// `session_absolute_hours` after sign-in. The same rule for requests and for open event streams.
pub fn session_expired(settings: &Settings, created_at: i64, last_seen_at: i64) -> bool {
    let now = now_ms();
    let idle_ms = settings.session_idle_minutes * 60_000;
    let absolute_ms = settings.session_absolute_hours * 3_600_000;
    now - last_seen_at > idle_ms || now - created_at > absolute_ms
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware every API route passes through, with its rule in the request's extensions.
pub async fn enforce(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let rule = request.extensions().get::<Rule>().copied();
    let Some(rule) = rule else {
        return AppError::internal("a route has no access rule").into_response();
    };
    if rule == Rule::Public {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let started = std::time::Instant::now();
    let caller = match authenticate(&state, request.method(), request.headers(), peer).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    request
        .extensions_mut()
        .insert(Authenticated(started.elapsed()));
    let allowed = match rule {
        Rule::Public | Rule::SignedIn => Ok(()),
        Rule::Needs(capability) => caller.require(capability),
        Rule::AnyOf(capabilities) => {
            if capabilities.iter().any(|c| caller.can(*c)) {
                Ok(())
            } else {
                // Name the training missing for a capability a role grants; if the roles grant
                // none of them, say so for all of them.
                match capabilities.iter().find(|c| caller.roles.can(**c)) {
                    Some(granted) => caller.require(*granted),
                    None => Err(AppError::forbidden(format!(
                        "{} {} not include {}; ask an administrator if your work needs it",
                        caller.roles.describe(),
                        if caller.roles.len() > 1 { "do" } else { "does" },
                        capabilities
                            .iter()
                            .map(|c| c.describe())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ))),
                }
            }
        }
    };
    if let Err(e) = allowed {
        return e.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(trusted: &[&str], lines: &[&str], peer: &str) -> String {
        let trusted: Vec<String> = trusted.iter().map(|t| t.to_string()).collect();
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", line.parse().unwrap());
        }
        forwarded_client(&trusted, &headers, peer.parse().unwrap()).to_string()
    }

    #[test]
    fn the_client_is_the_nearest_hop_that_is_not_a_trusted_proxy() {
        // No trusted peer: the header is anyone's to write.
        assert_eq!(client(&[], &["203.0.113.1"], "192.0.2.9"), "192.0.2.9");
        assert_eq!(
            client(&["10.0.0.1"], &["203.0.113.1"], "192.0.2.9"),
            "192.0.2.9"
        );
        // A forged hop on the left is passed over; networks and ports are understood.
        assert_eq!(
            client(
                &["10.0.0.0/8"],
                &["6.6.6.6, 203.0.113.1, 10.2.3.4"],
                "10.0.0.1"
            ),
            "203.0.113.1"
        );
        assert_eq!(
            client(&["10.0.0.1"], &["6.6.6.6", "203.0.113.1:4711"], "10.0.0.1"),
            "203.0.113.1"
        );
        assert_eq!(
            client(&["fd00::/8"], &["[2001:db8::5]:443"], "fd00::1"),
            "2001:db8::5"
        );
        // A hop that is no address ends the walk at the last believed one.
        assert_eq!(
            client(&["10.0.0.1"], &["6.6.6.6, junk"], "10.0.0.1"),
            "10.0.0.1"
        );
        // An IPv4 peer seen through an IPv6 socket is the same peer.
        assert_eq!(
            client(&["10.0.0.1"], &["203.0.113.1"], "::ffff:10.0.0.1"),
            "203.0.113.1"
        );
    }

    #[test]
    fn networks_match_by_their_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("10.9.8.7"), ip("10.0.0.0"), 8));
        assert!(!in_network(ip("11.0.0.1"), ip("10.0.0.0"), 8));
        assert!(in_network(ip("11.0.0.1"), ip("0.0.0.0"), 0));
        assert!(in_network(ip("10.0.0.7"), ip("10.0.0.7"), 32));
        assert!(!in_network(ip("10.0.0.8"), ip("10.0.0.7"), 32));
        assert!(!in_network(ip("fd00::1"), ip("10.0.0.0"), 8));
        assert_eq!(parse_trusted_proxy("10.0.0.0/33"), None);
        assert_eq!(parse_trusted_proxy("proxy.example"), None);
        assert_eq!(parse_trusted_proxy(" fd00::/8 "), Some((ip("fd00::"), 8)));
    }
}
