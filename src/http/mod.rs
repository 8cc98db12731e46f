//! The HTTP layer: translates requests into calls of the capabilities and their answers into
//! responses. No business rules live here beyond "which capability does this route need".

mod audit;
pub mod auth;
mod campaigns;
mod categories;
mod channels;
mod console;
mod conversations;
pub mod csp;
mod deliveries;
pub mod description;
pub mod error;
mod events;
pub mod extract;
mod faq;
pub mod feed;
mod handover;
mod messages;
mod moderation;
mod notes;
mod oidc;
pub mod overload;
mod posts;
mod privacy;
mod reports;
mod saved_replies;
mod search;
mod session;
mod staff;
mod synonyms;
mod system;
mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::{Extension, Router};
use tokio::sync::watch;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::access::training::TrainingConfig;
use crate::access::Capability;
use crate::ingest::Ingestor;
use crate::settings::Settings;
use crate::store::Store;
pub use auth::Rule;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub ingestor: Ingestor,
    pub settings: Arc<Settings>,
    pub training: Arc<TrainingConfig>,
    pub moderation: Arc<crate::moderation::service::Moderation>,
    pub faq: Arc<crate::faq::signals::FaqSignals>,
    pub retention: Arc<crate::privacy::rules::RetentionRules>,
    /// The search index; a damaged one heals itself (src/search/healing.rs) and says so on search.
    pub search: Arc<crate::search::SearchIndex>,
    /// The last event sequence applied to the search index.
    pub indexed_seq: watch::Receiver<i64>,
    /// Flips to true when the service begins to shut down, so long-lived streams end.
    pub shutdown: watch::Receiver<bool>,
    /// Places for API requests, webhooks and event streams (src/http/overload.rs).
    pub limits: Arc<overload::Limits>,
    /// The instance's one reader of the event log, which live streams listen to.
    pub feed: feed::LiveFeed,
    /// The few slots in which password hashes run (sign-in, password change).
    pub password_hashing: Arc<crate::access::hashing::PasswordHashing>,
    /// What this instance's delivery workers failed at, for /metrics.
    pub delivery_failures: Arc<crate::metrics::DeliveryFailures>,
    /// Outgoing webhooks' receivers, and the units conversations may be handed to.
    pub integrations: Arc<crate::outbound::integrations::Integrations>,
    /// The organisation's identity provider, when single sign-on is configured.
    pub oidc: Option<Arc<crate::access::oidc::Provider>>,
}

/// One route: its method and path, the rule its callers must meet, and its handler.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub rule: Rule,
}

/// Every route of the service, each with its access rule. The router is built from this table,
/// and the access test walks the same table, so a route cannot exist without a rule.
pub fn routes() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use Capability::*;
    const CONVERSATIONS: &[Capability] = &[ReadDms, ReadComments];
    // The archivist's work (admin) and the DPO's (auditor) meet at holds and retention.
    const RECORDS: &[Capability] = &[ManageRetention, HandlePrivacyRequests];
    // Routine steps: moderators, and those who answer, for the steps routines.toml gives them.
    const STEP_TAKERS: &[Capability] = &[Moderate, AnswerComments, AnswerDms];
    // Post follow-up: communicators (who follow FAQ signals) and administrators (who run the
    // channels); each handler keeps to the caller's channel limit.
    const FOLLOW_UP: &[Capability] = &[SeeFaq, ManageChannels];
    let r = |method: Method, path: &'static str, rule: Rule, handler: MethodRouter<AppState>| {
        (RouteSpec { method, path, rule }, handler)
    };
    vec![
        // The console: its page and files are public; everything it shows comes from the API.
        r(Method::GET, "/", Rule::Public, get(console::index)),
        r(
            Method::GET,
            "/static/{*path}",
            Rule::Public,
            get(console::asset),
        ),
        r(
            Method::POST,
            "/api/v1/csp-reports",
            Rule::Public,
            post(csp::receive),
        ),
        r(Method::GET, "/healthz", Rule::Public, get(system::healthz)),
        r(Method::GET, "/readyz", Rule::Public, get(system::readyz)),
        r(Method::GET, "/metrics", Rule::Public, get(system::metrics)),
        r(
            Method::GET,
            "/webhooks/meta",
            Rule::Public,
            get(webhooks::handshake),
        ),
        r(
            Method::POST,
            "/webhooks/meta",
            Rule::Public,
            post(webhooks::receive),
        ),
        r(
            Method::GET,
            "/api/v1/openapi.json",
            Rule::Public,
            get(system::openapi),
        ),
        r(
            Method::POST,
            "/api/v1/session",
            Rule::Public,
            post(session::sign_in),
        ),
        // Single sign-on: the console asks which ways to sign in there are, then the browser
        // goes to the identity provider and comes back to the callback.
        r(
            Method::GET,
            "/api/v1/signin-options",
            Rule::Public,
            get(oidc::options),
        ),
        r(
            Method::GET,
            "/auth/oidc/start",
            Rule::Public,
            get(oidc::start),
        ),
        r(
            Method::GET,
            "/auth/oidc/callback",
            Rule::Public,
            get(oidc::callback),
        ),
        r(
            Method::DELETE,
            "/api/v1/session",
            Rule::SignedIn,
            delete(session::sign_out),
        ),
        r(Method::GET, "/api/v1/me", Rule::SignedIn, get(system::me)),
        r(
            Method::POST,
            "/api/v1/me/password",
            Rule::SignedIn,
            post(session::change_password),
        ),
        // A person's own API tokens: only the holder mints a token that acts as them.
        r(
            Method::POST,
            "/api/v1/me/tokens",
            Rule::SignedIn,
            post(staff::create_own_token),
        ),
        r(
            Method::DELETE,
            "/api/v1/me/tokens",
            Rule::SignedIn,
            delete(staff::revoke_own_tokens),
        ),
        r(
            Method::POST,
            "/api/v1/messages",
            Rule::Needs(Ingest),
            post(messages::ingest),
        ),
        r(
            Method::GET,
            "/api/v1/conversations",
            Rule::AnyOf(CONVERSATIONS),
            get(conversations::list),
        ),
        r(
            Method::GET,
            "/api/v1/conversations/{id}",
            Rule::AnyOf(CONVERSATIONS),
            get(conversations::show),
        ),
        r(
            Method::POST,
            "/api/v1/conversations/{id}/claim",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            post(conversations::claim),
        ),
        r(
            Method::POST,
            "/api/v1/conversations/{id}/release",
            Rule::AnyOf(CONVERSATIONS),
            post(conversations::release),
        ),
        r(
            Method::POST,
            "/api/v1/conversations/{id}/status",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            post(conversations::set_status),
        ),
        r(
            Method::POST,
            "/api/v1/conversations/{id}/replies",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            post(conversations::reply),
        ),
        r(
            Method::POST,
            "/api/v1/conversations/{id}/handover",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            post(handover::hand_over),
        ),
        r(
            Method::POST,
            "/api/v1/conversations/{id}/categories",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            post(categories::set),
        ),
        // A saved reply filled for one conversation, before it is sent.
        r(
            Method::GET,
            "/api/v1/conversations/{id}/saved-replies/{reply}/preview",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            get(saved_replies::preview),
        ),
        // Internal notes: written by those who may answer, read with the conversation.
        r(
            Method::POST,
            "/api/v1/conversations/{id}/notes",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            post(notes::write),
        ),
        r(
            Method::POST,
            "/api/v1/messages/{id}/retry",
            Rule::AnyOf(&[AnswerDms, AnswerComments]),
            post(deliveries::retry),
        ),
        r(
            Method::GET,
            "/api/v1/channels",
            Rule::SignedIn,
            get(channels::list),
        ),
        r(
            Method::POST,
            "/api/v1/channels",
            Rule::Needs(ManageChannels),
            post(channels::register),
        ),
        r(
            Method::POST,
            "/api/v1/channels/{id}/approve",
            Rule::Needs(ManageChannels),
            post(channels::approve),
        ),
        r(
            Method::GET,
            "/api/v1/quarantine",
            Rule::Needs(ManageChannels),
            get(channels::quarantine),
        ),
        r(
            Method::GET,
            "/api/v1/staff",
            Rule::Needs(ManageStaff),
            get(staff::list),
        ),
        r(
            Method::POST,
            "/api/v1/staff",
            Rule::Needs(ManageStaff),
            post(staff::add),
        ),
        r(
            Method::POST,
            "/api/v1/service-accounts",
            Rule::Needs(ManageStaff),
            post(staff::add_service_account),
        ),
        r(
            Method::PATCH,
            "/api/v1/staff/{id}",
            Rule::Needs(ManageStaff),
            patch(staff::update),
        ),
        r(
            Method::GET,
            "/api/v1/staff/{id}/training",
            Rule::Needs(ManageStaff),
            get(staff::training),
        ),
        r(
            Method::POST,
            "/api/v1/staff/{id}/training",
            Rule::Needs(ManageStaff),
            post(staff::grant_training),
        ),
        r(
            Method::POST,
            "/api/v1/staff/{id}/tokens",
            Rule::Needs(ManageStaff),
            post(staff::create_token),
        ),
        r(
            Method::DELETE,
            "/api/v1/staff/{id}/tokens",
            Rule::Needs(ManageStaff),
            delete(staff::revoke_tokens),
        ),
        r(
            Method::GET,
            "/api/v1/audit",
            Rule::Needs(ReadAudit),
            get(audit::list),
        ),
        r(
            Method::GET,
            "/api/v1/events",
            Rule::SignedIn,
            get(events::stream),
        ),
        r(
            Method::GET,
            "/api/v1/search",
            Rule::AnyOf(CONVERSATIONS),
            get(search::search),
        ),
        // The categories of the contact centre's questions: seen by those who read
        // conversations, kept by administrators.
        r(
            Method::GET,
            "/api/v1/categories",
            Rule::AnyOf(&[ReadDms, ReadComments, ManageChannels]),
            get(categories::list),
        ),
        r(
            Method::POST,
            "/api/v1/categories",
            Rule::Needs(ManageChannels),
            post(categories::add),
        ),
        r(
            Method::PATCH,
            "/api/v1/categories/{id}",
            Rule::Needs(ManageChannels),
            patch(categories::change),
        ),
        // The organisation's search synonyms: seen by those who search, kept by administrators.
        r(
            Method::GET,
            "/api/v1/search/synonyms",
            Rule::AnyOf(&[ReadDms, ReadComments, ManageChannels]),
            get(synonyms::list),
        ),
        r(
            Method::POST,
            "/api/v1/search/synonyms",
            Rule::Needs(ManageChannels),
            post(synonyms::add),
        ),
        r(
            Method::PATCH,
            "/api/v1/search/synonyms/{id}",
            Rule::Needs(ManageChannels),
            patch(synonyms::change),
        ),
        r(
            Method::DELETE,
            "/api/v1/search/synonyms/{id}",
            Rule::Needs(ManageChannels),
            delete(synonyms::remove),
        ),
        r(
            Method::POST,
            "/api/v1/messages/{id}/report",
            Rule::AnyOf(CONVERSATIONS),
            post(moderation::report),
        ),
        r(
            Method::GET,
            "/api/v1/moderation/cases",
            Rule::Needs(Moderate),
            get(moderation::list),
        ),
        r(
            Method::GET,
            "/api/v1/moderation/cases/{id}",
            Rule::Needs(Moderate),
            get(moderation::show),
        ),
        r(
            Method::POST,
            "/api/v1/moderation/cases/{id}/steps",
            Rule::AnyOf(STEP_TAKERS),
            post(moderation::take_step),
        ),
        r(
            Method::POST,
            "/api/v1/moderation/cases/{id}/close",
            Rule::Needs(Moderate),
            post(moderation::close),
        ),
        r(
            Method::GET,
            "/api/v1/moderation/heated",
            Rule::Needs(Moderate),
            get(moderation::heated),
        ),
        r(
            Method::GET,
            "/api/v1/faq/clusters",
            Rule::Needs(SeeFaq),
            get(faq::clusters),
        ),
        r(
            Method::GET,
            "/api/v1/saved-replies",
            Rule::AnyOf(&[AnswerDms, AnswerComments, SeeFaq]),
            get(saved_replies::list),
        ),
        r(
            Method::POST,
            "/api/v1/saved-replies",
            Rule::Needs(SeeFaq),
            post(saved_replies::add),
        ),
        r(
            Method::PATCH,
            "/api/v1/saved-replies/{id}",
            Rule::Needs(SeeFaq),
            patch(saved_replies::update),
        ),
        r(
            Method::PATCH,
            "/api/v1/faq/clusters/{id}",
            Rule::Needs(SeeFaq),
            patch(faq::curate),
        ),
        r(
            Method::POST,
            "/api/v1/faq/clusters/{id}/questions",
            Rule::Needs(SeeFaq),
            post(faq::move_questions),
        ),
        r(
            Method::GET,
            "/api/v1/faq/topics",
            Rule::Needs(SeeFaq),
            get(faq::topics),
        ),
        r(
            Method::GET,
            "/api/v1/reports",
            Rule::Needs(SeeReports),
            get(reports::report),
        ),
        r(
            Method::GET,
            "/api/v1/posts",
            Rule::AnyOf(FOLLOW_UP),
            get(posts::list),
        ),
        r(
            Method::GET,
            "/api/v1/posts/{id}",
            Rule::AnyOf(FOLLOW_UP),
            get(posts::show),
        ),
        r(
            Method::POST,
            "/api/v1/posts/refresh",
            Rule::AnyOf(FOLLOW_UP),
            post(posts::refresh),
        ),
        r(
            Method::GET,
            "/api/v1/posts/refresh",
            Rule::AnyOf(FOLLOW_UP),
            get(posts::refresh_progress),
        ),
        r(
            Method::POST,
            "/api/v1/posts/{id}/notes",
            Rule::AnyOf(FOLLOW_UP),
            post(posts::write_note),
        ),
        r(
            Method::GET,
            "/api/v1/post-notes",
            Rule::AnyOf(FOLLOW_UP),
            get(posts::notes),
        ),
        r(
            Method::POST,
            "/api/v1/campaign-analytics",
            Rule::AnyOf(FOLLOW_UP),
            post(campaigns::import_analytics),
        ),
        r(
            Method::GET,
            "/api/v1/campaigns",
            Rule::AnyOf(FOLLOW_UP),
            get(campaigns::campaigns),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns",
            Rule::AnyOf(FOLLOW_UP),
            post(campaigns::create_campaign),
        ),
        r(
            Method::POST,
            "/api/v1/goals",
            Rule::AnyOf(FOLLOW_UP),
            post(campaigns::set_goal),
        ),
        r(
            Method::PATCH,
            "/api/v1/goals/{id}",
            Rule::AnyOf(FOLLOW_UP),
            patch(campaigns::change_goal),
        ),
        r(
            Method::DELETE,
            "/api/v1/goals/{id}",
            Rule::AnyOf(FOLLOW_UP),
            delete(campaigns::remove_goal),
        ),
        r(
            Method::PATCH,
            "/api/v1/campaigns/{id}",
            Rule::AnyOf(FOLLOW_UP),
            patch(campaigns::change_campaign),
        ),
        r(
            Method::DELETE,
            "/api/v1/campaigns/{id}",
            Rule::AnyOf(FOLLOW_UP),
            delete(campaigns::remove_campaign),
        ),
        // A note: its writer, or an administrator (the handler decides).
        r(
            Method::PATCH,
            "/api/v1/post-notes/{id}",
            Rule::AnyOf(FOLLOW_UP),
            patch(posts::change_note),
        ),
        r(
            Method::DELETE,
            "/api/v1/post-notes/{id}",
            Rule::AnyOf(FOLLOW_UP),
            delete(posts::remove_note),
        ),
        r(
            Method::GET,
            "/api/v1/privacy/authors",
            Rule::Needs(HandlePrivacyRequests),
            get(privacy::find),
        ),
        r(
            Method::GET,
            "/api/v1/privacy/authors/{platform_id}",
            Rule::Needs(HandlePrivacyRequests),
            get(privacy::export),
        ),
        r(
            Method::POST,
            "/api/v1/privacy/authors/{platform_id}/erase",
            Rule::Needs(HandlePrivacyRequests),
            post(privacy::erase),
        ),
        r(
            Method::GET,
            "/api/v1/legal-holds",
            Rule::AnyOf(RECORDS),
            get(privacy::holds),
        ),
        r(
            Method::POST,
            "/api/v1/legal-holds",
            Rule::AnyOf(RECORDS),
            post(privacy::place_hold),
        ),
        r(
            Method::DELETE,
            "/api/v1/legal-holds/{id}",
            Rule::AnyOf(RECORDS),
            delete(privacy::lift_hold),
        ),
        r(
            Method::POST,
            "/api/v1/retention/runs",
            Rule::AnyOf(RECORDS),
            post(privacy::run_retention),
        ),
        r(
            Method::POST,
            "/api/v1/messages/{id}/reveal",
            Rule::Needs(RevealPersonalData),
            post(privacy::reveal),
        ),
    ]
}

pub fn router(state: AppState) -> Router {
    routers(state).0
}

/// The service's router, and the one a separate metrics listener serves (`metrics_listen`):
/// `/metrics` alone, with the same counters and scrape cache as the service's.
pub fn routers(state: AppState) -> (Router, Router) {
    let csp = csp::CspReports::default();
    let cache = system::ScrapeCache::default();
    let metrics = Router::new()
        .route("/metrics", get(system::metrics_on_own_listener))
        .fallback(system::not_found)
        .layer(Extension(csp.clone()))
        .layer(Extension(cache.clone()))
        .with_state(state.clone());
    (service_router(state, csp, cache), metrics)
}

fn service_router(state: AppState, csp: csp::CspReports, cache: system::ScrapeCache) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let mut router = Router::new();
    for (spec, handler) in routes() {
        // Inner layer first: `enforce` runs inside the layer that hands it the rule.
        let guarded = handler
            .route_layer(middleware::from_fn_with_state(state.clone(), auth::enforce))
            .route_layer(Extension(spec.rule));
        router = router.route(spec.path, guarded);
    }
    let secure = state.settings.secure_cookies;
    let router = router
        .fallback(system::not_found)
        .layer(Extension(csp))
        .layer(Extension(cache))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            overload::admit,
        ))
        .layer(middleware::from_fn(observe))
        .layer(middleware::from_fn(no_store));
    let mut router = security_headers(router);
    if secure {
        // Served over TLS: browsers must not fall back to plain HTTP for a year.
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router.with_state(state)
}

/// Only our own files, no inline script or style, no framing, no plugins, and no string may
/// become HTML through a DOM sink (Trusted Types with no policy): the console builds its DOM from
/// text only. Violations are reported to `/api/v1/csp-reports`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'; object-src 'none'; \
     require-trusted-types-for 'script'; trusted-types 'none'; report-uri /api/v1/csp-reports";

/// The same strict headers on every response, the API's as the console's.
fn security_headers(router: Router<AppState>) -> Router<AppState> {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::HeaderName::from_static("permissions-policy"),
            "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), \
             microphone=(), payment=(), usb=(), interest-cohort=()",
        ),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// API and webhook answers carry people's messages and credentials: no cache (browser or proxy)
/// may keep them, so they are `no-store` whatever the handler said (the event stream's `no-cache`
/// included). Other answers keep a rule their handler set (the console's files revalidate by
/// ETag or are immutable) and are `no-store` otherwise.
async fn no_store(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/webhooks/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if api || !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Counts and logs each request by its route pattern (never the raw path: ids and hostile paths
/// stay out of labels and logs). The handler runs inside a `request` span carrying the method and
/// the route, so an error logged anywhere below (a fault's error id, a store failure) says which
/// route it came from.
async fn observe(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().clone();
    let started = Instant::now();
    let span = tracing::info_span!("request", %method, route = %route);
    let response = next.run(request).instrument(span).await;
    let status = response.status().as_u16();
    crate::metrics::count_request(&route, status);
    tracing::debug!(%method, %route, status, micros = started.elapsed().as_micros() as u64, "request");
    response
}

#[cfg(test)]
mod request_span_tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// Log output kept in memory for the assertion.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a tiny router behind `observe` logs (every level) for one GET of `path`.
    async fn logged(path: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = axum::Router::new()
            .route(
                "/api/v1/cases/{id}",
                get(|| async {
                    Err::<&str, _>(super::error::AppError::internal("the disk is full"))
                }),
            )
            .route(
                "/api/v1/staff/{id}",
                get(|| async {
                    Err::<&str, _>(super::error::AppError::not_found("there is no staff 7"))
                }),
            )
            .layer(axum::middleware::from_fn(super::observe));
        let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap();
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        log
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_server_fault_is_logged_once_at_error_level_with_its_route() {
        let log = logged("/api/v1/cases/42").await;
        let errors: Vec<_> = log.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "logged once: {log}");
        let line = errors[0];
        assert!(
            line.contains("route=/api/v1/cases/{id}") && line.contains("method=GET"),
            "{line}"
        );
        assert!(
            line.contains("status=500") && line.contains("the disk is full"),
            "{line}"
        );
        assert!(
            !line.contains("/cases/42"),
            "the raw path stays out: {line}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refusal_is_logged_at_debug_with_its_route() {
        let log = logged("/api/v1/staff/7").await;
        assert!(!log.contains("ERROR") && !log.contains("WARN"), "{log}");
        let line = log
            .lines()
            .find(|l| l.contains("request refused"))
            .expect("a line for the refusal");
        assert!(
            line.contains("DEBUG")
                && line.contains("route=/api/v1/staff/{id}")
                && line.contains("status=404")
                && line.contains("there is no staff 7"),
            "{line}"
        );
    }
}
