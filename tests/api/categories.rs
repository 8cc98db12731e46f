//! The organisation's categories as the description states them: a category change must say
//! what changes (`name` or `archived`), in the served description as in the service (a typing
//! once lost that rule, and schemathesis saw `PATCH {}` refused against the description).

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    a_category_change_says_what_changes_in_the_description_and_the_service,
    |app: TestApp| async move {
        let admin = app.token("kategorier", "admin").await;
        let added = app
            .post(&admin, "/api/v1/categories", json!({"name": " Avfall "}))
            .await;
        assert_eq!(added.status(), 201);
        let category: Value = added.json().await.unwrap();
        assert_eq!(category["name"], "Avfall");
        assert_eq!(category["archived"], false);
        let path = format!("/api/v1/categories/{}", category["id"]);
        let patch = |body: Value| {
            app.client
                .patch(app.url(&path))
                .bearer_auth(&admin)
                .json(&body)
                .send()
        };
        assert_eq!(patch(json!({})).await.unwrap().status(), 422);
        let archived = patch(json!({"archived": true})).await.unwrap();
        assert_eq!(archived.status(), 200);
        assert_eq!(archived.json::<Value>().await.unwrap()["archived"], true);

        let doc = app.get_json(&admin, "/api/v1/openapi.json").await;
        let body = &doc["paths"]["/api/v1/categories/{id}"]["patch"]["requestBody"]["content"]
            ["application/json"]["schema"]["$ref"];
        let name = body.as_str().unwrap().rsplit('/').next().unwrap();
        let rule = &doc["components"]["schemas"][name]["anyOf"];
        let needs: Vec<&Value> = rule
            .as_array()
            .expect("the change states its rule")
            .iter()
            .map(|one| &one["required"])
            .collect();
        assert_eq!(needs, [&json!(["name"]), &json!(["archived"])]);
    }
);

on_both_backends!(
    a_conversation_takes_at_most_ten_categories_as_given_and_ids_count_characters,
    |app: TestApp| async move {
        let admin = app.token("kategorier", "admin").await;
        app.register_channel("facebook", "900000000000001", "Kommunen")
            .await;
        // An id of 256 characters, 512 bytes: within the described maxLength of 256.
        let id = "å".repeat(256);
        crate::helpers::ingest(
            &app,
            &admin,
            vec![
                json!({"platform": "facebook", "channel": "900000000000001", "kind": "dm",
                "id": id, "author": {"id": "1234", "name": "Test Person"},
                "text": "Hej, när töms soporna?", "time": 1767225600000_i64}),
            ],
        )
        .await;
        let conversation = crate::helpers::conversation_of(&app, &id).await;
        let added = app
            .post(&admin, "/api/v1/categories", json!({"name": "Avfall"}))
            .await;
        let category: Value = added.json().await.unwrap();
        let path = format!("/api/v1/conversations/{conversation}/categories");
        let agent = app.token("agent", "agent").await;
        // Eleven items are over the described maxItems, repeats or not.
        let eleven = vec![category["id"].clone(); 11];
        let refused = app.post(&agent, &path, json!({"categories": eleven})).await;
        assert_eq!(refused.status(), 422, "{}", refused.text().await.unwrap());
        let ten = vec![category["id"].clone(); 10];
        let taken = app.post(&agent, &path, json!({"categories": ten})).await;
        assert_eq!(taken.status(), 200, "{}", taken.text().await.unwrap());
    }
);
