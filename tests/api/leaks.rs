//! The generated leak test: "only the right trained staff see a person's message", everywhere.
//! Unique marker texts are planted where a caller may or may not read them (a DM and a comment
//! thread on each of two channels from the same person, post texts, S5 content, quarantined items
//! for an unregistered page, a hidden comment, a personal identity number). For every principal
//! (each role trained and untrained, and four roles limited to one channel) one small rule table
//! says which markers it may see; then every GET route of `tavla::http::routes()` and the live
//! event stream are walked with every planted id and with queries that make lists show
//! everything, and no answer may carry a marker the table forbids. A new GET route fails the test
//! until it is given its ids and queries below.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tavla::access::training::TrainingConfig;
use tavla::access::{Capability, Role};

use crate::helpers::{actor, limited_token, TestApp};
use crate::on_both_backends;

const PAGE_A: &str = "960000000000001";
const PAGE_B: &str = "960000000000002";
/// Nobody registered this page: what arrives for it waits in quarantine.
const PAGE_U: &str = "960000000000003";
const POST_A_ID: &str = "960000000000001_501";
const POST_B_ID: &str = "960000000000002_502";
/// The same person writes to both pages, so "earlier conversations" joins the two.
const PERSON: &str = "9600001";
/// A word in every planted text, so one search finds them all.
const COMMON: &str = "kanelbulle";

/// Where a marker was planted; what may see it is decided by `may_see`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Marker {
    DmA,
    DmB,
    CommentA,
    CommentB,
    PostA,
    PostB,
    /// Text triage flags S5 (imminent danger): metadata only, never its words (DESIGN.md §3).
    S5Comment,
    S5Dm,
    QuarantinedDm,
    QuarantinedComment,
    /// A comment on A hidden on the platform: its words are for moderators.
    Hidden,
    /// A personal identity number in the person's DM on A: masked in every view.
    Personnummer,
    /// Staff's internal note on the person's DM on B: for those who may read that DM.
    NoteDmB,
    /// A communicator's note on post B's evaluation: for those who follow up posts on B.
    PostNoteB,
}

impl Marker {
    const ALL: [Marker; 14] = [
        Marker::DmA,
        Marker::DmB,
        Marker::CommentA,
        Marker::CommentB,
        Marker::PostA,
        Marker::PostB,
        Marker::S5Comment,
        Marker::S5Dm,
        Marker::QuarantinedDm,
        Marker::QuarantinedComment,
        Marker::Hidden,
        Marker::Personnummer,
        Marker::NoteDmB,
        Marker::PostNoteB,
    ];

    fn text(self) -> &'static str {
        match self {
            Marker::DmA => "LEAK-DM-A-7f3a",
            Marker::DmB => "LEAK-DM-B-7f3a",
            Marker::CommentA => "LEAK-CMT-A-7f3a",
            Marker::CommentB => "LEAK-CMT-B-7f3a",
            Marker::PostA => "LEAK-POST-A-7f3a",
            Marker::PostB => "LEAK-POST-B-7f3a",
            Marker::S5Comment => "LEAK-S5-CMT-7f3a",
            Marker::S5Dm => "LEAK-S5-DM-7f3a",
            Marker::QuarantinedDm => "LEAK-Q-DM-7f3a",
            Marker::QuarantinedComment => "LEAK-Q-CMT-7f3a",
            Marker::Hidden => "LEAK-HIDDEN-7f3a",
            Marker::Personnummer => "811218-9876",
            Marker::NoteDmB => "LEAK-NOTE-DM-B-7f3a",
            Marker::PostNoteB => "LEAK-POSTNOTE-B-7f3a",
        }
    }
}

/// Someone who calls the API: a role, trained or not, limited to channel A or not.
struct Principal {
    name: String,
    token: String,
    capabilities: Vec<Capability>,
    /// Limited to channel A.
    limited: bool,
}

impl Principal {
    fn can(&self, c: Capability) -> bool {
        self.capabilities.contains(&c)
    }
}

const EXPORT_ROUTE: &str = "GET /api/v1/privacy/authors/{platform_id}";

/// The rule table: may this principal see this marker in an answer of this route?
fn may_see(p: &Principal, marker: Marker, route: &str) -> bool {
    use Capability::*;
    // Every principal's channel limit is channel A: B is readable only without a limit.
    let unlimited = !p.limited;
    // A person's request (GDPR art. 15): what they wrote is theirs and given in full to the DPO,
    // S5 content excepted (it is kept as metadata only).
    let export = route == EXPORT_ROUTE && p.can(HandlePrivacyRequests);
    let dms = p.can(ReadDms) || export;
    let comments = p.can(ReadComments) || export;
    match marker {
        Marker::DmA => dms,
        Marker::DmB | Marker::NoteDmB => dms && unlimited,
        Marker::CommentA | Marker::PostA => comments,
        Marker::CommentB | Marker::PostB => comments && unlimited,
        Marker::Hidden => p.can(ReadComments) && p.can(Moderate) || export,
        Marker::S5Comment | Marker::S5Dm => false,
        // Quarantine waits for channels nobody approved: only an unlimited administrator sees
        // what waits, and its words only with the right to read that kind.
        Marker::QuarantinedDm => p.can(ManageChannels) && unlimited && p.can(ReadDms),
        Marker::QuarantinedComment => p.can(ManageChannels) && unlimited && p.can(ReadComments),
        Marker::Personnummer => export,
        // Post follow-up: communicators and administrators, within their channel limit.
        Marker::PostNoteB => (p.can(SeeFaq) || p.can(ManageChannels)) && unlimited,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn dm_entry(page: &str, sender: &str, mid: &str, text: &str, at: i64) -> Value {
    json!({"id": page, "time": at, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": page}, "timestamp": at,
        "message": {"mid": mid, "text": text}}]})
}

fn feed_entry(page: &str, value: Value, at: i64) -> Value {
    json!({"id": page, "time": at / 1000, "changes": [{"field": "feed", "value": value}]})
}

fn post_entry(page: &str, post: &str, text: &str, at: i64) -> Value {
    feed_entry(
        page,
        json!({"item": "status", "verb": "add", "post_id": post, "from": {"id": page},
            "message": text, "created_time": at / 1000}),
        at,
    )
}

fn comment_entry(
    page: &str,
    post: &str,
    id: &str,
    from: &str,
    text: &str,
    verb: &str,
    at: i64,
) -> Value {
    feed_entry(
        page,
        json!({"item": "comment", "verb": verb, "comment_id": id, "post_id": post,
            "parent_id": post, "from": {"id": from, "name": format!("Person {from}")},
            "message": text, "created_time": at / 1000}),
        at,
    )
}

async fn deliver(app: &TestApp, entries: Vec<Value>) {
    let body = serde_json::to_vec(&json!({"object": "page", "entry": entries})).unwrap();
    assert_eq!(app.webhook(&body).await.status(), 200);
}

/// Plants every marker. Each text has the common word; comments arrive within the last hour so
/// both threads are heated (five comments, one flagged), and the questions on B outnumber the one
/// on A so the FAQ cluster's most central question is B's.
async fn plant(app: &TestApp) {
    let start = now_ms() - 40 * 60_000;
    let at = |minute: i64| start + minute * 60_000;
    deliver(
        app,
        vec![
            post_entry(
                PAGE_A,
                POST_A_ID,
                &format!("{} Nytt om simhallen, {COMMON}", Marker::PostA.text()),
                at(0),
            ),
            post_entry(
                PAGE_B,
                POST_B_ID,
                &format!("{} Simhallen renoveras, {COMMON}", Marker::PostB.text()),
                at(0),
            ),
        ],
    )
    .await;
    let m = |marker: Marker, rest: &str| format!("{} {rest} {COMMON}", marker.text());
    // Direct messages: the person on A (with a personal identity number and, newest, S5 text)
    // and on B.
    for (page, mid, text, minute) in [
        (
            PAGE_A,
            "leak-dm-a",
            m(Marker::DmA, "Hej, jag undrar över min ansökan."),
            1,
        ),
        (
            PAGE_A,
            "leak-dm-pnr",
            format!(
                "Mitt personnummer är {} {COMMON}",
                Marker::Personnummer.text()
            ),
            2,
        ),
        (
            PAGE_B,
            "leak-dm-b",
            m(Marker::DmB, "Hej igen, samma fråga här."),
            3,
        ),
        (
            PAGE_A,
            "leak-dm-s5",
            m(Marker::S5Dm, "jag ska döda er alla imorgon"),
            4,
        ),
    ] {
        deliver(app, vec![dm_entry(page, PERSON, mid, &text, at(minute))]).await;
    }
    // Comment threads: five comments under each post, one of them flagged.
    let question = "När öppnar simhallen i Norrby igen efter renoveringen?";
    let mut comments = vec![
        (
            PAGE_A,
            POST_A_ID,
            "leak-c-a1",
            "9600011",
            m(Marker::CommentA, question),
        ),
        (
            PAGE_A,
            POST_A_ID,
            "leak-c-a2",
            "9600012",
            m(Marker::CommentA, "Tack för informationen."),
        ),
        (
            PAGE_A,
            POST_A_ID,
            "leak-c-s5",
            "9600013",
            m(Marker::S5Comment, "jag ska döda er alla imorgon"),
        ),
        (
            PAGE_A,
            POST_A_ID,
            "leak-c-hidden",
            "9600014",
            m(Marker::Hidden, "Köp billiga klockor här."),
        ),
        (
            PAGE_A,
            POST_A_ID,
            "leak-c-a3",
            "9600015",
            m(Marker::CommentA, "Bra att veta."),
        ),
    ];
    for (i, person) in ["9600021", "9600022", "9600023"].into_iter().enumerate() {
        comments.push((
            PAGE_B,
            POST_B_ID,
            ["leak-c-b1", "leak-c-b2", "leak-c-b3"][i],
            person,
            m(Marker::CommentB, question),
        ));
    }
    comments.push((
        PAGE_B,
        POST_B_ID,
        "leak-c-b4",
        "9600024",
        m(Marker::CommentB, "din jävla idiot"),
    ));
    comments.push((
        PAGE_B,
        POST_B_ID,
        "leak-c-b5",
        "9600025",
        m(Marker::CommentB, "Tack."),
    ));
    for (i, (page, post, id, from, text)) in comments.iter().enumerate() {
        deliver(
            app,
            vec![comment_entry(
                page,
                post,
                id,
                from,
                text,
                "add",
                at(10 + i as i64),
            )],
        )
        .await;
    }
    // The platform hides one comment on A; a DM and a comment arrive for a page nobody
    // registered (quarantine); and the last message in, so that once search finds it
    // everything before it is indexed.
    deliver(
        app,
        vec![
            comment_entry(
                PAGE_A,
                POST_A_ID,
                "leak-c-hidden",
                "9600014",
                &m(Marker::Hidden, "Köp billiga klockor här."),
                "hide",
                at(30),
            ),
            dm_entry(
                PAGE_U,
                PERSON,
                "leak-q-dm",
                &m(Marker::QuarantinedDm, "Hallå?"),
                at(31),
            ),
            comment_entry(
                PAGE_U,
                "960000000000003_503",
                "leak-q-c",
                "9600031",
                &m(Marker::QuarantinedComment, "Hej"),
                "add",
                at(31),
            ),
            dm_entry(PAGE_A, "9600099", "leak-sentinel", "zzsentinel", at(32)),
        ],
    )
    .await;
    // A saved reply with placeholders, for the preview route (the first: id 1).
    app.store
        .add_saved_reply(
            None,
            "sv",
            "Hälsning",
            "Hej {förnamn}, från {kanal}!",
            &actor(),
        )
        .await
        .unwrap();
    // An agent's internal note on the person's DM on B.
    let dm_b: i64 =
        sqlx::query_scalar("select conversation_id from messages where platform_id = 'leak-dm-b'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    let note = format!("{} Ringde upp, {COMMON}", Marker::NoteDmB.text());
    app.store.add_note(dm_b, &note, &actor()).await.unwrap();
    // A communicator's note on post B's evaluation.
    let post_b: i64 = sqlx::query_scalar("select id from posts where platform_id = $1")
        .bind(POST_B_ID)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let note = format!("{} Bilden fungerade, {COMMON}", Marker::PostNoteB.text());
    app.store
        .add_evaluation_note(post_b, &note, &actor())
        .await
        .unwrap();
}

/// The principals: every role trained and untrained, and four roles limited to channel A.
async fn principals(app: &TestApp, channel_a: i64) -> Vec<Principal> {
    let training = TrainingConfig::built_in();
    let mut out = Vec::new();
    for role in Role::ALL {
        let name = role.as_str();
        out.push(Principal {
            name: name.to_string(),
            token: app.token(&format!("leak-{name}"), name).await,
            capabilities: role.capabilities().to_vec(),
            limited: false,
        });
        let (_, token) = app
            .untrained_token(&format!("leak-{name}-untrained"), name)
            .await;
        out.push(Principal {
            name: format!("{name} (untrained)"),
            token,
            capabilities: training
                .effective(&tavla::access::Roles::one(role), &[], now_ms())
                .capabilities,
            limited: false,
        });
    }
    for role in [
        Role::Agent,
        Role::Communicator,
        Role::Moderator,
        Role::Admin,
    ] {
        let name = role.as_str();
        let username = format!("leak-{name}-a");
        let token = app.token(&username, name).await;
        let id: i64 = sqlx::query_scalar("select id from staff where username = $1")
            .bind(&username)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        app.store
            .update_staff(id, None, None, Some(&[channel_a]), &actor())
            .await
            .unwrap();
        out.push(Principal {
            name: format!("{name} limited to A"),
            token,
            capabilities: role.capabilities().to_vec(),
            limited: true,
        });
    }
    out
}

/// What the routes are called with: every planted id and every list asked to show everything.
struct Planted {
    channel_a: i64,
    channel_b: i64,
    person: i64,
    conversations: Vec<i64>,
    cases: Vec<i64>,
    staff: Vec<i64>,
    authors: Vec<String>,
    clusters: Vec<i64>,
    periods: Vec<String>,
    posts: Vec<i64>,
}

async fn ids(app: &TestApp, sql: &str) -> Vec<i64> {
    sqlx::query_scalar(sql)
        .fetch_all(&app.store.pool)
        .await
        .unwrap()
}

/// The months and quarters (Swedish time) that hold the planted data.
fn periods() -> Vec<String> {
    let mut out = BTreeSet::new();
    for shift_hours in [-3, 0, 3] {
        let t = chrono::Utc::now() + chrono::Duration::hours(shift_hours);
        out.insert(t.format("%Y-%m").to_string());
        let quarter = (t.format("%m").to_string().parse::<u32>().unwrap() - 1) / 3 + 1;
        out.insert(format!("{}Q{quarter}", t.format("%Y")));
    }
    out.into_iter().collect()
}

/// Each GET route's requests. A GET route missing here fails the test: give it its ids.
fn requests(p: &Planted) -> HashMap<&'static str, Vec<String>> {
    let each = |ids: &[i64], f: &dyn Fn(i64) -> String| ids.iter().map(|i| f(*i)).collect();
    let (a, b) = (p.channel_a, p.channel_b);
    let mut conversations: Vec<String> = vec![String::new()];
    for q in [
        "queue=dm".to_string(),
        "queue=comments".to_string(),
        "status=open".to_string(),
        "status=waiting".to_string(),
        "status=resolved".to_string(),
        format!("channel={a}"),
        format!("channel={b}"),
        format!("person={}", p.person),
    ] {
        conversations.push(format!("{q}&"));
    }
    let mut search: Vec<String> = vec![
        format!("q={COMMON}"),
        String::new(),
        "q=simhallen".into(),
        "q=zzsentinel".into(),
        "q=d%C3%B6da".into(),
        format!("q={COMMON}&kind=dm"),
        format!("q={COMMON}&kind=comments"),
        format!("q={COMMON}&channel={a}"),
        format!("q={COMMON}&channel={b}"),
        format!("q={COMMON}&severity=S5"),
        format!("q={COMMON}&severity=S1"),
        format!("q={COMMON}&sort=newest"),
    ];
    search.extend(p.clusters.iter().map(|c| format!("faq_cluster={c}")));
    let mut reports = Vec::new();
    for period in &p.periods {
        for format in ["json", "csv", "html"] {
            reports.push(format!("/api/v1/reports?period={period}&format={format}"));
        }
    }
    HashMap::from([
        ("GET /", vec!["/".to_string()]),
        ("GET /static/{*path}", vec!["/static/js/app.js".to_string()]),
        ("GET /healthz", vec!["/healthz".to_string()]),
        ("GET /readyz", vec!["/readyz".to_string()]),
        ("GET /metrics", vec!["/metrics".to_string()]),
        (
            "GET /webhooks/meta",
            vec!["/webhooks/meta?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1".into()],
        ),
        (
            "GET /api/v1/openapi.json",
            vec!["/api/v1/openapi.json".to_string()],
        ),
        ("GET /api/v1/me", vec!["/api/v1/me".to_string()]),
        // Single sign-on: the ways to sign in, and (not configured here) the start and callback.
        (
            "GET /api/v1/signin-options",
            vec!["/api/v1/signin-options".to_string()],
        ),
        ("GET /auth/oidc/start", vec!["/auth/oidc/start".to_string()]),
        (
            "GET /auth/oidc/callback",
            vec!["/auth/oidc/callback?code=c&state=s".to_string()],
        ),
        (
            "GET /api/v1/conversations",
            conversations
                .iter()
                .map(|q| format!("/api/v1/conversations?{q}limit=200"))
                .collect(),
        ),
        (
            "GET /api/v1/conversations/{id}",
            each(&p.conversations, &|id| {
                format!("/api/v1/conversations/{id}")
            }),
        ),
        // The planted saved reply filled for each conversation (names and channel, no words of
        // the messages).
        (
            "GET /api/v1/conversations/{id}/saved-replies/{reply}/preview",
            each(&p.conversations, &|id| {
                format!("/api/v1/conversations/{id}/saved-replies/1/preview")
            }),
        ),
        ("GET /api/v1/channels", vec!["/api/v1/channels".to_string()]),
        (
            "GET /api/v1/quarantine",
            vec!["/api/v1/quarantine".to_string()],
        ),
        ("GET /api/v1/staff", vec!["/api/v1/staff".to_string()]),
        (
            "GET /api/v1/staff/{id}/training",
            each(&p.staff, &|id| format!("/api/v1/staff/{id}/training")),
        ),
        (
            "GET /api/v1/audit",
            vec!["/api/v1/audit?limit=1000".to_string()],
        ),
        // The live stream is read separately (`stream_leaks`).
        ("GET /api/v1/events", Vec::new()),
        (
            "GET /api/v1/search",
            search
                .iter()
                .map(|q| format!("/api/v1/search?{q}&limit=100"))
                .collect(),
        ),
        (
            "GET /api/v1/moderation/cases",
            [
                "status=open",
                "status=closed",
                "status=open&level=S5",
                "status=open&level=S2",
            ]
            .iter()
            .map(|q| format!("/api/v1/moderation/cases?{q}&limit=1000"))
            .collect(),
        ),
        (
            "GET /api/v1/moderation/cases/{id}",
            each(&p.cases, &|id| format!("/api/v1/moderation/cases/{id}")),
        ),
        (
            "GET /api/v1/moderation/heated",
            vec!["/api/v1/moderation/heated".to_string()],
        ),
        (
            "GET /api/v1/faq/clusters",
            ["day", "week", "month", "quarter"]
                .iter()
                .map(|period| {
                    format!("/api/v1/faq/clusters?period={period}&include_dismissed=true&limit=500")
                })
                .collect(),
        ),
        (
            "GET /api/v1/saved-replies",
            vec!["/api/v1/saved-replies".to_string()],
        ),
        // Names an administrator wrote, never message text.
        (
            "GET /api/v1/categories",
            vec!["/api/v1/categories".to_string()],
        ),
        // Terms an administrator wrote, never message text.
        (
            "GET /api/v1/search/synonyms",
            vec!["/api/v1/search/synonyms".to_string()],
        ),
        (
            "GET /api/v1/faq/topics",
            vec!["/api/v1/faq/topics".to_string()],
        ),
        ("GET /api/v1/reports", reports),
        // Post follow-up: every post, every period's lists by each order, each channel.
        ("GET /api/v1/posts", {
            let mut lists = vec![
                "/api/v1/posts?limit=500".to_string(),
                format!("/api/v1/posts?channel_id={a}"),
                format!("/api/v1/posts?channel_id={b}"),
            ];
            for period in &p.periods {
                for sort in ["time", "questions", "moderation"] {
                    lists.push(format!(
                        "/api/v1/posts?period={period}&sort={sort}&limit=500"
                    ));
                }
            }
            lists
        }),
        (
            "GET /api/v1/posts/{id}",
            each(&p.posts, &|id| format!("/api/v1/posts/{id}")),
        ),
        (
            "GET /api/v1/post-notes",
            p.periods
                .iter()
                .map(|period| format!("/api/v1/post-notes?period={period}"))
                .collect(),
        ),
        (
            "GET /api/v1/campaigns",
            vec!["/api/v1/campaigns".to_string()],
        ),
        (
            "GET /api/v1/posts/refresh",
            vec!["/api/v1/posts/refresh".to_string()],
        ),
        (
            "GET /api/v1/privacy/authors",
            vec!["/api/v1/privacy/authors?name=person".to_string()],
        ),
        (
            EXPORT_ROUTE,
            p.authors
                .iter()
                .map(|a| format!("/api/v1/privacy/authors/{a}"))
                .collect(),
        ),
        (
            "GET /api/v1/legal-holds",
            vec!["/api/v1/legal-holds?all=true".to_string()],
        ),
    ])
}

/// One answer that carried a marker its reader may not see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Leak {
    path: String,
    principal: String,
    marker: Marker,
}

fn leaks_in(body: &str, p: &Principal, route: &str, path: &str, seen: &mut Seen) -> Vec<Leak> {
    let body = body.to_lowercase();
    Marker::ALL
        .into_iter()
        .filter(|m| body.contains(&m.text().to_lowercase()))
        .filter_map(|m| {
            seen.insert(m);
            (!may_see(p, m, route)).then(|| Leak {
                path: path.to_string(),
                principal: p.name.clone(),
                marker: m,
            })
        })
        .collect()
}

type Seen = BTreeSet<Marker>;

/// The live stream from the start of the log, read until it has been idle for a while (bounded
/// by a deadline): the log does not grow while the routes are walked.
async fn stream_body(app: &TestApp, token: &str) -> String {
    let response = app.get(token, "/api/v1/events?after=0").await;
    if response.status() != 200 {
        return response.text().await.unwrap_or_default();
    }
    let mut stream = response.bytes_stream();
    let mut body = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let idle = tokio::time::Instant::now() + Duration::from_millis(1500);
        match tokio::time::timeout_at(idle.min(deadline), stream.next()).await {
            Ok(Some(Ok(chunk))) => body.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) | Err(_) => break,
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    body
}

/// Waits until a condition holds (the index and the FAQ clusters follow the log within moments).
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen in time");
}

on_both_backends!(
    no_route_or_event_shows_text_beyond_the_callers_scope,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE_A, "Kanal A").await;
        app.register_channel("facebook", PAGE_B, "Kanal B").await;
        let channel = |page: &'static str| {
            let pool = app.store.pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>("select id from channels where platform_id = $1")
                    .bind(page)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let (channel_a, channel_b) = (channel(PAGE_A).await, channel(PAGE_B).await);
        plant(&app).await;

        // The planting did what the rules are about.
        let s5: Vec<String> = sqlx::query_scalar(
            "select m.platform_id from messages m join message_flags f on f.message_id = m.id \
             where f.severity = 'S5' order by m.platform_id",
        )
        .fetch_all(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(s5, ["leak-c-s5", "leak-dm-s5"], "triage flags the S5 texts");
        assert_eq!(app.count("quarantine").await, 2);
        let hidden: String =
            sqlx::query_scalar("select state from messages where platform_id = 'leak-c-hidden'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(hidden, "hidden");
        let conversations: Vec<i64> = sqlx::query_scalar(
            "select count(*) from conversations c join authors a on a.id = c.person_id \
             where a.platform_id = $1 group by c.channel_id",
        )
        .bind(PERSON)
        .fetch_all(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(conversations.len(), 2, "the person writes on A and on B");

        let everyone = principals(&app, channel_a).await;
        let find = |name: &str| everyone.iter().find(|p| p.name == name).unwrap();
        let (agent, communicator) = (find("agent"), find("communicator"));
        until("the search index catches up", async || {
            let v = app
                .get_json(&agent.token, "/api/v1/search?q=zzsentinel")
                .await;
            v["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
        until("the FAQ cluster gathers the four questions", async || {
            let v = app
                .get_json(&communicator.token, "/api/v1/faq/clusters?period=week")
                .await;
            v["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|c| c["total_members"].as_i64() >= Some(4)))
        })
        .await;

        let clusters = app
            .get_json(
                &communicator.token,
                "/api/v1/faq/clusters?period=quarter&include_dismissed=true",
            )
            .await["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["id"].as_i64())
            .collect();
        let person: i64 = sqlx::query_scalar("select id from authors where platform_id = $1")
            .bind(PERSON)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let planted = Planted {
            channel_a,
            channel_b,
            person,
            conversations: ids(&app, "select id from conversations order by id").await,
            cases: ids(&app, "select id from moderation_cases order by id").await,
            staff: ids(&app, "select id from staff order by id").await,
            authors: sqlx::query_scalar("select platform_id from authors order by id")
                .fetch_all(&app.store.pool)
                .await
                .unwrap(),
            clusters,
            periods: periods(),
            posts: ids(&app, "select id from posts order by id").await,
        };
        assert!(planted.cases.len() >= 2, "the S5 texts opened cases");
        let table = requests(&planted);

        let mut leaks = Vec::new();
        let mut seen = Seen::new();
        let mut walked = BTreeSet::new();
        for (spec, _) in tavla::http::routes() {
            if spec.method != reqwest::Method::GET {
                continue;
            }
            let route = format!("GET {}", spec.path);
            let paths = table.get(route.as_str()).unwrap_or_else(|| {
                panic!("the GET route {route} has no ids or queries in tests/api/leaks.rs: give it some, so the leak test reads it")
            });
            walked.insert(route.clone());
            for path in paths {
                for p in &everyone {
                    let body = app.get(&p.token, path).await.text().await.unwrap();
                    leaks.extend(leaks_in(&body, p, &route, path, &mut seen));
                }
            }
        }
        let listed: BTreeSet<String> = table.keys().map(|k| k.to_string()).collect();
        assert_eq!(
            walked, listed,
            "every route listed here is a GET route of the router"
        );

        // The live stream, for everyone at once (each read ends when its stream goes quiet).
        let bodies =
            futures::future::join_all(everyone.iter().map(|p| stream_body(&app, &p.token))).await;
        for (p, body) in everyone.iter().zip(&bodies) {
            leaks.extend(leaks_in(
                body,
                p,
                "GET /api/v1/events",
                "/api/v1/events?after=0",
                &mut seen,
            ));
        }

        leaks.sort();
        leaks.dedup();
        let listing: Vec<String> = leaks
            .iter()
            .map(|l| format!("{} | {} | {:?}", l.path, l.principal, l.marker))
            .collect();
        assert!(
            leaks.is_empty(),
            "{} answers showed text beyond their reader's scope (path | principal | marker):\n{}",
            leaks.len(),
            listing.join("\n")
        );
        // The walk reached the text it guards: whoever may read a marker saw it somewhere.
        for marker in [
            Marker::DmA,
            Marker::DmB,
            Marker::CommentA,
            Marker::CommentB,
            Marker::PostA,
            Marker::PostB,
            Marker::Hidden,
            Marker::Personnummer,
            Marker::NoteDmB,
            Marker::PostNoteB,
        ] {
            assert!(
                seen.contains(&marker),
                "no answer showed {marker:?} at all: the walk is blind to it"
            );
        }
    }
);

/// The two channels registered and everything planted; returns (channel A, channel B).
async fn planted(app: &TestApp) -> (i64, i64) {
    app.register_channel("facebook", PAGE_A, "Kanal A").await;
    app.register_channel("facebook", PAGE_B, "Kanal B").await;
    plant(app).await;
    let id = |page: &'static str| {
        let pool = app.store.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select id from channels where platform_id = $1")
                .bind(page)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    (id(PAGE_A).await, id(PAGE_B).await)
}

async fn message_id(app: &TestApp, platform_id: &str) -> (i64, i64) {
    let row: (i64, i64) =
        sqlx::query_as("select id, conversation_id from messages where platform_id = $1")
            .bind(platform_id)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    row
}

/// A staff member reports a planted message as S5 (imminent danger).
async fn report_s5(app: &TestApp, token: &str, platform_id: &str) {
    let (message, _) = message_id(app, platform_id).await;
    let r = app
        .post(
            token,
            &format!("/api/v1/messages/{message}/report"),
            json!({"reason": "fara", "level": "S5"}),
        )
        .await;
    assert_eq!(r.status(), 201);
}

on_both_backends!(
    earlier_conversations_stay_within_the_readers_channels,
    |app: TestApp| async move {
        let (channel_a, _) = planted(&app).await;
        let (_, on_a) = message_id(&app, "leak-dm-a").await;
        let (_, on_b) = message_id(&app, "leak-dm-b").await;
        let agent = app.token("agent", "agent").await;
        let limited = limited_token(&app, "agent-a", "agent", channel_a).await;

        let view = app
            .get_json(&agent, &format!("/api/v1/conversations/{on_a}"))
            .await;
        let earlier = view["earlier_conversations"].as_array().unwrap();
        assert_eq!(earlier.len(), 1, "{earlier:?}");
        assert_eq!(earlier[0]["id"], on_b);
        assert!(earlier[0]["preview"]
            .as_str()
            .unwrap()
            .contains(Marker::DmB.text()));

        let view = app
            .get_json(&limited, &format!("/api/v1/conversations/{on_a}"))
            .await;
        assert_eq!(view["earlier_conversations"], json!([]), "B is not theirs");
        assert!(!view.to_string().contains(Marker::DmB.text()));
    }
);

on_both_backends!(
    quarantine_shows_administrators_what_waits_not_what_was_written,
    |app: TestApp| async move {
        planted(&app).await;
        let admin = app.token("admin", "admin").await;
        let list = app.get_json(&admin, "/api/v1/quarantine").await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        for item in items {
            assert_eq!(item["channel_platform_id"], PAGE_U);
            assert_eq!(item["waiting_because"], "unregistered");
            assert_eq!(item["item_type"], "message");
            assert!(item["text"].is_null(), "{item}");
            assert_eq!(item["withheld"], "kind");
        }
        let kinds: BTreeSet<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
        assert_eq!(kinds, BTreeSet::from(["comments", "dm"]));
        assert_eq!(
            list["pages"],
            json!([{"platform": "facebook", "channel_platform_id": PAGE_U, "channel_id": null,
                "waiting_because": "unregistered", "items": 2,
                "first_received_at": items[0]["received_at"], "last_received_at": items[1]["received_at"]}])
        );
        assert!(!list.to_string().contains("7f3a"), "no words: {list}");
        // The reading is audited.
        let trail = app
            .get_json(&admin, "/api/v1/audit?action=quarantine.read")
            .await;
        assert_eq!(trail["items"][0]["actor"], "admin");
        assert_eq!(trail["items"][0]["detail"]["shown"], 2);
        assert_eq!(trail["items"][0]["detail"]["with_text"], 0);
    }
);

on_both_backends!(
    a_channel_limited_administrator_hears_nothing_of_unregistered_pages,
    |app: TestApp| async move {
        // Channel A is registered but not approved: what arrives for it waits in quarantine.
        app.store
            .add_channel(
                &tavla::store::channels::NewChannel {
                    platform: tavla::model::Platform::parse("facebook"),
                    platform_id: PAGE_A.into(),
                    name: "Kanal A".into(),
                    approved: false,
                    ..Default::default()
                },
                &actor(),
            )
            .await
            .unwrap();
        let channel_a: i64 = sqlx::query_scalar("select id from channels")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let admin = app.token("admin", "admin").await;
        let limited = limited_token(&app, "admin-a", "admin", channel_a).await;
        let unlimited_stream = app.get(&admin, "/api/v1/events?after=0").await;
        let limited_stream = app.get(&limited, "/api/v1/events?after=0").await;
        let at = now_ms();
        deliver(
            &app,
            vec![
                dm_entry(PAGE_U, PERSON, "q-u", "Till ingen", at),
                dm_entry(PAGE_A, PERSON, "q-a", "Till A", at),
            ],
        )
        .await;
        let own = app.get_json(&limited, "/api/v1/quarantine").await;
        assert_eq!(own["items"].as_array().unwrap().len(), 1, "{own}");
        assert_eq!(own["items"][0]["waiting_because"], "not_approved");
        // Approving A is the event both hear; before it, only the unlimited one hears of
        // arrivals in quarantine (an unregistered page belongs to no channel).
        let r = app
            .post(
                &admin,
                &format!("/api/v1/channels/{channel_a}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), 200);
        // The kinds of events a stream carried up to the approval.
        let until_approval = |response: reqwest::Response| async move {
            let mut stream = response.bytes_stream();
            let mut body = String::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let kinds = |body: &str| -> Vec<String> {
                body.lines()
                    .filter_map(|l| l.strip_prefix("event: "))
                    .map(str::to_string)
                    .collect()
            };
            // A's registration, then its approval.
            while kinds(&body)
                .iter()
                .filter(|k| *k == "channel.changed")
                .count()
                < 2
            {
                let chunk = tokio::time::timeout_at(deadline, stream.next())
                    .await
                    .expect("the approval arrives in time")
                    .expect("the stream stays open")
                    .unwrap();
                body.push_str(&String::from_utf8_lossy(&chunk));
            }
            kinds(&body)
        };
        let heard = until_approval(unlimited_stream).await;
        assert_eq!(
            heard.iter().filter(|k| *k == "quarantine.added").count(),
            2,
            "{heard:?}"
        );
        let heard = until_approval(limited_stream).await;
        assert!(!heard.iter().any(|k| k == "quarantine.added"), "{heard:?}");
    }
);

on_both_backends!(
    s5_words_show_nowhere_and_are_not_searchable,
    |app: TestApp| async move {
        planted(&app).await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        let moderator = app.token("mod", "moderator").await;
        until("the search index catches up", async || {
            let v = app.get_json(&agent, "/api/v1/search?q=zzsentinel").await;
            v["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
        // The person's DM on A: the S5 message is a placeholder, and the preview is the newest
        // message whose words may be shown (masked).
        let (s5, on_a) = message_id(&app, "leak-dm-s5").await;
        let view = app
            .get_json(&agent, &format!("/api/v1/conversations/{on_a}"))
            .await;
        let shown = view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == s5)
            .unwrap();
        assert!(shown["text"].is_null(), "{shown}");
        assert_eq!(shown["withheld"], "s5");
        assert_eq!(shown["attachments"], json!([]));
        assert_eq!(
            view["preview"],
            format!("Mitt personnummer är 811218-**** {COMMON}")
        );
        // Nobody finds S5 words: not the moderator, who sees everything else.
        for token in [&agent, &communicator, &moderator] {
            let hits = app.get_json(token, "/api/v1/search?q=d%C3%B6da").await;
            assert_eq!(hits["items"], json!([]), "{hits}");
        }
        // A message reported as S5 after it was indexed leaves the index.
        let found = app
            .get_json(&communicator, "/api/v1/search?q=informationen")
            .await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1);
        report_s5(&app, &communicator, "leak-c-a2").await;
        until("the reported message leaves the index", async || {
            let v = app
                .get_json(&communicator, "/api/v1/search?q=informationen")
                .await;
            v["items"].as_array().is_some_and(|i| i.is_empty())
        })
        .await;
        let (_, thread) = message_id(&app, "leak-c-a2").await;
        let view = app
            .get_json(&moderator, &format!("/api/v1/conversations/{thread}"))
            .await;
        assert!(!view.to_string().contains("informationen"), "{view}");

        // A question raised to S5 leaves its FAQ cluster (its words were a label or an example).
        let members = async || {
            let v = app
                .get_json(&communicator, "/api/v1/faq/clusters?period=week")
                .await;
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["total_members"].as_i64().unwrap())
                .max()
        };
        until("the four questions are clustered", async || {
            members().await == Some(4)
        })
        .await;
        report_s5(&app, &communicator, "leak-c-a1").await;
        until("the question leaves its cluster", async || {
            members().await == Some(3)
        })
        .await;
        let clusters = app
            .get_json(&communicator, "/api/v1/faq/clusters?period=week")
            .await;
        assert!(
            !clusters.to_string().contains(Marker::CommentA.text()),
            "{clusters}"
        );
    }
);

on_both_backends!(
    a_faq_cluster_is_named_from_questions_the_reader_may_read,
    |app: TestApp| async move {
        let (channel_a, _) = planted(&app).await;
        let communicator = app.token("comm", "communicator").await;
        let limited = limited_token(&app, "comm-a", "communicator", channel_a).await;
        let cluster = |token: String| {
            let app = &app;
            async move {
                let v = app
                    .get_json(&token, "/api/v1/faq/clusters?period=week")
                    .await;
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["label"].as_str().is_some_and(|l| l.contains("simhallen")))
                    .cloned()
            }
        };
        until("the four questions are clustered", async || {
            cluster(communicator.clone())
                .await
                .is_some_and(|c| c["total_members"] == 4)
        })
        .await;
        let everything = cluster(communicator.clone()).await.unwrap();
        assert!(everything["name"]
            .as_str()
            .unwrap()
            .contains(Marker::CommentB.text()));
        let own = cluster(limited.clone()).await.unwrap();
        assert_eq!(own["total_members"], 1);
        let own_text = own.to_string();
        assert!(!own_text.contains(Marker::CommentB.text()), "{own}");
        assert!(own["name"]
            .as_str()
            .unwrap()
            .contains(Marker::CommentA.text()));
        assert_eq!(own["examples"].as_array().unwrap().len(), 1);
    }
);
