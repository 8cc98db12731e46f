//! Moderation triage throughput: `cargo bench --bench triage` (BENCH_SECONDS per corpus,
//! default 5; BENCH_MESSAGES synthetic messages, default 200,000).
//!
//! DESIGN §6 asks for more than 50,000 messages per second per core. Triage runs inline at
//! ingestion, so this measures `Engine::triage` on ONE thread (one core) over:
//! - synthetic comments in Swedish and English, generated with a seeded PRNG from templates a
//!   municipality's channels see (questions, complaints, thanks), with a share of abusive ones
//!   (insults, threats, hate, spam, personal data, evasions such as `1d10t` and `i d i o t`);
//! - the texts of `../shared/data/moderation/davidson.tsv` (English tweets) when present;
//!
//! first with the rules alone, then with a trained model beside them (`tavla moderation train`;
//! here trained on Davidson's tweets, or on the synthetic comments when that file is missing),
//! because the bar holds with the model on.
//!
//! Prints a readable figure per corpus and one JSON line at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tavla::moderation::model::{self, Example, Model, Options};
use tavla::moderation::triage::Engine;

const SEED: u64 = 0x7472_6961_6765;
const BAR: f64 = 50_000.0;

/// splitmix64: tiny, seedable, and the same on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const SV_OPENERS: &[&str] = &[
    "Hej!",
    "Hej,",
    "Hallå",
    "Tjena,",
    "God morgon!",
    "Ursäkta,",
    "",
    "",
    "Tack för svar.",
];
const SV_BODIES: &[&str] = &[
    "När öppnar återvinningscentralen på lördag?",
    "Varför har soporna inte hämtats på Storgatan den här veckan?",
    "Hur ansöker jag om plats i förskolan till hösten?",
    "Det är en stor grop i vägen vid busshållplatsen på Kyrkvägen.",
    "Gatubelysningen på Björkvägen har varit trasig sedan i måndags.",
    "Går det att bada i sjön nu eller är det fortfarande algblomning?",
    "Var kan jag hämta sandsäckar inför översvämningen i helgen?",
    "Jag vill lämna synpunkter på den nya detaljplanen för hamnen.",
    "När kommer snöröjningen till vårt område? Det går inte att ta sig fram.",
    "Min mamma behöver hemtjänst. Vem ska jag kontakta på kommunen?",
    "Biblioteket hade fel öppettider på hemsidan i går, vi stod utanför i regnet.",
    "Parkeringstillståndet för rörelsehindrade har inte kommit, hur lång är handläggningstiden?",
    "Tack för snabb hjälp med bygglovet, ni är fantastiska!",
    "Cykelöverfarten vid skolan är livsfarlig, någon kommer att bli påkörd.",
    "Varför ska vaccinationen ske på vårdcentralen och inte på skolan?",
    "Simhallen är stängd igen. Hur länge till?",
];
const SV_ABUSE: &[&str] = &[
    "Ni är ena jävla idioter allihop.",
    "Vilken pundarjävel som skrev det här.",
    "Håll käften din 1d10t",
    "Kommunen är full av idiotpolitiker och puckon.",
    "Jag ska döda dig om du inte fixar det.",
    "Vi vet var du bor.",
    "Du kommer att få ångra dig.",
    "Muslimer är råttor och borde skjutas.",
    "Åk hem till ditt skitland.",
    "i d i o t e r",
    "Fy fan vilken fitta.",
    "Klicka här och vinn en iPhone: https://bit.ly/3xYz",
    "Dubbla dina pengar med bitcoin, kontakta mig på whatsapp",
    "Hennes personnummer är 811218-9876, ring henne på 070-123 45 67.",
    "Gå och häng dig.",
    "J4VL4 K0MMUN",
];
const EN_BODIES: &[&str] = &[
    "When is the library open on Sundays?",
    "The bus stop on Main Street has been broken for weeks.",
    "Thanks for fixing the street lights so quickly!",
    "How do I apply for a parking permit as a visitor?",
    "Is the beach safe for swimming after the algae bloom?",
    "Great event at the park yesterday, the kids loved it.",
    "Who do I contact about the noise from the construction site?",
    "Please add more bike racks near the station.",
];
const EN_ABUSE: &[&str] = &[
    "You are all fucking idiots.",
    "I will kill you if you don't fix this.",
    "Shut up you stupid bitch",
    "Go back to africa",
    "Click here to double your money: tinyurl.com/x",
    "kill yourself lol",
    "what a retard",
];
const TAILS: &[&str] = &[
    "",
    "",
    "",
    " 🙂",
    "!!",
    " Mvh Anna",
    " /Erik",
    " #kommunen",
    " 😡😡",
];

fn synthetic(n: usize) -> Vec<String> {
    synthetic_labelled(n).into_iter().map(|(t, _)| t).collect()
}

/// Synthetic comments and whether an abusive part was added.
fn synthetic_labelled(n: usize) -> Vec<(String, bool)> {
    let mut rng = Rng(SEED);
    (0..n)
        .map(|_| {
            let english = rng.chance(25);
            let abusive = rng.chance(15);
            let mut s = String::new();
            if english {
                s.push_str(rng.pick(EN_BODIES));
                if abusive {
                    s.push(' ');
                    s.push_str(rng.pick(EN_ABUSE));
                }
            } else {
                let opener = rng.pick(SV_OPENERS);
                if !opener.is_empty() {
                    s.push_str(opener);
                    s.push(' ');
                }
                s.push_str(rng.pick(SV_BODIES));
                if rng.chance(30) {
                    s.push(' ');
                    s.push_str(rng.pick(SV_BODIES));
                }
                if abusive {
                    s.push(' ');
                    s.push_str(rng.pick(SV_ABUSE));
                }
            }
            s.push_str(rng.pick(TAILS));
            (s, abusive)
        })
        .collect()
}

fn davidson() -> Option<Vec<(String, String)>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/moderation/davidson.tsv");
    let tsv = std::fs::read_to_string(path).ok()?;
    Some(
        tsv.lines()
            .skip(1)
            .filter_map(|l| {
                l.rsplit_once('\t')
                    .map(|(t, label)| (t.to_string(), label.to_string()))
            })
            .collect(),
    )
}

/// A model as `tavla moderation train` makes one: on Davidson's tweets (hate → hate, offensive
/// → insult), or on the synthetic comments.
fn trained_model(davidson: Option<&[(String, String)]>, n: usize) -> Model {
    let examples: Vec<Example> = match davidson {
        Some(rows) => rows
            .iter()
            .map(|(text, label)| Example {
                text: text.clone(),
                categories: match label.as_str() {
                    "hate" => vec!["hate".into()],
                    "offensive" => vec!["insult".into()],
                    _ => vec![],
                },
            })
            .collect(),
        None => synthetic_labelled(n.min(20_000))
            .into_iter()
            .map(|(text, abusive)| Example {
                text,
                categories: if abusive {
                    vec!["insult".into()]
                } else {
                    vec![]
                },
            })
            .collect(),
    };
    model::train(&examples, &Options::default()).expect("the model trains")
}

/// Triage the corpus over and over on this thread for `seconds`; messages per second.
fn measure(engine: &Engine, name: &str, texts: &[String], seconds: f64) -> Value {
    // Warm-up: caches, branch predictors, lazy allocations.
    let mut flagged = 0usize;
    for t in texts.iter().take(5_000) {
        flagged += usize::from(engine.triage(t).is_flagged());
    }
    black_box(flagged);
    let mut done = 0usize;
    let mut flagged = 0usize;
    let mut bytes = 0usize;
    let budget = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    'outer: loop {
        for t in texts {
            let r = engine.triage(black_box(t));
            flagged += usize::from(r.is_flagged());
            bytes += t.len();
            done += 1;
            if done.is_multiple_of(1024) && started.elapsed() >= budget {
                break 'outer;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = done as f64 / elapsed;
    let avg_chars =
        texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / texts.len().max(1) as f64;
    println!(
        "{name:<10} {rate:>10.0} messages/s on one core ({:.1} MB/s, {done} messages in {elapsed:.2} s, \
         {avg_chars:.0} chars on average, {:.1} % flagged) — bar > {BAR:.0}: {}",
        bytes as f64 / elapsed / 1e6,
        100.0 * flagged as f64 / done.max(1) as f64,
        if rate > BAR { "met" } else { "NOT met" }
    );
    json!({
        "messages_per_second": rate.round(),
        "messages": done,
        "seconds": elapsed,
        "avg_chars": avg_chars,
        "flagged_share": flagged as f64 / done.max(1) as f64,
        "meets_bar": rate > BAR,
    })
}

fn main() {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let started = Instant::now();
    let engine = Engine::built_in();
    println!(
        "triage benchmark: engine built in {:.1} ms; one thread",
        started.elapsed().as_secs_f64() * 1e3
    );
    let synthetic_texts = synthetic(n);
    let synthetic = measure(&engine, "synthetic", &synthetic_texts, seconds);
    let labelled = davidson();
    let davidson_texts: Option<Vec<String>> = labelled
        .as_ref()
        .map(|rows| rows.iter().map(|(t, _)| t.clone()).collect());
    let davidson = match &davidson_texts {
        Some(texts) => measure(&engine, "davidson", texts, seconds),
        None => {
            println!("davidson   skipped: ../shared/data/moderation/davidson.tsv not found");
            json!({"skipped": "davidson.tsv not found"})
        }
    };
    let started = Instant::now();
    let model = trained_model(labelled.as_deref(), n);
    println!(
        "with a model: version {}, {} categories, {} buckets, trained on {} examples in {:.1} s",
        model.version,
        model.classes().len(),
        model.buckets(),
        model.training().examples,
        started.elapsed().as_secs_f64()
    );
    let with_model = engine.clone().with_model(std::sync::Arc::new(model));
    let synthetic_model = measure(&with_model, "synth+model", &synthetic_texts, seconds);
    let davidson_model = match &davidson_texts {
        Some(texts) => measure(&with_model, "dav+model", texts, seconds),
        None => json!({"skipped": "davidson.tsv not found"}),
    };
    println!(
        "{}",
        json!({"bench": "triage", "bar_messages_per_second": BAR, "threads": 1,
               "synthetic": synthetic, "davidson": davidson,
               "synthetic_with_model": synthetic_model, "davidson_with_model": davidson_model})
    );
}
