//! Post follow-up (issue 21): the channels' posts and insights fetched from a local Graph
//! stand-in that answers in the documented shapes (`/{page-id}/posts`, `/{ig-user-id}/media`,
//! `/{post-id}/insights`, `paging.next`, error documents), the post's view beside its thread,
//! the UTM analytics import, goals and evaluation notes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::helpers::{actor, eventually, Backend, TestApp};
use crate::on_each_backend;

const PAGE: &str = "930000000000001";
const OTHER_PAGE: &str = "930000000000002";
const IG: &str = "17841400000000001";
const TOKEN: &str = "EAAB-page-token-4711";

/// What the stand-in knows and was asked.
#[derive(Default)]
struct Graph {
    /// Per page or Instagram account: its list, page by page.
    lists: HashMap<String, Vec<Vec<Value>>>,
    /// Per post: its insight items (`{name, period, values: [{value}]}`).
    insights: HashMap<String, Vec<Value>>,
    /// Metrics the platform refuses (error code 100) when asked for.
    unknown: HashSet<String>,
    /// Error documents to answer the next requests with: (status, body, Retry-After).
    failures: VecDeque<(u16, Value, Option<u64>)>,
    /// Each request: path and query, and the bearer token it carried.
    requests: Vec<(String, Option<String>)>,
    /// How long each answer takes (a slow platform, so a refresh can be seen running).
    delay: Option<std::time::Duration>,
    /// Per story: its navigation by action (`breakdown=story_navigation_action_type`).
    navigation: HashMap<String, Vec<(String, i64)>>,
    /// Media whose insights are refused for too few viewers (error code 10).
    too_few_viewers: HashSet<String>,
}

#[derive(Clone)]
struct Stub {
    url: String,
    graph: Arc<Mutex<Graph>>,
}

impl Stub {
    async fn start() -> Stub {
        let graph = Arc::new(Mutex::new(Graph::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (shared, base) = (graph.clone(), url.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let (graph, base) = (shared.clone(), base.clone());
            async move {
                let delay = graph.lock().unwrap().delay;
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                answer(&graph, &base, &uri, &headers)
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub { url, graph }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Graph) -> T) -> T {
        f(&mut self.graph.lock().unwrap())
    }

    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.with(|g| g.requests.clone())
    }
}

fn meta_error(code: i64, message: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}})
}

fn answer(graph: &Mutex<Graph>, base: &str, uri: &Uri, headers: &HeaderMap) -> Response {
    let mut g = graph.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    g.requests.push((uri.to_string(), token));
    if let Some((status, body, retry)) = g.failures.pop_front() {
        let mut response =
            (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
        if let Some(s) = retry {
            response
                .headers_mut()
                .insert("retry-after", s.to_string().parse().unwrap());
        }
        return response;
    }
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let parts: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [owner, kind @ ("posts" | "media" | "stories")] => {
            // An account's stories are listed under "{owner}/stories".
            let key = if *kind == "stories" {
                format!("{owner}/stories")
            } else {
                owner.to_string()
            };
            let pages = g.lists.get(&key).cloned().unwrap_or_default();
            let index: usize = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
            let data = pages.get(index).cloned().unwrap_or_default();
            let mut body =
                json!({"data": data, "paging": {"cursors": {"before": "b", "after": "a"}}});
            if index + 1 < pages.len() {
                body["paging"]["next"] =
                    format!("{base}{}?limit=50&after={}", uri.path(), index + 1).into();
            }
            axum::Json(body).into_response()
        }
        [post, "insights"] if g.too_few_viewers.contains(*post) => (
            StatusCode::BAD_REQUEST,
            axum::Json(meta_error(
                10,
                "(#10) Not enough viewers for the media to show insights",
            )),
        )
            .into_response(),
        [post, "insights"]
            if query.get("breakdown").map(String::as_str)
                == Some("story_navigation_action_type") =>
        {
            let actions = g.navigation.get(*post).cloned().unwrap_or_default();
            let results: Vec<Value> = actions
                .iter()
                .map(|(action, n)| json!({"dimension_values": [action], "value": n}))
                .collect();
            let total: i64 = actions.iter().map(|(_, n)| n).sum();
            axum::Json(json!({"data": [{"name": "navigation", "period": "lifetime",
                "title": "Navigation", "id": format!("{post}/insights/navigation/lifetime"),
                "total_value": {"value": total, "breakdowns": [{
                    "dimension_keys": ["story_navigation_action_type"], "results": results}]}}]}))
            .into_response()
        }
        [post, "insights"] => {
            let asked: Vec<&str> = query
                .get("metric")
                .map(|m| m.split(',').collect())
                .unwrap_or_default();
            if asked.iter().any(|m| g.unknown.contains(*m)) {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(meta_error(
                        100,
                        "(#100) The value must be a valid insights metric",
                    )),
                )
                    .into_response();
            }
            let data: Vec<Value> = g
                .insights
                .get(*post)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|i| asked.contains(&i["name"].as_str().unwrap_or_default()))
                .collect();
            axum::Json(json!({"data": data, "paging": {}})).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            axum::Json(meta_error(
                803,
                "(#803) Some of the aliases you requested do not exist",
            )),
        )
            .into_response(),
    }
}

fn lifetime(name: &str, value: Value) -> Value {
    json!({"name": name, "period": "lifetime", "values": [{"value": value}],
        "title": name, "description": "Lifetime", "id": format!("x/insights/{name}/lifetime")})
}

/// A Facebook page post as `/{page-id}/posts` lists it.
fn fb_post(id: &str, message: &str, time: &str, shares: i64) -> Value {
    json!({"id": id, "message": message, "created_time": time,
        "permalink_url": format!("https://www.facebook.com/{id}"), "status_type": "added_photos",
        "shares": {"count": shares}})
}

fn fb_insights(reach: i64, reactions: (i64, i64), link_clicks: i64) -> Vec<Value> {
    vec![
        lifetime("post_impressions_unique", json!(reach)),
        lifetime("post_impressions", json!(reach * 2)),
        lifetime("post_clicks", json!(link_clicks + 3)),
        lifetime(
            "post_clicks_by_type",
            json!({"link clicks": link_clicks, "other clicks": 3}),
        ),
        lifetime(
            "post_reactions_by_type_total",
            json!({"like": reactions.0, "love": reactions.1}),
        ),
    ]
}

/// A time in Meta's format, `days` before now.
fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

/// Registers an approved channel with a page access token file.
async fn channel_with_token(app: &TestApp, platform: &str, id: &str, name: &str) -> i64 {
    let dir = app.settings.data_dir.join("tokens");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(id);
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    app.store
        .add_channel(
            &tavla::store::channels::NewChannel {
                platform: tavla::model::Platform::parse(platform),
                platform_id: id.into(),
                name: name.into(),
                approved: true,
                access_token_file: Some(file.to_string_lossy().into_owned()),
                ..Default::default()
            },
            &actor(),
        )
        .await
        .expect("register channel")
        .id
}

/// A service against the stand-in, on each engine.
async fn spawn(backend: Backend, stub: &Stub) -> Option<TestApp> {
    let url = stub.url.clone();
    TestApp::spawn_with(backend, move |s| s.graph_base_url = url).await
}

/// The page's three posts over two pages of the list, and an Instagram reel and image.
fn script_the_platform(stub: &Stub) {
    stub.with(|g| {
        g.lists.insert(
            PAGE.into(),
            vec![
                vec![
                    fb_post(&format!("{PAGE}_1"), "Vinterväghållning: så plogar vi", &days_ago(1), 4),
                    fb_post(&format!("{PAGE}_2"), "Simhallen stänger för renovering", &days_ago(2), 9),
                ],
                vec![fb_post(&format!("{PAGE}_3"), "Tyck till om nya cykelbanan", &days_ago(3), 0)],
            ],
        );
        g.insights.insert(format!("{PAGE}_1"), fb_insights(120, (5, 2), 9));
        g.insights.insert(format!("{PAGE}_2"), fb_insights(800, (40, 1), 30));
        // The third post has no insight data at all yet: its figures are absent, not zero.
        g.lists.insert(
            IG.into(),
            vec![vec![
                json!({"id": "18000000000000001", "caption": "Lucia i stadsparken", "media_type": "VIDEO",
                    "media_product_type": "REELS", "timestamp": days_ago(1),
                    "permalink": "https://www.instagram.com/reel/AbC/"}),
                json!({"id": "18000000000000002", "caption": "Nya lekplatsen", "media_type": "IMAGE",
                    "media_product_type": "FEED", "timestamp": days_ago(2),
                    "permalink": "https://www.instagram.com/p/DeF/"}),
            ]],
        );
        g.insights.insert(
            "18000000000000001".into(),
            vec![
                lifetime("reach", json!(300)),
                lifetime("views", json!(900)),
                lifetime("total_interactions", json!(50)),
                lifetime("likes", json!(41)),
                lifetime("shares", json!(6)),
            ],
        );
        g.insights.insert(
            "18000000000000002".into(),
            vec![lifetime("reach", json!(70)), lifetime("views", json!(95))],
        );
    });
}

/// Starts a refresh and waits for it to end: the job as the caller sees it, each channel's
/// outcome under `channels`.
async fn refresh(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post(token, "/api/v1/posts/refresh", body).await;
    assert_eq!(r.status(), 202);
    let started: Value = r.json().await.unwrap();
    let id = started["id"].clone();
    eventually("the refresh to end", || async {
        let job = app.get_json(token, "/api/v1/posts/refresh").await;
        (job["id"] == id && job["state"] != "running").then_some(job)
    })
    .await
}

fn outcome_of(refreshed: &Value, channel: i64) -> Value {
    refreshed["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == channel)
        .cloned()
        .unwrap_or_else(|| panic!("channel {channel} in {refreshed}"))
}

fn post_by_platform_id<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform_id"] == id)
        .unwrap_or_else(|| panic!("post {id} in {list}"))
}

on_each_backend!(
    posts_and_their_figures_are_fetched_page_by_page_into_a_time_series,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let ig = channel_with_token(&app, "instagram", IG, "Kommunen på Instagram").await;
        let communicator = app.token("comm", "communicator").await;
        let admin = app.token("admin", "admin").await;
        script_the_platform(&stub);
        // A comment on the first post came by webhook before its post was fetched.
        let r = app
            .post(&admin, "/api/v1/messages", json!({"messages": [{"platform": "facebook", "channel": PAGE,
                "kind": "comment", "id": "c1", "author": {"id": "p1"}, "text": "När plogas Norrby?",
                "time": chrono::Utc::now().timestamp_millis() - 60_000, "post_id": format!("{PAGE}_1")}]}))
            .await;
        assert_eq!(r.status(), 200);

        // A visitor's post on the page: a person's, never part of post follow-up.
        let secs = chrono::Utc::now().timestamp() - 120;
        let visitor = json!({"object": "page", "entry": [{"id": PAGE, "time": secs * 1000,
            "changes": [{"field": "feed", "value": {"item": "status", "verb": "add",
            "post_id": format!("{PAGE}_77"), "from": {"id": "person-9", "name": "Nils"},
            "message": "Min egen fråga om snöröjningen", "created_time": secs}}]}]});
        let r = app.webhook(&serde_json::to_vec(&visitor).unwrap()).await;
        assert_eq!(r.status(), 200);
        let visitor_post: i64 = sqlx::query_scalar("select id from posts where platform_id = $1")
            .bind(format!("{PAGE}_77"))
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let refreshed = refresh(&app, &communicator, json!({})).await;
        let fb = outcome_of(&refreshed, page);
        assert_eq!(fb["outcome"], "fetched", "{refreshed}");
        assert_eq!(
            fb["posts"], 3,
            "both pages of the list were read: {refreshed}"
        );
        assert_eq!(outcome_of(&refreshed, ig)["posts"], 2);
        // The token went in the Authorization header, never in a URL tavla made; the second page
        // was asked for by its `paging.next`.
        let requests = stub.requests();
        assert!(requests.iter().all(|(_, t)| t.as_deref() == Some(TOKEN)));
        assert!(requests.iter().all(|(u, _)| !u.contains(TOKEN)));
        assert!(
            requests.iter().any(|(u, _)| u.contains("after=1")),
            "{requests:?}"
        );

        let list = app.get_json(&communicator, "/api/v1/posts").await;
        let first = post_by_platform_id(&list, &format!("{PAGE}_1"));
        assert_eq!(first["text"], "Vinterväghållning: så plogar vi");
        assert_eq!(
            first["permalink"],
            format!("https://www.facebook.com/{PAGE}_1")
        );
        assert_eq!(first["figures"]["reach"], 120);
        assert_eq!(first["figures"]["reactions"], 7);
        assert_eq!(first["figures"]["link_clicks"], 9);
        assert_eq!(first["figures"]["shares"], 4);
        // The webhook's post and the fetched one are one post: the comment counts beside it.
        assert_eq!(first["comments"], 1);
        assert_eq!(app.count("posts").await, 6);
        assert!(!list.to_string().contains("Min egen fråga"), "{list}");
        let r = app
            .get(&communicator, &format!("/api/v1/posts/{visitor_post}"))
            .await;
        assert_eq!(r.status(), 404);
        let third = post_by_platform_id(&list, &format!("{PAGE}_3"));
        assert!(
            third["figures"].get("reach").is_none(),
            "absent, not zero: {third}"
        );
        let reel = post_by_platform_id(&list, "18000000000000001");
        assert_eq!(reel["post_type"], "reel");
        assert_eq!(reel["figures"]["video_views"], 900);
        assert_eq!(reel["figures"]["engagements"], 50);
        let image = post_by_platform_id(&list, "18000000000000002");
        assert_eq!(image["figures"]["impressions"], 95);

        // A day later the reach has grown: the post's view shows both measurements in order.
        stub.with(|g| {
            g.insights
                .insert(format!("{PAGE}_1"), fb_insights(450, (9, 2), 12));
        });
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        let id = first["id"].as_i64().unwrap();
        let view = app
            .get_json(&communicator, &format!("/api/v1/posts/{id}"))
            .await;
        let reach: Vec<i64> = view["series"]["reach"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_i64().unwrap())
            .collect();
        assert_eq!(reach, vec![120, 450]);
        assert_eq!(view["figures"]["reach"], 450);
        assert_eq!(view["thread"]["comments"], 1);

        // A metric the platform refuses for a post is asked for alone; the others are kept and
        // the refusal is said.
        stub.with(|g| {
            g.unknown.insert("post_video_views".into());
        });
        let refreshed = refresh(&app, &communicator, json!({"channel_id": page})).await;
        let fb = outcome_of(&refreshed, page);
        assert_eq!(fb["outcome"], "partial", "{refreshed}");
        assert!(fb["problem"].as_str().unwrap().contains("post_video_views"));
        let view = app
            .get_json(&communicator, &format!("/api/v1/posts/{id}"))
            .await;
        assert_eq!(view["series"]["reach"].as_array().unwrap().len(), 3);
    }
);

on_each_backend!(
    a_revoked_token_and_rate_limiting_stop_a_channel_with_what_to_do,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let communicator = app.token("comm", "communicator").await;
        script_the_platform(&stub);
        stub.with(|g| {
            g.failures.push_back((
                400,
                json!({"error": {"message": "Error validating access token: The session has been invalidated",
                    "type": "OAuthException", "code": 190, "error_subcode": 460}}),
                None,
            ));
        });
        let refreshed = refresh(&app, &communicator, json!({"channel_id": page})).await;
        let fb = outcome_of(&refreshed, page);
        assert_eq!(fb["outcome"], "failed");
        let problem = fb["problem"].as_str().unwrap();
        assert!(problem.contains("renew"), "{problem}");
        assert!(!refreshed.to_string().contains(TOKEN));
        assert_eq!(app.count("posts").await, 0);
        // The list says how the channel's last fetch went.
        let list = app.get_json(&communicator, "/api/v1/posts").await;
        assert!(list["fetches"][0]["last"]["problem"]
            .as_str()
            .unwrap()
            .contains("renew"));

        // Rate limited (application limit, code 4): the channel waits as long as the platform said, and a refresh meanwhile asks nothing.
        stub.with(|g| {
            g.failures.push_back((
                400,
                meta_error(4, "(#4) Application request limit reached"),
                Some(120),
            ));
        });
        let refreshed = refresh(&app, &communicator, json!({})).await;
        let fb = outcome_of(&refreshed, page);
        assert_eq!(fb["outcome"], "failed");
        assert!(fb["problem"].as_str().unwrap().contains("rate limited"));
        let retry_after = fb["retry_after"].as_i64().unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        assert!(retry_after > now + 100_000 && retry_after <= now + 121_000);
        let asked = stub.requests().len();
        let refreshed = refresh(&app, &communicator, json!({})).await;
        assert_eq!(outcome_of(&refreshed, page)["outcome"], "skipped");
        assert_eq!(stub.requests().len(), asked, "nothing asked while waiting");

        // Once the wait is over (as if time passed), the channel is read again.
        sqlx::query("update post_fetches set not_before = 0")
            .execute(&app.store.pool)
            .await
            .unwrap();
        stub.with(|g| {
            g.failures.push_back((
                400,
                meta_error(32, "(#32) Page request limit reached"),
                None,
            ));
        });
        let refreshed = refresh(&app, &communicator, json!({})).await;
        let fb = outcome_of(&refreshed, page);
        // Without a Retry-After the wait is tavla's own default.
        assert!(fb["retry_after"].as_i64().unwrap() > now + 10 * 60_000);
        sqlx::query("update post_fetches set not_before = 0")
            .execute(&app.store.pool)
            .await
            .unwrap();
        let refreshed = refresh(&app, &communicator, json!({})).await;
        assert_eq!(outcome_of(&refreshed, page)["outcome"], "fetched");
        assert_eq!(app.count("posts").await, 3);
    }
);

on_each_backend!(
    the_schedule_fetches_without_being_asked,
    |backend| async move {
        let stub = Stub::start().await;
        script_the_platform(&stub);
        let Some(mut app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        assert_eq!(app.count("post_insights").await, 0);
        // The service started again with a schedule: its first run comes at once.
        app.settings.posts_refresh_every_minutes = 60;
        app.settings.posts_refresh_first_run_seconds = 0;
        app.restart().await;
        eventually("the scheduled fetch", || async {
            (app.count("post_insights").await > 0).then_some(())
        })
        .await;
        assert!(stub.requests().iter().any(|(u, _)| u.contains("/posts?")));
    }
);

/// Comments on `post` at the given times, one person each.
fn comments_at(prefix: &str, post: &str, text: &str, times: &[String]) -> Vec<Value> {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"platform": "facebook", "channel": PAGE, "kind": "comment", "id": format!("{prefix}{i}"),
                "author": {"id": format!("{prefix}-p{i}")}, "text": text, "time": t, "post_id": post})
        })
        .collect()
}

on_each_backend!(
    a_post_shows_its_questions_hate_and_heated_hours_beside_its_figures,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let other = channel_with_token(&app, "facebook", OTHER_PAGE, "Simhallen").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let limited = app.token("limited", "communicator").await;
        let limited_id: i64 = sqlx::query_scalar("select id from staff where username = 'limited'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        app.store
            .update_staff(limited_id, None, None, Some(&[other]), &actor())
            .await
            .unwrap();
        let post = format!("{PAGE}_900");
        stub.with(|g| {
            g.lists.insert(
                PAGE.into(),
                vec![vec![fb_post(
                    &post,
                    "Biblioteket i Norrby stänger i januari",
                    &days_ago(2),
                    3,
                )]],
            );
            g.insights
                .insert(post.clone(), fb_insights(2000, (10, 0), 40));
        });
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        // Yesterday: four calm comments; today 09:00 UTC twelve questions in one hour (heated);
        // 14:00 six comments, two of them insults (triage S2).
        let day = |d: i64| {
            (chrono::Utc::now() - chrono::Duration::days(d))
                .format("%Y-%m-%d")
                .to_string()
        };
        let (yesterday, today) = (day(2), day(1));
        let mut messages = comments_at(
            "calm",
            &post,
            "Tråkigt, men jag förstår.",
            &["10:00", "12:00", "14:00", "16:00"].map(|t| format!("{yesterday}T{t}:00Z")),
        );
        let questions = [
            "Varför stänger ni biblioteket i Norrby?",
            "Varför stänger biblioteket i Norrby?",
            "Varför ska biblioteket i Norrby stänga?",
            "Varför stänger ni Norrby bibliotek?",
        ];
        for i in 0..12 {
            messages.extend(comments_at(
                &format!("fire{i}-"),
                &post,
                questions[i % questions.len()],
                &[format!("{today}T09:{:02}:00Z", i * 4)],
            ));
        }
        messages.extend(comments_at(
            "insult",
            &post,
            "din jävla idiot",
            &[format!("{today}T14:00:00Z"), format!("{today}T14:05:00Z")],
        ));
        messages.extend(comments_at(
            "angry",
            &post,
            "Det här är fel beslut.",
            &["14:10", "14:15", "14:20", "14:25"].map(|t| format!("{today}T{t}:00Z")),
        ));
        let r = app
            .post(&admin, "/api/v1/messages", json!({"messages": messages}))
            .await;
        assert_eq!(r.status(), 200);
        let id: i64 = sqlx::query_scalar("select id from posts where platform_id = $1")
            .bind(&post)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let view = eventually(
            "the questions placed in a FAQ cluster and the insults flagged",
            || async {
                let view = app
                    .get_json(&communicator, &format!("/api/v1/posts/{id}"))
                    .await;
                let clustered: i64 = view["raised_questions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| q["questions"].as_i64().unwrap())
                    .max()
                    .unwrap_or(0);
                (clustered >= 3 && view["thread"]["flagged"].as_i64() == Some(2)).then_some(view)
            },
        )
        .await;
        assert_eq!(view["figures"]["reach"], 2000);
        assert_eq!(view["thread"]["comments"], 22);
        assert_eq!(view["thread"]["heated_hours"], 2, "{view}");
        let share = view["thread"]["hateful_share"].as_f64().unwrap();
        assert!((share - 2.0 / 22.0).abs() < 0.001, "{share}");
        let top = &view["raised_questions"][0];
        assert_eq!(top["answered"], false);
        assert_eq!(top["replied"], 0);
        assert!(top["name"].as_str().unwrap().contains("Norrby"), "{top}");

        // The period's lists: the post that raised the most questions, and the one whose thread
        // needed moderation.
        let period = &today[..7];
        for sort in ["questions", "moderation"] {
            let list = app
                .get_json(
                    &communicator,
                    &format!("/api/v1/posts?period={period}&sort={sort}"),
                )
                .await;
            assert_eq!(list["items"][0]["id"], id, "{sort}: {list}");
        }
        assert!(
            app.get_json(
                &communicator,
                &format!("/api/v1/posts?period={period}&sort=questions")
            )
            .await["items"][0]["questions"]
                .as_i64()
                .unwrap()
                >= 3
        );

        // The administrator follows up too, but reads no comments: figures without the words.
        let for_admin = app.get_json(&admin, &format!("/api/v1/posts/{id}")).await;
        assert_eq!(for_admin["figures"]["reach"], 2000);
        assert!(for_admin["text"].is_null());
        assert!(!for_admin.to_string().contains("Norrby"), "{for_admin}");
        // A communicator limited to another channel sees nothing of this one.
        assert_eq!(
            app.get(&limited, &format!("/api/v1/posts/{id}"))
                .await
                .status(),
            404
        );
        let theirs = app.get_json(&limited, "/api/v1/posts").await;
        assert!(theirs["items"].as_array().unwrap().is_empty(), "{theirs}");
        let r = app
            .post(
                &limited,
                "/api/v1/posts/refresh",
                json!({"channel_id": page}),
            )
            .await;
        assert_eq!(r.status(), 403);
        // Other roles do not follow up posts at all.
        let agent = app.token("agent", "agent").await;
        assert_eq!(app.get(&agent, "/api/v1/posts").await.status(), 403);
    }
);

async fn post_csv(app: &TestApp, token: &str, csv: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/campaign-analytics"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap()
}

on_each_backend!(
    analytics_import_is_all_or_nothing_and_goals_are_judged,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let communicator = app.token("comm", "communicator").await;
        script_the_platform(&stub);
        refresh(&app, &communicator, json!({"channel_id": page})).await;

        // Bad lines are named by number, and nothing of the file is kept.
        let bad = "date,campaign,sessions,goal_completions\n2026-11-01,vinterkampanj,120,7\n\
                   2026-11-31,vinterkampanj,80,3\n2026-11-03,vinterkampanj,-4,1\n2026-11-04,vinterkampanj,10,2\n";
        let r = post_csv(&app, &communicator, bad).await;
        assert_eq!(r.status(), 422);
        let problem: Value = r.json().await.unwrap();
        let lines: Vec<i64> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["line"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, vec![3, 4], "{problem}");
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was imported"));
        assert_eq!(app.count("campaign_analytics").await, 0);
        let good = "Date;Campaign;Sessions;Goal_completions\n2026-11-01;vinterkampanj;120;7\n2026-11-02;vinterkampanj;80;3\n2026-11-02;annat;5;0\n";
        let r = post_csv(&app, &communicator, good).await;
        assert_eq!(r.status(), 201);
        assert_eq!(app.count("campaign_analytics").await, 3);

        let list = app.get_json(&communicator, "/api/v1/posts").await;
        let id = |pid: &str| post_by_platform_id(&list, pid)["id"].as_i64().unwrap();
        let (first, second) = (id(&format!("{PAGE}_1")), id(&format!("{PAGE}_2")));
        let r = app
            .post(
                &communicator,
                "/api/v1/campaigns",
                json!({"name": "vinterkampanj", "post_ids": [first, second]}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let campaign = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

        let future = (chrono::Utc::now() + chrono::Duration::days(30))
            .format("%Y-%m-%d")
            .to_string();
        let goal = |body: Value| {
            let app = &app;
            let token = communicator.clone();
            async move { app.post(&token, "/api/v1/goals", body).await }
        };
        for body in [
            // Reach 120 against 100: met before its date.
            json!({"post_id": first, "metric": "reach", "target": 100, "due": future, "audience": "boende i Norrby"}),
            // 120 against 1000 with a month to go: too early.
            json!({"post_id": first, "metric": "reach", "target": 1000, "due": future}),
            // Its date has passed: not met.
            json!({"post_id": first, "metric": "reach", "target": 1000, "due": "2026-01-31",
                "plan_text": "Nå hälften av hushållen i Norrby"}),
            // The campaign's shares: 4 + 9 = 13 against 10.
            json!({"campaign_id": campaign, "metric": "shares", "target": 10, "due": future}),
            // The UTM campaign's sessions: 200 against 500, date passed.
            json!({"campaign_id": campaign, "metric": "sessions", "target": 500, "due": "2026-11-30"}),
        ] {
            assert_eq!(goal(body).await.status(), 201);
        }
        for (body, status) in [
            (
                json!({"post_id": first, "metric": "sessions", "target": 5, "due": future}),
                422,
            ),
            (
                json!({"post_id": first, "metric": "likes", "target": 5, "due": future}),
                422,
            ),
            (
                json!({"post_id": first, "metric": "reach", "target": 5, "due": "soon"}),
                422,
            ),
            (
                json!({"post_id": 999_999, "metric": "reach", "target": 5, "due": future}),
                404,
            ),
        ] {
            assert_eq!(goal(body.clone()).await.status(), status, "{body}");
        }
        let view = app
            .get_json(&communicator, &format!("/api/v1/posts/{first}"))
            .await;
        let statuses: Vec<&str> = view["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, vec!["met", "too_early", "not_met"], "{view}");
        assert_eq!(view["goals"][0]["value"], 120);
        assert_eq!(view["goals"][0]["audience"], "boende i Norrby");
        assert_eq!(
            view["goals"][2]["plan_text"],
            "Nå hälften av hushållen i Norrby"
        );
        let campaigns = app.get_json(&communicator, "/api/v1/campaigns").await;
        let goals = &campaigns["items"][0]["goals"];
        assert_eq!(goals[0]["value"], 13);
        assert_eq!(goals[0]["status"], "met");
        assert_eq!(goals[1]["value"], 200);
        assert_eq!(goals[1]["status"], "not_met");

        // A corrected export replaces the day's figures.
        let r = post_csv(
            &app,
            &communicator,
            "date,campaign,sessions,goal_completions\n2026-11-02,vinterkampanj,480,9\n",
        )
        .await;
        assert_eq!(r.status(), 201);
        let campaigns = app.get_json(&communicator, "/api/v1/campaigns").await;
        assert_eq!(campaigns["items"][0]["goals"][1]["value"], 600);
        assert_eq!(campaigns["items"][0]["goals"][1]["status"], "met");
    }
);

on_each_backend!(
    evaluation_notes_are_listed_per_period,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let other = channel_with_token(&app, "facebook", OTHER_PAGE, "Simhallen").await;
        let communicator = app.token("comm", "communicator").await;
        let limited = app.token("limited", "communicator").await;
        let limited_id: i64 = sqlx::query_scalar("select id from staff where username = 'limited'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        app.store
            .update_staff(limited_id, None, None, Some(&[other]), &actor())
            .await
            .unwrap();
        script_the_platform(&stub);
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        let post: i64 = sqlx::query_scalar("select id from posts order by id limit 1")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let text = "Bilden fungerade, men länken kom för sent i texten. <script>x</script>";
        let r = app
            .post(
                &communicator,
                &format!("/api/v1/posts/{post}/notes"),
                json!({"text": text}),
            )
            .await;
        assert_eq!(r.status(), 201);
        for (body, status) in [
            (json!({"text": "   "}), 422),
            (json!({"text": "x".repeat(4001)}), 422),
        ] {
            let r = app
                .post(&communicator, &format!("/api/v1/posts/{post}/notes"), body)
                .await;
            assert_eq!(r.status(), status);
        }
        // The limited communicator cannot write on another channel's post, nor read its notes.
        let r = app
            .post(
                &limited,
                &format!("/api/v1/posts/{post}/notes"),
                json!({"text": "Hej"}),
            )
            .await;
        assert_eq!(r.status(), 404);
        assert_eq!(app.count("post_evaluation_notes").await, 1);

        let period = tavla::reports::period::local_time(chrono::Utc::now().timestamp_millis())
            .format("%Y-%m")
            .to_string();
        let listed = app
            .get_json(
                &communicator,
                &format!("/api/v1/post-notes?period={period}"),
            )
            .await;
        assert_eq!(listed["items"][0]["text"], text);
        assert_eq!(listed["items"][0]["post_id"], post);
        assert_eq!(listed["items"][0]["written_by"], "comm");
        let earlier = app
            .get_json(&communicator, "/api/v1/post-notes?period=2025-01")
            .await;
        assert!(earlier["items"].as_array().unwrap().is_empty());
        let theirs = app
            .get_json(&limited, &format!("/api/v1/post-notes?period={period}"))
            .await;
        assert!(theirs["items"].as_array().unwrap().is_empty());
        let view = app
            .get_json(&communicator, &format!("/api/v1/posts/{post}"))
            .await;
        assert_eq!(view["notes"][0]["text"], text);
        // Audited, with no words of the note.
        let audit: Vec<String> =
            sqlx::query_scalar("select detail from audit where action = 'post.noted'")
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(audit.len(), 1);
        assert!(!audit[0].contains("Bilden"));
    }
);

/// This month and the one before it, as the report names them (Swedish time), and the moment
/// one day into the month before.
fn this_and_last_month() -> (String, tavla::reports::ReportPeriod, i64) {
    let now = chrono::Utc::now().timestamp_millis();
    let label = tavla::reports::period::local_time(now)
        .format("%Y-%m")
        .to_string();
    let period = tavla::reports::ReportPeriod::parse(&label).unwrap();
    let before = period.previous();
    (label, period, before.start_ms() + 86_400_000)
}

async fn report_text(app: &TestApp, token: &str, query: &str) -> String {
    let r = app.get(token, &format!("/api/v1/reports?{query}")).await;
    assert_eq!(r.status(), 200, "{query}");
    r.text().await.unwrap()
}

fn top_post<'a>(list: &'a Value, platform_id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform_id"] == platform_id)
        .unwrap_or_else(|| panic!("{platform_id} in {list}"))
}

on_each_backend!(
    the_report_ranks_posts_beside_the_period_before_with_goals_and_campaigns,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let communicator = app.token("comm", "communicator").await;
        let auditor = app.token("auditor", "auditor").await;
        script_the_platform(&stub);
        let (month, _, last_month) = this_and_last_month();
        // The figures fetched last month (the measurements moved there), then today with the
        // first post's reach grown from 120 to 450.
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        sqlx::query("update post_insights set measured_at = $1")
            .bind(last_month)
            .execute(&app.store.pool)
            .await
            .unwrap();
        stub.with(|g| {
            g.insights
                .insert(format!("{PAGE}_1"), fb_insights(450, (9, 2), 12));
        });
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        let id = |pid: &str| {
            let app = &app;
            let pid = pid.to_string();
            async move {
                sqlx::query_scalar::<_, i64>("select id from posts where platform_id = $1")
                    .bind(pid)
                    .fetch_one(&app.store.pool)
                    .await
                    .unwrap()
            }
        };
        let second = id(&format!("{PAGE}_2")).await;
        // A goal judged today and met (reach 800 against 500); a campaign with web sessions
        // this month and last.
        let today = tavla::reports::period::local_time(chrono::Utc::now().timestamp_millis())
            .format("%Y-%m-%d")
            .to_string();
        let r = app
            .post(
                &communicator,
                "/api/v1/goals",
                json!({"post_id": second, "metric": "reach", "target": 500, "due": today}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let before_day = tavla::reports::period::local_time(last_month)
            .format("%Y-%m-%d")
            .to_string();
        let csv = format!(
            "date,campaign,sessions,goal_completions\n{today},vinter,42,4\n{before_day},vinter,7,0\n"
        );
        assert_eq!(post_csv(&app, &communicator, &csv).await.status(), 201);
        let r = app
            .post(
                &communicator,
                "/api/v1/campaigns",
                json!({"name": "vinter", "post_ids": [second]}),
            )
            .await;
        assert_eq!(r.status(), 201);

        let report: Value = serde_json::from_str(
            &report_text(&app, &communicator, &format!("period={month}")).await,
        )
        .unwrap();
        let posts = &report["posts"];
        assert_eq!(posts["metric"], "reach");
        let channel = &posts["channels"][0];
        assert_eq!(channel["channel_name"], "Kommunen");
        // The grown post: this month's figure beside last month's.
        let first = top_post(&channel["top"], &format!("{PAGE}_1"));
        assert_eq!(
            (&first["value"], &first["previous"]),
            (&json!(450), &json!(120)),
            "{channel}"
        );
        assert_eq!(first["excerpt"], "Vinterväghållning: så plogar vi");
        // The highest reach first; a post never measured comes last, its figure null.
        let order: Vec<&str> = channel["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["platform_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            order[..2],
            [format!("{PAGE}_2"), format!("{PAGE}_1")],
            "{channel}"
        );
        // (The third, three days old, is this month's unless the month began since.)
        if let Some(third) = channel["top"].get(2) {
            assert_eq!(third["platform_id"], format!("{PAGE}_3"));
            assert!(third["value"].is_null(), "{third}");
        }
        // Last month's list as it stood then.
        let then = top_post(&channel["previous_top"], &format!("{PAGE}_1"));
        assert_eq!(
            (&then["value"], &then["previous"]),
            (&json!(120), &Value::Null)
        );
        assert_eq!(posts["goals_met"]["value"], 1);
        assert_eq!(posts["campaigns"][0]["name"], "vinter");
        assert_eq!(
            posts["campaigns"][0]["sessions"],
            json!({"value": 42, "previous": 7})
        );

        // Another figure ranks them otherwise; an unknown one is refused.
        let by_shares: Value = serde_json::from_str(
            &report_text(
                &app,
                &communicator,
                &format!("period={month}&post_metric=shares"),
            )
            .await,
        )
        .unwrap();
        assert_eq!(by_shares["posts"]["metric"], "shares");
        assert_eq!(
            by_shares["posts"]["channels"][0]["top"][0]["value"], 9,
            "{by_shares}"
        );
        let r = app
            .get(
                &communicator,
                &format!("/api/v1/reports?period={month}&post_metric=likes"),
            )
            .await;
        assert_eq!(r.status(), 400);

        // The CSV: the same six columns as the report's other rows.
        let csv = report_text(&app, &communicator, &format!("period={month}&format=csv")).await;
        let rows: Vec<Vec<String>> = csv
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(crate::reports::split_csv)
            .collect();
        assert!(rows.iter().all(|r| r.len() == 6), "{csv}");
        let grown = rows
            .iter()
            .find(|r| r[0] == "top_posts" && r[3].contains(&format!("{PAGE}_1")))
            .unwrap_or_else(|| panic!("{csv}"));
        assert_eq!(grown[1], "Kommunen");
        assert_eq!((grown[4].as_str(), grown[5].as_str()), ("450", "120"));
        assert!(rows.contains(
            &["campaigns", "", "", "vinter sessions", "42", "7"]
                .map(String::from)
                .to_vec()
        ));
        assert!(rows.contains(
            &["goals", "", "", "met", "1", "0"]
                .map(String::from)
                .to_vec()
        ));
        // The printable page.
        let html = report_text(
            &app,
            &communicator,
            &format!("period={month}&format=html&lang=en"),
        )
        .await;
        assert!(html.contains("Posts, goals and campaigns"), "{html}");
        assert!(html.contains("Vinterväghållning: så plogar vi"));
        assert!(html.contains("<td>450</td><td>120</td>"), "{html}");

        // The auditor reads reports but does not follow up posts: no section.
        let theirs: Value =
            serde_json::from_str(&report_text(&app, &auditor, &format!("period={month}")).await)
                .unwrap();
        assert!(theirs["posts"].is_null(), "{theirs}");
    }
);

on_each_backend!(
    a_channel_limited_reader_sees_only_their_channels_posts_in_the_report,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let other = channel_with_token(&app, "facebook", OTHER_PAGE, "Simhallen").await;
        let communicator = app.token("comm", "communicator").await;
        let limited = app.token("limited", "communicator").await;
        let limited_id: i64 = sqlx::query_scalar("select id from staff where username = 'limited'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        app.store
            .update_staff(limited_id, None, None, Some(&[other]), &actor())
            .await
            .unwrap();
        script_the_platform(&stub);
        // The other channel's post carries hostile text: the page must show it as text.
        let hostile = "<script>alert(1)</script> Simhallen öppnar igen";
        stub.with(|g| {
            g.lists.insert(
                OTHER_PAGE.into(),
                vec![vec![fb_post(
                    &format!("{OTHER_PAGE}_5"),
                    hostile,
                    &days_ago(0),
                    2,
                )]],
            );
            g.insights
                .insert(format!("{OTHER_PAGE}_5"), fb_insights(60, (1, 0), 1));
        });
        refresh(&app, &communicator, json!({})).await;
        let (month, _, _) = this_and_last_month();

        // The unlimited communicator sees both channels' posts.
        let all = report_text(&app, &communicator, &format!("period={month}")).await;
        assert!(all.contains(&format!("{PAGE}_2")) && all.contains(&format!("{OTHER_PAGE}_5")));
        // The limited one: only their channel's, in JSON, CSV and HTML.
        let json_report = report_text(&app, &limited, &format!("period={month}")).await;
        let report: Value = serde_json::from_str(&json_report).unwrap();
        let channels = report["posts"]["channels"].as_array().unwrap();
        assert_eq!(channels.len(), 1, "{report}");
        assert_eq!(channels[0]["channel_id"], other);
        assert_eq!(channels[0]["top"][0]["excerpt"], hostile);
        for format in ["json", "csv", "html"] {
            let text =
                report_text(&app, &limited, &format!("period={month}&format={format}")).await;
            assert!(
                text.contains(&format!("{OTHER_PAGE}_5")),
                "{format}: {text}"
            );
            for theirs in [PAGE, "Vinterväghållning", "Simhallen stänger", "Kommunen"] {
                assert!(!text.contains(theirs), "{format} shows {theirs}: {text}");
            }
            if format == "html" {
                assert!(!text.contains("<script"), "{text}");
                assert!(
                    text.contains("&lt;script&gt;alert(1)&lt;/script&gt; Simhallen öppnar igen")
                );
            }
        }
    }
);

/// A PATCH (with a body) or a DELETE (without), and its status.
async fn change(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> u16 {
    let mut request = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token);
    if !body.is_null() {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

on_each_backend!(
    goals_campaigns_and_notes_are_changed_and_removed_within_the_channel_limit,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let other = channel_with_token(&app, "facebook", OTHER_PAGE, "Simhallen").await;
        let communicator = app.token("comm", "communicator").await;
        let colleague = app.token("comm2", "communicator").await;
        let admin = app.token("admin", "admin").await;
        let limited = app.token("limited", "communicator").await;
        let limited_id: i64 = sqlx::query_scalar("select id from staff where username = 'limited'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        app.store
            .update_staff(limited_id, None, None, Some(&[other]), &actor())
            .await
            .unwrap();
        script_the_platform(&stub);
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        let list = app.get_json(&communicator, "/api/v1/posts").await;
        let id = |pid: &str| post_by_platform_id(&list, pid)["id"].as_i64().unwrap();
        let (first, second) = (id(&format!("{PAGE}_1")), id(&format!("{PAGE}_2")));
        let created = |path: &'static str, body: Value| {
            let (app, token) = (&app, communicator.clone());
            async move {
                let r = app.post(&token, path, body).await;
                assert_eq!(r.status(), 201, "{path}");
                r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
            }
        };
        let future = (chrono::Utc::now() + chrono::Duration::days(30))
            .format("%Y-%m-%d")
            .to_string();
        let goal = created(
            "/api/v1/goals",
            json!({"post_id": first, "metric": "reach", "target": 1000, "due": future,
                "audience": "boende i Norrby"}),
        )
        .await;
        let campaign = created(
            "/api/v1/campaigns",
            json!({"name": "vinter", "post_ids": [first]}),
        )
        .await;
        let campaign_goal = created(
            "/api/v1/goals",
            json!({"campaign_id": campaign, "metric": "sessions", "target": 50, "due": future}),
        )
        .await;
        created(
            "/api/v1/campaigns",
            json!({"name": "höst", "post_ids": [second]}),
        )
        .await;
        let r = app
            .post(
                &communicator,
                &format!("/api/v1/posts/{first}/notes"),
                json!({"text": "Bilden bar inlägget."}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let note = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let goal_path = format!("/api/v1/goals/{goal}");
        let campaign_path = format!("/api/v1/campaigns/{campaign}");
        let note_path = format!("/api/v1/post-notes/{note}");

        // A communicator limited to another channel: none of these exist for them, and
        // nothing changes.
        for (method, path, body) in [
            ("PATCH", &goal_path, json!({"target": 5})),
            ("DELETE", &goal_path, Value::Null),
            ("PATCH", &campaign_path, json!({"name": "annat"})),
            ("DELETE", &campaign_path, Value::Null),
            ("PATCH", &note_path, json!({"text": "Mitt"})),
            ("DELETE", &note_path, Value::Null),
        ] {
            assert_eq!(
                change(&app, &limited, method, path, body).await,
                404,
                "{method} {path}"
            );
        }
        assert_eq!(app.count("post_goals").await, 2);
        assert_eq!(app.count("campaigns").await, 2);
        assert_eq!(app.count("post_evaluation_notes").await, 1);
        // Missing ones are 404 for anyone.
        for (method, path) in [
            ("PATCH", "/api/v1/goals/999999"),
            ("DELETE", "/api/v1/goals/999999"),
            ("PATCH", "/api/v1/campaigns/999999"),
            ("DELETE", "/api/v1/campaigns/999999"),
            ("PATCH", "/api/v1/post-notes/999999"),
            ("DELETE", "/api/v1/post-notes/999999"),
        ] {
            let body = if method == "PATCH" {
                json!({})
            } else {
                Value::Null
            };
            assert_eq!(
                change(&app, &communicator, method, path, body).await,
                404,
                "{method} {path}"
            );
        }

        // The goal: a lower target (now met), its audience cleared, another date.
        let r = app
            .client
            .patch(app.url(&goal_path))
            .bearer_auth(&communicator)
            .json(&json!({"target": 100, "audience": null, "due": future}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let changed: Value = r.json().await.unwrap();
        assert_eq!(changed["target"], 100);
        assert_eq!(changed["status"], "met", "{changed}");
        assert!(changed["audience"].is_null());
        for body in [
            json!({"metric": "sessions"}),
            json!({"metric": "likes"}),
            json!({"target": 0}),
            json!({"due": "snart"}),
            json!({"post_id": second}),
        ] {
            assert_eq!(
                change(&app, &communicator, "PATCH", &goal_path, body.clone()).await,
                422,
                "{body}"
            );
        }

        // The campaign: renamed, its posts replaced; a name taken is a conflict.
        let r = app
            .client
            .patch(app.url(&campaign_path))
            .bearer_auth(&admin)
            .json(&json!({"name": "vinter 2026", "post_ids": [first, second]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let renamed: Value = r.json().await.unwrap();
        assert_eq!(renamed["name"], "vinter 2026");
        assert_eq!(renamed["post_ids"], json!([first, second]));
        assert_eq!(
            change(
                &app,
                &communicator,
                "PATCH",
                &campaign_path,
                json!({"name": "höst"})
            )
            .await,
            409
        );
        assert_eq!(
            change(
                &app,
                &communicator,
                "PATCH",
                &campaign_path,
                json!({"post_ids": [999_999]})
            )
            .await,
            404
        );

        // The note: another communicator may not touch it; its writer and an administrator may.
        assert_eq!(
            change(
                &app,
                &colleague,
                "PATCH",
                &note_path,
                json!({"text": "Nej"})
            )
            .await,
            403
        );
        assert_eq!(
            change(&app, &colleague, "DELETE", &note_path, Value::Null).await,
            403
        );
        assert_eq!(
            change(
                &app,
                &communicator,
                "PATCH",
                &note_path,
                json!({"text": "  "})
            )
            .await,
            422
        );
        let r = app
            .client
            .patch(app.url(&note_path))
            .bearer_auth(&communicator)
            .json(&json!({"text": "Bilden bar inlägget; länken kom för sent."}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap()["text"],
            "Bilden bar inlägget; länken kom för sent."
        );
        assert_eq!(
            change(
                &app,
                &admin,
                "PATCH",
                &note_path,
                json!({"text": "Rättad av admin"})
            )
            .await,
            200
        );
        let view = app
            .get_json(&communicator, &format!("/api/v1/posts/{first}"))
            .await;
        assert_eq!(view["notes"][0]["text"], "Rättad av admin");

        // Removed: the campaign with its goal, the post's goal, the note.
        assert_eq!(
            change(&app, &communicator, "DELETE", &campaign_path, Value::Null).await,
            204
        );
        let left: Vec<i64> = sqlx::query_scalar("select id from post_goals order by id")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(
            left,
            vec![goal],
            "the campaign's goal {campaign_goal} went with it"
        );
        assert_eq!(app.count("campaigns").await, 1);
        assert_eq!(app.count("posts").await, 3, "its posts stay");
        assert_eq!(
            change(&app, &communicator, "DELETE", &goal_path, Value::Null).await,
            204
        );
        assert_eq!(
            change(&app, &communicator, "DELETE", &note_path, Value::Null).await,
            204
        );
        assert_eq!(
            change(&app, &communicator, "DELETE", &note_path, Value::Null).await,
            404
        );
        assert_eq!(app.count("post_goals").await, 0);
        assert_eq!(app.count("post_evaluation_notes").await, 0);

        // Each change audited, no note's words in the trail.
        let actions: Vec<String> = sqlx::query_scalar(
            "select action from audit where action like 'goal.%' or action like 'campaign.%' \
             or action like 'post_note.%' order by id",
        )
        .fetch_all(&app.store.pool)
        .await
        .unwrap();
        for expected in [
            "goal.changed",
            "campaign.changed",
            "post_note.changed",
            "campaign.removed",
            "goal.removed",
            "post_note.removed",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{expected} in {actions:?}"
            );
        }
        let details: Vec<String> = sqlx::query_scalar("select detail from audit")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert!(!details
            .iter()
            .any(|d| d.contains("Rättad") || d.contains("Bilden")));
    }
);

on_each_backend!(
    post_follow_up_records_are_disposed_of_at_their_limits,
    |backend| async move {
        use tavla::privacy::retention::run;
        use tavla::privacy::rules::{RetentionRules, DAY_MS};
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let communicator = app.token("comm", "communicator").await;
        script_the_platform(&stub);
        // Two fetches: every figure measured twice.
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        stub.with(|g| {
            g.insights
                .insert(format!("{PAGE}_1"), fb_insights(450, (9, 2), 12));
        });
        refresh(&app, &communicator, json!({"channel_id": page})).await;
        let first_fetch: i64 = sqlx::query_scalar("select min(measured_at) from post_insights")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let measured_first: i64 =
            sqlx::query_scalar("select count(*) from post_insights where measured_at = $1")
                .bind(first_fetch)
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        let figures = app.count("post_insights").await;
        assert_eq!(figures, 2 * measured_first);
        let list = app.get_json(&communicator, "/api/v1/posts").await;
        let post = post_by_platform_id(&list, &format!("{PAGE}_1"))["id"]
            .as_i64()
            .unwrap();
        // Analytics for two days, a goal judged on 2026-03-31, a campaign with a goal judged
        // later and one without, a note.
        let csv = "date,campaign,sessions,goal_completions\n2026-01-10,vinter,10,1\n2026-01-11,vinter,12,2\n";
        assert_eq!(post_csv(&app, &communicator, csv).await.status(), 201);
        let created = |path: &'static str, body: Value| {
            let (app, token) = (&app, communicator.clone());
            async move {
                let r = app.post(&token, path, body).await;
                assert_eq!(r.status(), 201, "{path}");
                r.json::<Value>().await.unwrap()
            }
        };
        let goal = created(
            "/api/v1/goals",
            json!({"post_id": post, "metric": "reach", "target": 100, "due": "2026-03-31"}),
        )
        .await;
        let judged_at = goal["due_at"].as_i64().unwrap();
        let kept_campaign = created(
            "/api/v1/campaigns",
            json!({"name": "vinter", "post_ids": [post]}),
        )
        .await;
        let later = created(
            "/api/v1/goals",
            json!({"campaign_id": kept_campaign["id"], "metric": "sessions", "target": 5, "due": "2030-01-31"}),
        )
        .await;
        let bare = created(
            "/api/v1/campaigns",
            json!({"name": "sommar", "post_ids": [post]}),
        )
        .await;
        let created_at = bare["created_at"].as_i64().unwrap();
        let note = app
            .post(
                &communicator,
                &format!("/api/v1/posts/{post}/notes"),
                json!({"text": "Kort text fungerade."}),
            )
            .await
            .json::<Value>()
            .await
            .unwrap();
        let written_at = note["written_at"].as_i64().unwrap();

        let rules = RetentionRules::built_in();
        let counted = |clock: i64| {
            let (app, rules) = (&app, &rules);
            async move {
                let report = run(&app.store, rules, clock, true, &actor()).await.unwrap();
                serde_json::to_value(report.other).unwrap()
            }
        };
        let years = |n: i64| n * 365 * DAY_MS;
        // Each at its limit is kept; a millisecond past it, it goes.
        for (what, limit, expected) in [
            ("post_figures", first_fetch + years(2), measured_first),
            ("post_goals", judged_at + years(2), 1),
            ("campaigns", created_at + years(2), 1),
            ("post_notes", written_at + years(2), 1),
        ] {
            assert_eq!(counted(limit).await[what], 0, "{what} at its limit");
            assert_eq!(
                counted(limit + 1).await[what],
                expected,
                "{what} past its limit"
            );
        }
        // Analytics by their day (Swedish time): at noon on 2026-01-11 three years (1,095 days)
        // on, the 10th has had its period and the 11th has not; a day later both have.
        let day = |text: &str| {
            tavla::reports::ReportPeriod::parse(&text[..7])
                .unwrap()
                .start_ms()
                + (text[8..].parse::<i64>().unwrap() - 1) * DAY_MS
        };
        let on_day = day("2026-01-11") + years(3) + DAY_MS / 2;
        assert_eq!(counted(on_day).await["campaign_analytics"], 1);
        assert_eq!(counted(on_day + DAY_MS).await["campaign_analytics"], 2);

        // A real run well past every period but the later goal's: the series thins to each
        // figure's latest measurement, which the post keeps.
        let clock = written_at + years(3) + 2 * DAY_MS;
        let r = run(&app.store, &rules, clock, false, &actor())
            .await
            .unwrap();
        assert_eq!(r.other.post_figures, measured_first);
        assert_eq!(app.count("post_insights").await, figures - measured_first);
        let view = app
            .get_json(&communicator, &format!("/api/v1/posts/{post}"))
            .await;
        assert_eq!(view["figures"]["reach"], 450);
        assert_eq!(view["series"]["reach"].as_array().unwrap().len(), 1);
        let goals: Vec<i64> = sqlx::query_scalar("select id from post_goals")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(goals, vec![later["id"].as_i64().unwrap()]);
        let campaigns: Vec<String> = sqlx::query_scalar("select name from campaigns")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(campaigns, vec!["vinter".to_string()], "kept by its goal");
        assert_eq!(app.count("campaign_posts").await, 1);
        assert_eq!(app.count("post_evaluation_notes").await, 0);
        assert_eq!(app.count("campaign_analytics").await, 0);
        assert_eq!(app.count("posts").await, 3, "the posts themselves stay");
        // Once its goal has had its period too, the campaign goes, its posts stay.
        let r = run(&app.store, &rules, clock + years(4), false, &actor())
            .await
            .unwrap();
        assert_eq!((r.other.post_goals, r.other.campaigns), (1, 1));
        assert_eq!(app.count("campaign_posts").await, 0);
        assert_eq!(app.count("posts").await, 3);
    }
);

on_each_backend!(
    a_refresh_runs_in_the_background_and_reports_its_progress,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let page = channel_with_token(&app, "facebook", PAGE, "Kommunen").await;
        let ig = channel_with_token(&app, "instagram", IG, "Kommunen på Instagram").await;
        let communicator = app.token("comm", "communicator").await;
        assert_eq!(
            app.get(&communicator, "/api/v1/posts/refresh")
                .await
                .status(),
            404,
            "no refresh yet"
        );
        script_the_platform(&stub);
        // The platform answers slowly: the refresh is seen running, channel by channel.
        stub.with(|g| g.delay = Some(std::time::Duration::from_millis(150)));
        let r = app
            .post(&communicator, "/api/v1/posts/refresh", json!({}))
            .await;
        assert_eq!(r.status(), 202);
        let started: Value = r.json().await.unwrap();
        assert_eq!(started["state"], "running");
        assert_eq!(started["channels_total"], 2);
        assert_eq!(started["requested_by"], "comm");
        // Asked again meanwhile, the running one is the answer: nothing is fetched twice.
        let again = app
            .post(
                &communicator,
                "/api/v1/posts/refresh",
                json!({"channel_id": page}),
            )
            .await;
        assert_eq!(again.status(), 202);
        assert_eq!(again.json::<Value>().await.unwrap()["id"], started["id"]);
        eventually("one channel done, the other not yet", || async {
            let job = app.get_json(&communicator, "/api/v1/posts/refresh").await;
            (job["channels_done"] == 1 && job["state"] == "running").then_some(())
        })
        .await;
        let done = eventually("the refresh to end", || async {
            let job = app.get_json(&communicator, "/api/v1/posts/refresh").await;
            (job["state"] == "done").then_some(job)
        })
        .await;
        assert_eq!(done["id"], started["id"]);
        assert_eq!(done["channels_done"], 2);
        assert_eq!(done["posts_fetched"], 5);
        assert_eq!(outcome_of(&done, page)["posts"], 3);
        assert_eq!(outcome_of(&done, ig)["outcome"], "fetched");
        let lists = stub
            .requests()
            .iter()
            .filter(|(u, _)| u.starts_with(&format!("/{PAGE}/posts?")) && !u.contains("after="))
            .count();
        assert_eq!(
            lists, 1,
            "the page's list was read once (its second page by paging.next)"
        );

        // A revoked token shows as that channel's error in the progress.
        stub.with(|g| {
            g.delay = None;
            g.failures.push_back((
                400,
                json!({"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}),
                None,
            ));
        });
        let job = refresh(&app, &communicator, json!({})).await;
        assert_eq!(job["channels_failed"], 1, "{job}");
        let failed = outcome_of(&job, page);
        assert_eq!(failed["outcome"], "failed");
        assert!(failed["problem"].as_str().unwrap().contains("renew"));
    }
);

on_each_backend!(two_instances_never_refresh_at_once, |backend| async move {
    let stub = Stub::start().await;
    let Some(first) = spawn(backend, &stub).await else {
        return crate::helpers::only_postgres_may_be_missing(backend);
    };
    let second = first.second_instance().await;
    channel_with_token(&first, "facebook", PAGE, "Kommunen").await;
    channel_with_token(&first, "instagram", IG, "Kommunen på Instagram").await;
    let on_first = first.token("comm", "communicator").await;
    let on_second = second.token("comm2", "communicator").await;
    script_the_platform(&stub);
    stub.with(|g| g.delay = Some(std::time::Duration::from_millis(150)));
    let r = first
        .post(&on_first, "/api/v1/posts/refresh", json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let started: Value = r.json().await.unwrap();
    // The other instance answers with the same job and its progress, and starts none.
    let r = second
        .post(&on_second, "/api/v1/posts/refresh", json!({}))
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], started["id"]);
    let done = eventually(
        "the refresh to end, seen from the other instance",
        || async {
            let job = second.get_json(&on_second, "/api/v1/posts/refresh").await;
            (job["state"] == "done").then_some(job)
        },
    )
    .await;
    assert_eq!(done["id"], started["id"]);
    assert_eq!(done["channels_done"], 2);
    let lists = stub
        .requests()
        .iter()
        .filter(|(u, _)| u.contains("/posts?") || u.contains("/media?"))
        .filter(|(u, _)| !u.contains("after="))
        .count();
    assert_eq!(
        lists,
        2,
        "each channel's list read once: {:?}",
        stub.requests()
    );
    assert_eq!(first.count("post_refresh_jobs").await, 1);
});

on_each_backend!(
    instagram_stories_are_followed_with_replies_and_navigation,
    |backend| async move {
        let stub = Stub::start().await;
        let Some(app) = spawn(backend, &stub).await else {
            return crate::helpers::only_postgres_may_be_missing(backend);
        };
        let ig = channel_with_token(&app, "instagram", IG, "Kommunen på Instagram").await;
        let communicator = app.token("comm", "communicator").await;
        script_the_platform(&stub);
        // Two live stories as `/{ig-user-id}/stories` lists them; the second had too few
        // viewers for insights.
        let (story, quiet) = ("18100000000000001", "18100000000000002");
        stub.with(|g| {
            g.lists.insert(
                format!("{IG}/stories"),
                vec![vec![
                    json!({"id": story, "caption": "Julmarknad i dag!", "media_type": "IMAGE",
                        "media_product_type": "STORY", "timestamp": days_ago(0),
                        "permalink": "https://www.instagram.com/stories/kommunen/181/"}),
                    json!({"id": quiet, "media_type": "VIDEO", "media_product_type": "STORY",
                        "timestamp": days_ago(0)}),
                ]],
            );
            g.insights.insert(
                story.into(),
                vec![
                    lifetime("reach", json!(80)),
                    lifetime("replies", json!(3)),
                    lifetime("views", json!(150)),
                    lifetime("shares", json!(1)),
                    lifetime("total_interactions", json!(6)),
                    json!({"name": "navigation", "period": "lifetime", "title": "Navigation",
                        "total_value": {"value": 40}, "id": format!("{story}/insights/navigation/lifetime")}),
                ],
            );
            g.navigation.insert(
                story.into(),
                vec![
                    ("tap_forward".into(), 25),
                    ("tap_back".into(), 5),
                    ("tap_exit".into(), 8),
                    ("swipe_forward".into(), 2),
                ],
            );
            g.too_few_viewers.insert(quiet.into());
        });
        let job = refresh(&app, &communicator, json!({"channel_id": ig})).await;
        let outcome = outcome_of(&job, ig);
        assert_eq!(outcome["posts"], 4, "two media and two stories: {job}");
        assert_eq!(outcome["outcome"], "partial");
        assert!(
            outcome["problem"].as_str().unwrap().contains(quiet),
            "{outcome}"
        );
        let list = app.get_json(&communicator, "/api/v1/posts").await;
        let shown = post_by_platform_id(&list, story);
        assert_eq!(shown["post_type"], "story");
        assert_eq!(shown["text"], "Julmarknad i dag!");
        assert_eq!(
            shown["figures"],
            json!({"reach": 80, "replies": 3, "impressions": 150, "shares": 1, "engagements": 6,
                "navigation": 40, "taps_forward": 25, "taps_back": 5, "exits": 8, "swipes_forward": 2})
        );
        // Too few viewers: no figures, not zeros.
        let silent = post_by_platform_id(&list, quiet);
        assert_eq!(silent["figures"], json!({}), "{silent}");
        assert!(stub.requests().iter().any(|(u, _)| u.starts_with(&format!(
            "/{story}/insights?metric=navigation&breakdown=story_navigation_action_type"
        ))));
    }
);
