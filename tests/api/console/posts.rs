//! The post follow-up view: a communicator lists the channels' posts with their figures, opens
//! one (its figures over time, its thread, its goals) and writes a note on its evaluation by
//! keyboard alone; hostile post text stays text.

use serde_json::json;

use super::actions::{assert_inert, fill, XSS};
use super::browser::{self, Browser};
use super::{channel, PAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_communicator_follows_up_a_post_and_notes_what_worked() {
    let app = browser::app().await;
    channel(&app).await;
    let channel_id: i64 = sqlx::query_scalar("select id from channels")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    // The post as post follow-up fetched it, twice, with hostile text in it.
    for (at, reach) in [(now - 7_200_000, 120), (now - 3_600_000, 450)] {
        app.store
            .save_fetched_posts(
                channel_id,
                &[tavla::store::posts::FetchedPost {
                    platform_id: format!("{PAGE}_5"),
                    text: Some(format!("Vinterväghållning {XSS}")),
                    platform_time: Some(now - 86_400_000),
                    figures: vec![("reach".into(), reach), ("shares".into(), 3)],
                    ..Default::default()
                }],
                at,
                None,
                0,
            )
            .await
            .unwrap();
    }
    let post: i64 = sqlx::query_scalar("select id from posts")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    let planner = app.token("planner", "communicator").await;
    let goal = app
        .post(
            &planner,
            "/api/v1/goals",
            json!({"post_id": post, "metric": "reach", "target": 400, "due": "2030-01-31"}),
        )
        .await;
    assert_eq!(goal.status(), 201);
    browser::staff(&app, "kim", "communicator").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("kim").await;
    b.goto("/#/posts").await;
    let list = b.wait_text("#posts-table", "Vinterväghållning").await;
    assert!(list.contains("450"), "{list}");
    assert_inert(&b).await;
    b.audit("the post follow-up list").await;
    // Fetching now runs in the background; the view follows it to its end and says how it went
    // (the channel has no access token, so it could not be read).
    b.find("#posts-refresh").await.click().await.unwrap();
    b.wait_text("#announcer", "1 kanal kunde inte läsas").await;
    let job: Vec<String> = sqlx::query_scalar("select state from post_refresh_jobs")
        .fetch_all(&app.store.pool)
        .await
        .unwrap();
    assert_eq!(job, ["done"]);

    b.goto(&format!("/#/posts/{post}")).await;
    let series = b.wait_text("#post-series", "450").await;
    assert!(series.contains("120"), "{series}");
    b.wait_text("#post-goal-list", "uppnått").await;
    assert_inert(&b).await;
    // By keyboard: type, Tab to the button, Enter.
    fill(
        &b,
        "#post-note-text",
        "Bilden fungerade, länken kom för sent.",
    )
    .await;
    b.press("\u{E004}").await;
    assert_eq!(b.focused_id().await, "post-note-send");
    b.press("\u{E007}").await;
    b.wait_text("#announcer", "Anteckningen är sparad").await;
    b.wait_text("#post-notes", "Bilden fungerade").await;
    let stored: Vec<String> = sqlx::query_scalar("select text from post_evaluation_notes")
        .fetch_all(&app.store.pool)
        .await
        .unwrap();
    assert_eq!(stored, ["Bilden fungerade, länken kom för sent."]);
    b.audit("a post's follow-up").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
