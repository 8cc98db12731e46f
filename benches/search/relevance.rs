//! The Swedish relevance set (tests/data/search) for the search bench: tavla's index, without and
//! with the set's synonym groups, and PostgreSQL's Swedish full-text search, over the same
//! corpus and queries; mean recall@20 and nDCG@10, overall and per variant, beside latency.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::postgres::PgPool;
use sqlx::Row;
use tavla::search::eval::{self, Judged};
use tavla::search::query::{parse, Filters, SortOrder};
use tavla::search::synonyms::{Group, Synonyms};
use tavla::search::{IndexedMessage, OpenIndex};

pub struct Set {
    pub corpus: Vec<(i64, String)>,
    pub judged: Vec<Judged>,
    pub synonyms: Vec<Vec<String>>,
}

pub fn load() -> anyhow::Result<Set> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/search");
    let read = |f: &str| std::fs::read_to_string(dir.join(f));
    Ok(Set {
        corpus: eval::parse_corpus(&read("corpus.tsv")?),
        judged: eval::parse_queries(&read("queries.tsv")?),
        synonyms: eval::parse_synonyms(&read("synonyms.txt")?),
    })
}

/// One engine's answers: ranked ids per query, and the time each query took.
pub struct Answers {
    pub ranked: Vec<Vec<i64>>,
    pub took: Vec<Duration>,
}

fn indexed(id: i64, text: &str) -> IndexedMessage {
    IndexedMessage {
        id,
        conversation_id: id,
        channel_id: 1,
        author_id: Some(id),
        platform: "facebook".into(),
        kind: "dm".into(),
        direction: "inbound".into(),
        status: "open".into(),
        state: "visible".into(),
        text: Some(text.to_string()),
        platform_time: id,
        has_attachments: false,
        severity: None,
    }
}

/// tavla in-process (what `GET /api/v1/search` does before the store's re-check).
pub fn tavla(set: &Set, with_synonyms: bool) -> anyhow::Result<Answers> {
    let dir = tempfile::tempdir()?;
    let index = OpenIndex::open(dir.path())?;
    {
        let mut writer = index
            .writer
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        for (id, text) in &set.corpus {
            writer.add_document(index.document(&indexed(*id, text)))?;
        }
        index.commit(&mut writer, 1)?;
    }
    let groups: Vec<Group> = if with_synonyms {
        set.synonyms
            .iter()
            .enumerate()
            .map(|(i, terms)| Group {
                id: i as i64,
                terms: terms.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let synonyms = Synonyms::new(&groups);
    let filters = Filters {
        kinds: vec!["dm".into()],
        states: vec!["visible".into()],
        ..Filters::default()
    };
    let mut answers = Answers {
        ranked: Vec::new(),
        took: Vec::new(),
    };
    for j in &set.judged {
        let started = Instant::now();
        let planned = index.plan(&parse(&j.query, false), &filters, &synonyms);
        let hits = index.run(planned.query.as_ref(), SortOrder::Relevance, 20, 0)?;
        answers.took.push(started.elapsed());
        answers
            .ranked
            .push(hits.ids.iter().map(|(id, _)| *id).collect());
    }
    Ok(answers)
}

/// PostgreSQL: the corpus with `to_tsvector('swedish', text)` under a GIN index, each query by
/// `websearch_to_tsquery('swedish', …)` ranked by `ts_rank`.
pub async fn postgres(set: &Set, pool: &PgPool) -> anyhow::Result<Answers> {
    sqlx::query(
        "create table relevance (id bigint primary key, text text not null, \
         tsv tsvector generated always as (to_tsvector('swedish', text)) stored)",
    )
    .execute(pool)
    .await?;
    for (id, text) in &set.corpus {
        sqlx::query("insert into relevance (id, text) values ($1, $2)")
            .bind(id)
            .bind(text)
            .execute(pool)
            .await?;
    }
    for sql in [
        "create index relevance_tsv on relevance using gin (tsv)",
        "analyze relevance",
    ] {
        sqlx::query(sql).execute(pool).await?;
    }
    let mut answers = Answers {
        ranked: Vec::new(),
        took: Vec::new(),
    };
    for j in &set.judged {
        let started = Instant::now();
        let rows = sqlx::query(
            "select id from relevance, websearch_to_tsquery('swedish', $1) q \
             where tsv @@ q order by ts_rank(tsv, q) desc, id limit 20",
        )
        .persistent(false)
        .bind(&j.query)
        .fetch_all(pool)
        .await?;
        answers.took.push(started.elapsed());
        answers
            .ranked
            .push(rows.iter().map(|r| r.get::<i64, _>("id")).collect());
    }
    Ok(answers)
}

/// Prints the table (overall and per variant) and returns it as JSON.
pub fn report(set: &Set, engines: &[(&str, &Answers)]) -> Value {
    let mut variants: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, j) in set.judged.iter().enumerate() {
        variants.entry(j.variant.as_str()).or_default().push(i);
    }
    let rows: Vec<(String, Vec<usize>)> = std::iter::once((
        format!("all {} queries", set.judged.len()),
        (0..set.judged.len()).collect(),
    ))
    .chain(
        variants
            .into_iter()
            .map(|(v, is)| (format!("{v} ({})", is.len()), is)),
    )
    .collect();
    print!("{:<22}", "recall@20 / nDCG@10");
    for (name, _) in engines {
        print!(" {name:>24}");
    }
    println!();
    let mut out = Vec::new();
    for (name, is) in &rows {
        print!("{name:<22}");
        let judged: Vec<Judged> = is.iter().map(|i| set.judged[*i].clone()).collect();
        let mut figures = serde_json::Map::new();
        for (engine, answers) in engines {
            let ranked: Vec<Vec<i64>> = is.iter().map(|i| answers.ranked[*i].clone()).collect();
            let (recall, ndcg) = eval::means(&judged, &ranked);
            print!(" {:>24}", format!("{recall:.3} / {ndcg:.3}"));
            figures.insert(engine.to_string(), json!([round3(recall), round3(ndcg)]));
        }
        println!();
        out.push(json!({"queries": name, "recall_ndcg": figures}));
    }
    print!("{:<22}", "latency p50 / p99 ms");
    for (_, answers) in engines {
        let [p50, p99, _] = super::stats(&answers.took);
        print!(" {:>24}", format!("{p50:.2} / {p99:.2}"));
    }
    println!();
    json!(out)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
