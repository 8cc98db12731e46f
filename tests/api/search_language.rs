//! Search finds what a Swedish user means: any form of a word (plural, definite, genitive, verb
//! and adjective forms, irregular ones), typed with or without å/ä/ö, once misspelt, as a whole
//! compound or as its parts; exact words still rank first.

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_backends;

const KOMMUN: &str = "800000000000001";

async fn seed(app: &TestApp, messages: &[(&str, &str)]) -> String {
    app.register_channel("facebook", KOMMUN, "Kommunen").await;
    let admin = app.token("admin", "admin").await;
    let messages: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (author, text))| {
            json!({"platform": "facebook", "channel": KOMMUN, "kind": "dm", "id": format!("m{i}"),
                "author": {"id": author, "name": author}, "text": text,
                "time": format!("2026-10-{:02}T10:00:00+02:00", i + 1)})
        })
        .collect();
    let r = app
        .post(&admin, "/api/v1/messages", json!({ "messages": messages }))
        .await;
    assert_eq!(r.status(), 200);
    app.token("agent", "agent").await
}

/// The authors of the hits, best first, once the index has caught up with `total` messages.
async fn found(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let r = app
        .get(token, &format!("/api/v1/search?q={}", urlencode(q)))
        .await;
    assert_eq!(r.status(), 200, "{q}");
    let v: Value = r.json().await.unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["message"]["author_platform_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

pub fn urlencode(q: &str) -> String {
    let mut out = String::new();
    for b in q.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Waits until every seeded message is searchable.
async fn caught_up(app: &TestApp, token: &str, total: usize) {
    for _ in 0..100 {
        let v = app.get_json(token, "/api/v1/search").await;
        if v["total"] == total {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the index never held {total} messages");
}

const MESSAGES: &[(&str, &str)] = &[
    (
        "forskolan",
        "När börjar inskolningen på förskolan i Norrby?",
    ),
    ("cykelbanan", "Cykelbanan vid skolan har djupa hål."),
    ("tillstand", "Vi fick parkeringstillstånd förra veckan."),
    (
        "hallplatsen",
        "Hållplatsen för bussen är flyttad till Kyrkogatan.",
    ),
    ("soporna", "Soporna har inte tömts på tre veckor."),
    ("spor", "Det finns spor av mögel i källaren."),
    ("bocker", "Böckerna på stadsbiblioteket är gamla."),
    ("omradet", "Området vid sjön är nedskräpat."),
    ("exakt", "Biblioteket stänger tidigt på fredag."),
    ("felstavat", "Bibloteket har inga lånekort kvar."),
    ("storre", "Kan ni bygga en större lekplats?"),
];

on_both_backends!(
    any_form_of_a_word_finds_every_form,
    |app: TestApp| async move {
        let agent = seed(&app, MESSAGES).await;
        caught_up(&app, &agent, MESSAGES.len()).await;
        let cases: &[(&str, &[&str])] = &[
            // Without å/ä/ö, and in other forms: plural, definite, plural definite.
            ("forskola", &["forskolan"]),
            ("förskolor", &["forskolan"]),
            ("forskolorna", &["forskolan"]),
            ("cykelbanor", &["cykelbanan"]),
            ("cykelbanorna", &["cykelbanan"]),
            ("cykelbana", &["cykelbanan"]),
            // Verbs and irregular forms.
            ("tömma", &["soporna"]),
            ("tomde", &["soporna"]),
            ("bok", &["bocker"]),
            ("bocker", &["bocker"]),
            ("stor", &["storre"]),
            // Typed without å where the word then reads as another ending (`omr-ade`).
            ("omrade", &["omradet"]),
            // Compounds from their parts and parts from compounds.
            ("parkering", &["tillstand"]),
            ("tillstånden", &["tillstand"]),
            ("busshållplats", &["hallplatsen"]),
            ("busshallplatser", &["hallplatsen"]),
            // One typing error in a word of five letters or more, never in a shorter one.
            ("soporan", &["soporna"]),
            ("sopor", &["soporna"]),
            ("spor", &["spor"]),
            ("cykelbnaor", &["cykelbanan"]),
        ];
        for (q, expected) in cases {
            assert_eq!(&found(&app, &agent, q).await, expected, "{q}");
        }
        // The word as written ranks above the same word misspelt in a message.
        let library = found(&app, &agent, "biblioteket").await;
        assert_eq!(
            library.first().map(String::as_str),
            Some("exakt"),
            "{library:?}"
        );
        assert!(library.contains(&"felstavat".to_string()), "{library:?}");
        // Highlights mark the forms found.
        let v = app.get_json(&agent, "/api/v1/search?q=forskolor").await;
        let html = v["items"][0]["snippet"]["html"].as_str().unwrap();
        assert!(html.contains("<mark>förskolan</mark>"), "{html}");
        let v = app.get_json(&agent, "/api/v1/search?q=soporan").await;
        let html = v["items"][0]["snippet"]["html"].as_str().unwrap();
        assert!(html.contains("<mark>Soporna</mark>"), "{html}");
    }
);
