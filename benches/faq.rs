//! FAQ clustering benchmark (DESIGN §6: assign one message < 1 ms; re-cluster 100,000 questions
//! < 10 s). Generates Swedish citizen questions with a seeded PRNG from templates (plus SweFAQ's
//! questions when ../shared/data/faq is present), re-clusters 100,000 of them, then times the
//! assignment of further messages one by one against that warm clusterer, and a consolidation.
//! Prints the figures and one JSON line. `FAQ_BENCH_N` changes the size.

use std::time::Instant;

use tavla::faq::cluster::{ClusterConfig, Clusterer, Row};

fn main() {
    let n: usize = std::env::var("FAQ_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut generator = Generator::new(0x7a71a, shared_questions());
    let history: Vec<(String, String)> = (0..n).map(|_| generator.question()).collect();
    let rows: Vec<Row<'_>> = history
        .iter()
        .enumerate()
        .map(|(i, (text, author))| Row {
            id: i as u64,
            text,
            time_ms: 1_700_000_000_000 + i as i64 * 60_000,
            author,
        })
        .collect();
    let config = ClusterConfig::default();

    let started = Instant::now();
    let mut clusterer = Clusterer::recluster_all(&rows, &config);
    let recluster_seconds = started.elapsed().as_secs_f64();
    println!(
        "re-cluster {n} questions: {recluster_seconds:.2} s ({} clusters, {} topics)",
        clusterer.cluster_count(),
        clusterer.topic_count()
    );

    let incoming: Vec<(String, String)> = (0..10_000).map(|_| generator.question()).collect();
    let mut micros: Vec<f64> = Vec::with_capacity(incoming.len());
    let mut new_clusters = 0;
    for (i, (text, author)) in incoming.iter().enumerate() {
        let id = (n + i) as u64;
        let time = 1_800_000_000_000 + i as i64 * 1_000;
        let started = Instant::now();
        let assignment = clusterer.assign(id, text, time, author);
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        new_clusters += assignment.new_cluster as usize;
    }
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize];
    let (p50, p99, max) = (pct(0.50), pct(0.99), pct(1.0));
    println!(
        "assign one message (warm, {} held): p50 {p50:.1} µs, p99 {p99:.1} µs, max {max:.1} µs; \
         {new_clusters} of {} started a cluster",
        clusterer.len(),
        micros.len()
    );

    let started = Instant::now();
    let consolidation = clusterer.consolidate();
    let consolidate_seconds = started.elapsed().as_secs_f64();
    println!(
        "consolidate: {consolidate_seconds:.2} s ({} merges, {} moved)",
        consolidation.merges.len(),
        consolidation.moved
    );

    let started = Instant::now();
    let state_bytes = serde_json::to_vec(&clusterer).map_or(0, |v| v.len());
    println!(
        "state as JSON: {:.1} MB in {:.2} s; peak resident memory {} MB",
        state_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        peak_rss_mb().map_or("unknown".to_string(), |mb| mb.to_string())
    );

    println!(
        "{}",
        serde_json::json!({
            "bench": "faq",
            "questions": n,
            "recluster_seconds": recluster_seconds,
            "assign_p50_us": p50,
            "assign_p99_us": p99,
            "assign_max_us": max,
            "consolidate_seconds": consolidate_seconds,
            "clusters": clusterer.cluster_count(),
            "topics": clusterer.topic_count(),
            "state_json_mb": state_bytes as f64 / 1e6,
            "peak_rss_mb": peak_rss_mb(),
        })
    );
}

/// Peak resident memory of this process (Linux), for the memory budget of DESIGN §6.
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// SweFAQ's questions, when the shared data is there: real authority phrasing among the
/// templates.
fn shared_questions() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/faq/swefaq_dev.tsv"
    );
    std::fs::read_to_string(path)
        .map(|tsv| {
            tsv.lines()
                .skip(1)
                .filter_map(|l| l.rsplit_once('\t').map(|(t, _)| t.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Swedish questions from templates: a service (definite and indefinite form) in a question
/// frame, with greetings, places, sign-offs and typos drawn by a seeded PRNG.
struct Generator {
    state: u64,
    shared: Vec<String>,
}

const SERVICES: &[(&str, &str)] = &[
    ("soptömningen", "soptömning"),
    ("bygglovet", "bygglov"),
    ("parkeringstillståndet", "parkeringstillstånd"),
    ("förskoleplatsen", "förskoleplats"),
    ("skolskjutsen", "skolskjuts"),
    ("biblioteket", "lånekort på biblioteket"),
    ("simhallen", "simskola"),
    ("återvinningscentralen", "grovsopshämtning"),
    ("snöröjningen", "snöröjning"),
    ("färdtjänsten", "färdtjänst"),
    ("hemtjänsten", "hemtjänst"),
    ("vattenledningen", "vattenavstängning"),
    ("laddstolpen", "elbilsladdning"),
    ("fiskekortet", "fiskekort"),
    ("eldningsförbudet", "eldningstillstånd"),
    ("badplatsen", "badplats"),
    ("hundrastgården", "hundrastgård"),
    ("lekplatsen", "lekplats"),
    ("gatubelysningen", "gatubelysning"),
    ("cykelbanan", "cykelparkering"),
    ("bostadsanpassningen", "bostadsanpassning"),
    ("försörjningsstödet", "försörjningsstöd"),
    ("fritidsgården", "fritidsgård"),
    ("kulturskolan", "plats i kulturskolan"),
    ("idrottshallen", "hallbokning"),
    ("ishallen", "allmänhetens åkning"),
    ("vigselförrättaren", "borgerlig vigsel"),
    ("skolmaten", "specialkost i skolan"),
    ("sommarjobben", "sommarjobb"),
    ("trädfällningen", "tillstånd för trädfällning"),
    ("medborgarkontoret", "hjälp med e-legitimation"),
    ("torghandeln", "torgplats"),
    ("matavfallet", "matavfallspåsar"),
    ("äldreboendet", "plats på äldreboende"),
    ("fritidshemmet", "fritidsplats"),
    ("bredbandet", "fiberanslutning"),
    ("nybyggnadskartan", "nybyggnadskarta"),
    ("strandstädningen", "strandstädning"),
    ("lovaktiviteterna", "lovaktiviteter"),
    ("kollektivtrafiken", "busskort för skolelever"),
];

/// The long tail: rarer subjects (in one form for both slots), so that the clusterer holds
/// thousands of clusters and the index has long and short posting lists, as in real life.
const TAIL: &[&str] = &[
    "asfaltering",
    "avloppsrensning",
    "badtunna",
    "bergvärme",
    "bilskrot",
    "bokbuss",
    "brandsyn",
    "brygga",
    "buller",
    "carport",
    "cirkulationsplats",
    "daglig verksamhet",
    "detaljplan",
    "dagvatten",
    "dödsbo",
    "eldstad",
    "enskild väg",
    "fasadändring",
    "fjärrvärme",
    "flaggning",
    "folkhälsa",
    "fontän",
    "fordonsuppställning",
    "friggebod",
    "fritidskort",
    "fyrverkerier",
    "färgsättning",
    "förhandsbesked",
    "gatukök",
    "gestaltning",
    "god man",
    "gravrätt",
    "grannehörande",
    "gångtunnel",
    "hemsjukvård",
    "hyresgästförening",
    "hästhållning",
    "hönshållning",
    "informationsskylt",
    "inglasning",
    "insamling",
    "kajak",
    "kamerabevakning",
    "klotter",
    "kompostering",
    "konsthall",
    "kontantstöd",
    "korttidsboende",
    "lantmäteri",
    "ledsagning",
    "lekotek",
    "lokalbokning",
    "luftkvalitet",
    "markanvisning",
    "marklov",
    "matdistribution",
    "mikrolån",
    "miljötillsyn",
    "motionsspår",
    "museum",
    "musikkår",
    "naturreservat",
    "nyttjanderätt",
    "offentlig toalett",
    "olovligt byggande",
    "parklek",
    "planbesked",
    "pooltillstånd",
    "rivningslov",
    "ridväg",
    "rivning",
    "räddningstjänst",
    "sandning",
    "servering",
    "skateboardpark",
    "skyddsrum",
    "slamtömning",
    "solceller",
    "spontanidrott",
    "stadsodling",
    "strandskydd",
    "studieförbund",
    "stängsel",
    "sotning",
    "taxa",
    "tillgänglighet",
    "trafikbuller",
    "trygghetsboende",
    "tomtgräns",
    "utegym",
    "uteservering",
    "vattenprov",
    "vattenmätare",
    "viltvård",
    "vindkraft",
    "värmepump",
    "växtlighet",
    "återbruk",
    "ödetomt",
    "överförmyndare",
];

const FRAMES: &[&str] = &[
    "När öppnar {def}?",
    "Vad kostar {indef}?",
    "Hur ansöker jag om {indef}?",
    "Var hittar jag information om {indef}?",
    "Vem ska jag kontakta om {def}?",
    "Varför är {def} stängd?",
    "Finns det {indef} i {place}?",
    "Hur lång är kön för {indef}?",
    "Kan jag överklaga beslutet om {indef}?",
    "Vilka regler gäller för {indef}?",
];

const GREETINGS: &[&str] = &[
    "",
    "",
    "Hej! ",
    "Hej, ",
    "Hejsan! ",
    "Hallå, ",
    "Hej kommunen! ",
];
const PLACES: &[&str] = &[
    "Centrum",
    "Norrby",
    "Söderby",
    "Västra hamnen",
    "Östermalm",
    "Åby",
    "Lillån",
    "Kvarnbyn",
];
const ENDINGS: &[&str] = &[
    "",
    "",
    "",
    " Tack på förhand!",
    " Mvh Anna",
    " Tacksam för svar.",
    " Jag bor i {place}.",
    " Ring mig på 070-123 45 67.",
];

impl Generator {
    fn new(seed: u64, shared: Vec<String>) -> Generator {
        Generator {
            state: seed,
            shared,
        }
    }

    /// splitmix64: tiny, seeded, the same on every machine.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[(self.next() % options.len() as u64) as usize]
    }

    /// A question and its author.
    fn question(&mut self) -> (String, String) {
        let body = if !self.shared.is_empty() && self.next().is_multiple_of(10) {
            let at = (self.next() % self.shared.len() as u64) as usize;
            self.shared[at].clone()
        } else if self.next().is_multiple_of(3) {
            // Half of the tail pairs two subjects: mostly one-off questions.
            let subject = match self.next() % 2 {
                0 => self.pick(TAIL).to_string(),
                _ => format!("{} och {}", self.pick(TAIL), self.pick(TAIL)),
            };
            self.pick(FRAMES)
                .replace("{def}", &subject)
                .replace("{indef}", &subject)
        } else {
            let (def, indef) = SERVICES[(self.next() % SERVICES.len() as u64) as usize];
            self.pick(FRAMES)
                .replace("{def}", def)
                .replace("{indef}", indef)
        };
        let greeting = self.pick(GREETINGS);
        let ending = self.pick(ENDINGS);
        let place = self.pick(PLACES);
        let text = format!("{greeting}{body}{ending}").replace("{place}", place);
        let text = self.typo(text);
        let author = format!("user{}", self.next() % 30_000);
        (text, author)
    }

    /// One in four messages gets a typo: a dropped letter, or å/ä/ö written without dots.
    fn typo(&mut self, text: String) -> String {
        match self.next() % 8 {
            0 => text.replace(['å', 'ä'], "a").replace('ö', "o"),
            1 => {
                let chars: Vec<char> = text.chars().collect();
                let at = (self.next() % chars.len().max(1) as u64) as usize;
                chars
                    .iter()
                    .enumerate()
                    .filter(|&(i, c)| i != at || !c.is_alphabetic())
                    .map(|(_, c)| *c)
                    .collect()
            }
            _ => text,
        }
    }
}
