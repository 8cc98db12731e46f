//! Search finds what a Swedish user means: any form of a word (plural, definite, genitive, verb
//! and adjective forms, irregular ones), typed with or without å/ä/ö, once misspelt, as a whole
//! compound or as its parts; exact words still rank first.

use serde_json::{json, Value};

use crate::helpers::{eventually, TestApp};
use crate::on_both_backends;

const KOMMUN: &str = "800000000000001";

async fn seed(app: &TestApp, messages: &[(&str, &str)]) -> String {
    app.register_channel("facebook", KOMMUN, "Kommunen").await;
    let admin = app.token("admin", "admin").await;
    let start = chrono::DateTime::parse_from_rfc3339("2026-10-01T10:00:00+02:00").unwrap();
    let messages: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (author, text))| {
            json!({"platform": "facebook", "channel": KOMMUN, "kind": "dm", "id": format!("m{i}"),
                "author": {"id": author, "name": author}, "text": text,
                "time": (start + chrono::Duration::minutes(i as i64)).to_rfc3339()})
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
    eventually(&format!("the index holding {total} messages"), || async {
        let v = app.get_json(token, "/api/v1/search").await;
        (v["total"] == total).then_some(())
    })
    .await
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

/// The synonym groups as an administrator keeps them, applied to the next search.
async fn add_group(app: &TestApp, admin: &str, terms: &[&str]) -> i64 {
    let r = app
        .post(admin, "/api/v1/search/synonyms", json!({ "terms": terms }))
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

on_both_backends!(
    synonyms_kept_by_administrators_widen_searches_at_once,
    |app: TestApp| async move {
        let agent = seed(
            &app,
            &[
                ("soporna", "Soporna har inte hämtats på Björkvägen."),
                ("avfallet", "Var lämnar man farligt avfall?"),
                ("karlet", "Vårt sopkärl är trasigt."),
                (
                    "lss",
                    "Hur ansöker man om insatser enligt lagen om stöd och service?",
                ),
            ],
        )
        .await;
        caught_up(&app, &agent, 4).await;
        let admin = app.token("admin2", "admin").await;
        assert_eq!(found(&app, &agent, "avfall").await, ["avfallet"]);
        let waste = add_group(&app, &admin, &["sopor", "avfall", " hushållsavfall "]).await;
        // At once, in any form of the term, without å/ä/ö; the term typed ranks first.
        assert_eq!(found(&app, &agent, "avfall").await, ["avfallet", "soporna"]);
        assert_eq!(found(&app, &agent, "hushallsavfallet").await.len(), 2);
        let v = app.get_json(&agent, "/api/v1/search?q=soporna").await;
        assert_eq!(v["synonyms"], json!(["avfall", "hushållsavfall"]));
        assert_eq!(v["total"], 2);
        // A term of several words matches those words in a row, both ways.
        add_group(&app, &admin, &["LSS", "lagen om stöd och service"]).await;
        assert_eq!(found(&app, &agent, "lss").await, ["lss"]);
        // Changed, and removed: the next search follows.
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/search/synonyms/{waste}")))
            .bearer_auth(&admin)
            .json(&json!({"terms": ["soptunna", "sopkärl"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(found(&app, &agent, "avfall").await, ["avfallet"]);
        assert_eq!(found(&app, &agent, "soptunnan").await, ["karlet"]);
        let r = app
            .client
            .delete(app.url(&format!("/api/v1/search/synonyms/{waste}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert!(found(&app, &agent, "soptunnan").await.is_empty());
        // Everyone who searches sees the list; only administrators change it; bad groups are
        // refused with what to do.
        let list = app.get_json(&agent, "/api/v1/search/synonyms").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let communicator = app.token("comm", "communicator").await;
        let r = app
            .post(
                &communicator,
                "/api/v1/search/synonyms",
                json!({"terms": ["a", "b"]}),
            )
            .await;
        assert_eq!(r.status(), 403);
        let r = app
            .post(
                &admin,
                "/api/v1/search/synonyms",
                json!({"terms": ["sopor"]}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let detail = r.json::<Value>().await.unwrap()["detail"].clone();
        assert!(detail.as_str().unwrap().contains("two"), "{detail}");
        // Every change is in the audit trail, with the terms before and after.
        let auditor = app.token("auditor", "auditor").await;
        let trail = app
            .get_json(&auditor, &format!("/api/v1/audit?target=synonyms:{waste}"))
            .await;
        let actions: Vec<&str> = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["synonyms.removed", "synonyms.changed", "synonyms.added"]
        );
        assert_eq!(
            trail["items"][1]["detail"]["before"],
            json!(["sopor", "avfall", "hushållsavfall"])
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synonym_added_on_one_instance_widens_searches_on_another() {
    let Some(first) = TestApp::spawn(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let second = first.second_instance().await;
    let agent = seed(&first, &[("soporna", "Soporna har inte hämtats.")]).await;
    caught_up(&second, &agent, 1).await;
    assert!(found(&second, &agent, "avfall").await.is_empty());
    let admin = first.token("admin2", "admin").await;
    add_group(&first, &admin, &["sopor", "avfall"]).await;
    eventually("the second instance applying the new group", || async {
        (found(&second, &agent, "avfall").await == ["soporna"]).then_some(())
    })
    .await
}

/// The Swedish relevance set (tests/data/search, written for tavla): its 702 messages through the
/// API, its synonym groups kept by an administrator, and its 184 queries (inflected, typed
/// without å/ä/ö, misspelt, compound, synonym and place variants) over HTTP. Mean recall@20 of
/// the messages asked about and nDCG@10 must stay above floors set below what was measured.
async fn relevance_over_http(app: TestApp) {
    use tavla::search::eval;
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/search/");
    let read = |f: &str| std::fs::read_to_string(format!("{data}{f}")).unwrap();
    let corpus = eval::parse_corpus(&read("corpus.tsv"));
    let judged = eval::parse_queries(&read("queries.tsv"));
    let texts: Vec<(String, &str)> = corpus
        .iter()
        .map(|(id, text)| (format!("c{id}"), text.as_str()))
        .collect();
    let pairs: Vec<(&str, &str)> = texts.iter().map(|(a, t)| (a.as_str(), *t)).collect();
    let agent = seed(&app, &pairs).await;
    let admin = app.token("admin2", "admin").await;
    for group in eval::parse_synonyms(&read("synonyms.txt")) {
        let terms: Vec<&str> = group.iter().map(String::as_str).collect();
        add_group(&app, &admin, &terms).await;
    }
    caught_up(&app, &agent, corpus.len()).await;
    let mut ranked = Vec::new();
    for j in &judged {
        // The default page is the first 20.
        let ids: Vec<i64> = found(&app, &agent, &j.query)
            .await
            .iter()
            .map(|a| a[1..].parse().unwrap())
            .collect();
        ranked.push(ids);
    }
    for (j, r) in judged.iter().zip(&ranked) {
        // TAVLA_RELEVANCE_DETAIL=1 prints each query's figures (recall@20, nDCG@10).
        if std::env::var("TAVLA_RELEVANCE_DETAIL").is_ok() {
            let (recall, ndcg) = (j.recall_at(r, 20), j.ndcg_at(r, 10));
            eprintln!("{recall:.2?} {ndcg:.2?} {} ({})", j.query, j.variant);
        }
    }
    let (recall, ndcg) = eval::means(&judged, &ranked);
    eprintln!("relevance over HTTP: recall@20 {recall:.3}, nDCG@10 {ndcg:.3}");
    assert!(recall >= RECALL_FLOOR, "recall@20 {recall:.3}");
    assert!(ndcg >= NDCG_FLOOR, "nDCG@10 {ndcg:.3}");
}

/// Measured 0.927 and 0.936 (README, Search); Snowball's stems and no typo tolerance, before,
/// left whole variants unfound (`forskola`, `cykelbanorna`, every misspelling).
const RECALL_FLOOR: f64 = 0.90;
const NDCG_FLOOR: f64 = 0.90;

on_both_backends!(
    the_swedish_relevance_set_stays_above_its_floor,
    |app: TestApp| async move {
        relevance_over_http(app).await;
    }
);

on_both_backends!(
    searches_at_once_are_each_on_the_audit_trail_in_one_chain,
    |app: TestApp| async move {
        let agent = seed(&app, &[("soporna", "Soporna har inte hämtats.")]).await;
        caught_up(&app, &agent, 1).await;
        let before = app
            .store
            .audit_head()
            .await
            .unwrap()
            .unwrap()
            .entries
            .unwrap();
        let searches = (0..40).map(|i| {
            let (app, agent) = (&app, &agent);
            async move {
                let r = app
                    .get(
                        agent,
                        &format!("/api/v1/search?q=sopor{}", "%20sopor".repeat(i % 3)),
                    )
                    .await;
                assert_eq!(r.status(), 200);
            }
        });
        futures::future::join_all(searches).await;
        let checked = app.store.verify_audit().await.unwrap().unwrap();
        assert_eq!(checked, before + 40, "every search has its entry");
        let auditor = app.token("auditor", "auditor").await;
        let trail = app
            .get_json(&auditor, "/api/v1/audit?action=search.read&limit=100")
            .await;
        assert!(trail["items"].as_array().unwrap().len() >= 40);
    }
);
