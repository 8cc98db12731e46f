//! Where the index's share of a search goes, query by query: planning (near spellings and known
//! words read from the term dictionaries), counting every hit, and finding the page's best hits,
//! each timed on its own, in-process over BENCH_MESSAGES messages as an agent (DMs, visible) with
//! and without a month's filter. `cold` is a query's first plan: near spellings are walked in
//! every segment for its words that no earlier query held (`search::near` keeps them after);
//! `plan` is the median over all its rounds. BENCH_SEARCH_DIR keeps the built index
//! (`phases-index`) for the next run, so a change to query planning is measured in seconds, not
//! after a rebuild.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tantivy::collector::{Count, TopDocs};
use tavla::search::query::{parse, Filters};
use tavla::search::synonyms::Synonyms;
use tavla::search::OpenIndex;

use super::{message, stats, MONTH_MS, QUERIES, ROUNDS, START_MS};

/// Opens the kept index, or builds it (one commit, merges finished) when the folder is new.
fn index(n: u64, dir: &Path) -> anyhow::Result<OpenIndex> {
    let marker = dir.join(format!("built-{n}"));
    // An index kept from another version of the content rules is dropped when opened.
    let kept = marker.exists() && {
        let open = OpenIndex::open(dir)?;
        open.reader.reload()?;
        open.reader.searcher().num_docs() == n
    };
    if !kept {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        let started = Instant::now();
        let index = OpenIndex::open(dir)?;
        let mut writer = index
            .writer
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        for i in 0..n {
            writer.add_document(index.document(&message(i, n)))?;
        }
        index.commit(&mut writer, 1)?;
        drop(writer);
        let OpenIndex { writer, .. } = index;
        writer
            .into_inner()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .wait_merging_threads()?;
        std::fs::write(&marker, "")?;
        println!(
            "phases: built the index of {n} messages in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    OpenIndex::open(dir)
}

fn ms(d: &[Duration]) -> [f64; 3] {
    stats(d)
}

pub fn measure(n: u64) -> anyhow::Result<Value> {
    let kept = std::env::var("BENCH_SEARCH_DIR").ok();
    let temp = tempfile::tempdir()?;
    let dir = kept.as_deref().map_or(temp.path().to_path_buf(), |d| {
        Path::new(d).join("phases-index")
    });
    let index = index(n, &dir)?;
    index.reader.reload()?;
    let searcher = index.reader.searcher();
    println!(
        "\nphases: {} segments; per query p50 ms as an agent (no filter | one month)",
        searcher.segment_readers().len()
    );
    println!(
        "{:<28} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>6} {:>9} | {:>7} {:>7} {:>7}",
        "query",
        "cold",
        "plan",
        "count",
        "top",
        "both",
        "hits",
        "terms",
        "postings",
        "plan",
        "count",
        "both"
    );
    let month = (START_MS + 12 * MONTH_MS, START_MS + 13 * MONTH_MS - 1);
    let filters = |in_month: bool| Filters {
        kinds: vec!["dm".into()],
        states: vec!["visible".into()],
        from: in_month.then_some(month.0),
        to: in_month.then_some(month.1),
        ..Default::default()
    };
    let synonyms = Synonyms::default();
    let mut all: [Vec<Duration>; 4] = Default::default();
    // The first plan of each query: near spellings walked in every segment for its words no
    // earlier query held.
    let mut cold_plans = Vec::new();
    let mut rows = Vec::new();
    for q in QUERIES {
        let mut row = Vec::new();
        let mut hits = 0;
        for in_month in [false, true] {
            let f = filters(in_month);
            let mut took: [Vec<Duration>; 4] = Default::default();
            for _ in 0..=ROUNDS * 2 {
                let t = Instant::now();
                let planned = index.plan(&parse(q, false), &f, &synonyms);
                let plan = t.elapsed();
                let t = Instant::now();
                hits = searcher.search(planned.query.as_ref(), &Count)?;
                let count = t.elapsed();
                let t = Instant::now();
                let top = TopDocs::with_limit(20).order_by_score();
                searcher.search(planned.query.as_ref(), &top)?;
                let top_only = t.elapsed();
                let t = Instant::now();
                let top = TopDocs::with_limit(20).order_by_score();
                searcher.search(planned.query.as_ref(), &(Count, top))?;
                let both = t.elapsed();
                for (i, d) in [plan, count, top_only, both].into_iter().enumerate() {
                    took[i].push(d);
                }
            }
            let p50: Vec<f64> = took.iter().map(|t| ms(t)[0]).collect();
            if !in_month {
                cold_plans.push(took[0][0]);
                for (i, t) in took.iter().enumerate() {
                    all[i].extend(t.iter().copied());
                }
            }
            row.push((p50, hits));
        }
        let ((a, hits_all), (b, _)) = (&row[0], &row[1]);
        // The terms a search reads and their postings (filters left out): the work that grows
        // with the store, whatever else the machine is doing.
        let planned = index.plan(&parse(q, false), &Filters::default(), &synonyms);
        let mut terms = Vec::new();
        planned.query.query_terms(&mut |t, _| terms.push(t.clone()));
        let postings: u64 = terms
            .iter()
            .map(|t| searcher.doc_freq(t).unwrap_or(0))
            .sum();
        if std::env::var("BENCH_SHOW_TERMS").is_ok_and(|shown| shown.split(',').any(|w| w == *q)) {
            for t in &terms {
                let n = searcher.doc_freq(t).unwrap_or(0);
                println!("    {:>9} {:?}", n, t);
            }
        }
        let terms = terms.len();
        let cold = cold_plans.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        println!(
            "{q:<28} {cold:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {hits_all:>9} {terms:>6} {postings:>9} | {:>7.2} {:>7.2} {:>7.2}",
            a[0], a[1], a[2], a[3], b[0], b[1], b[3]
        );
        rows.push(json!({"q": q, "cold_plan": cold, "agent": a, "hits": hits_all, "terms": terms, "postings": postings, "month": b}));
    }
    let names = ["plan", "count", "top", "both"];
    let mut overall: serde_json::Map<String, Value> = names
        .iter()
        .zip(&all)
        .map(|(name, t)| (name.to_string(), json!(ms(t))))
        .collect();
    overall.insert("cold_plan".into(), json!(ms(&cold_plans)));
    println!("phases over every query as an agent (p50 / p99 / max ms): {overall:?}");
    Ok(json!({"segments": searcher.segment_readers().len(), "overall": overall, "queries": rows}))
}
