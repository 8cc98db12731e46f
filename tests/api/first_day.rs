//! A first day that works: `tavla serve --demo` on an empty store adds one trained account per
//! working role with a password shown once, and whoever signs in with one sees the demo queue.

use serde_json::json;
use tavla::access::training::TrainingConfig;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    the_demo_gives_accounts_that_sign_in_to_a_full_queue,
    |app: TestApp| async move {
        assert_eq!(app.count("staff").await, 0, "an empty store");
        tavla::demo::fill(&app.store, &app.settings).await.unwrap();
        let training = TrainingConfig::load(&app.settings.training_file).unwrap();
        let accounts = tavla::demo::accounts(&app.store, &training).await.unwrap();
        let roles: Vec<&str> = accounts.iter().map(|a| a.role).collect();
        assert_eq!(roles, ["agent", "communicator", "moderator", "admin"]);
        assert!(accounts.iter().all(|a| a.password.chars().count() == 20));
        assert_ne!(accounts[0].password, accounts[1].password, "each its own");
        // Never beside existing accounts: a second run adds none.
        assert!(tavla::demo::accounts(&app.store, &training)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(app.count("staff").await, 4);

        // The agent signs in with the printed password and finds conversations waiting.
        let agent = &accounts[0];
        let r = app
            .client
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": agent.username, "password": agent.password}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let queue: serde_json::Value = app
            .client
            .get(app.url("/api/v1/conversations"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            queue["total"].as_i64().unwrap() > 0,
            "trained, the agent reads the queue: {queue}"
        );
    }
);
