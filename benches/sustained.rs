//! Sustained ingestion benchmark: `cargo bench --bench sustained`.
//!
//! DESIGN §6 asks that the ingest, log and memory figures hold over a million messages, not just
//! the first ten seconds: the last tenth at least 0.7× the first, SQLite's write-ahead log under
//! 1 GiB throughout, < 300 MB resident with 1,000,000 messages. So this starts the release
//! `tavla serve` as its own process (its resident memory is the service's alone), sends
//! TAVLA_BENCH_MESSAGES (default 1,000,000) generated Swedish messages through the signed Meta
//! webhook (TAVLA_BENCH_BATCH = 100 a POST, TAVLA_BENCH_SENDERS = 4 at once, a failed POST sent
//! again as Meta does), and prints per tenth: throughput, the log's size and peak, the database's
//! size, the service's resident memory, and its CPU and bytes written to disk per message. Then
//! it uses search and the FAQ view as staff would, measures memory again, optionally keeps a
//! steady load (TAVLA_BENCH_STEADY_SECONDS at TAVLA_BENCH_STEADY_RATE messages/s) sampling memory
//! each minute, kills the service with SIGKILL and counts the rows: every acknowledged message
//! must be there.
//! TAVLA_BENCH_KEEP=1 keeps the database and the service's log for a look afterwards.
//! TAVLA_BENCH_MEMORY_LIMIT_MIB=N runs the service in a memory cgroup of N MiB (as a container
//! with a memory limit would; needs a writable /sys/fs/cgroup, v1 or v2) and reports the cgroup's
//! peak, how often it reached the limit and whether the kernel killed the service for memory.
//! TAVLA_BENCH_ENGINE=postgres runs the same on a fresh PostgreSQL database
//! (TAVLA_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).

mod common;
use common::{drop_postgres, fresh_postgres, Rng};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

const SECRET: &str = "bench-app-secret";
const PAGE_ID: &str = "104857600123456";
const SEED: u64 = 0x0073_7573_7461_696e;
/// People who write direct messages; a few write most (skewed).
const DM_PEOPLE: u64 = 200_000;
/// People who comment under the page's posts.
const COMMENTERS: u64 = 300_000;
/// A new post every this many comments; comments go mostly to the newest posts.
const COMMENTS_PER_POST: u64 = 400;
/// The word in the very last message, searched for until the index has caught up.
const LAST_WORD: &str = "slutmarkeringsord";

struct Config {
    messages: u64,
    batch: u64,
    senders: usize,
    engine: String,
    steady_seconds: u64,
    steady_rate: u64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        Config {
            messages: env_u64("TAVLA_BENCH_MESSAGES", 1_000_000).max(1),
            batch: env_u64("TAVLA_BENCH_BATCH", 100).max(1),
            senders: env_u64("TAVLA_BENCH_SENDERS", 4).max(1) as usize,
            engine: std::env::var("TAVLA_BENCH_ENGINE").unwrap_or_else(|_| "sqlite".into()),
            steady_seconds: env_u64("TAVLA_BENCH_STEADY_SECONDS", 0),
            steady_rate: env_u64("TAVLA_BENCH_STEADY_RATE", 1000).max(1),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus: what people write to a Swedish municipality, as templates. `{a|b}` picks one
// alternative; `$street`, `$area`, `$name`, `$num`, `$day` fill in a slot.

const QUESTIONS: &[&str] = &[
    "{När|Vilken dag} {töms|hämtas} {soporna|sopkärlen|matavfallet} på $street?",
    "Varför har {soporna|sopkärlet} inte {tömts|hämtats} på {två veckor|en månad} i $area?",
    "Var ligger närmaste {återvinningscentral|återvinningsstation} och när öppnar den $day?",
    "Hur {ansöker|söker} jag {parkeringstillstånd|boendeparkering} i $area?",
    "Varför har {parkeringsavgiften|avgiften för boendeparkering} höjts {igen|så mycket}?",
    "Hur lång är {förskolekön|kön till förskolan} i $area {just nu|i höst}?",
    "När börjar {inskolningen|skolan} efter {sommarlovet|jullovet|sportlovet}?",
    "Vilka är {öppettiderna|öppettider} för {biblioteket|simhallen|badhuset} $day?",
    "Hur får jag ett nytt {lånekort|parkeringskort|busskort} om jag har {tappat|glömt} det?",
    "När kommer {snöröjningen|plogbilen} till $street?",
    "Hur lång är {handläggningstiden|handläggningstid} för {bygglov|bygglovet} {just nu|i år}?",
    "Behöver jag {bygglov|anmäla} för {attefallshus|friggebod|carport|altan} på $street $num?",
    "Var kan man {vaccinera sig|få influensavaccin} i $area?",
    "Är {vaccinationen|simskolan|busskortet} gratis för {pensionärer|barn|studenter}?",
    "När börjar {simskolan|vattengympan} {i höst|i vår}? Finns det platser kvar?",
    "Kan ni {måla|markera} {cykelöverfarten|övergångsstället} vid $street {tydligare|igen}?",
    "Vem ska jag kontakta om {hemtjänst|färdtjänst|bostadsanpassning} för min {mamma|pappa}?",
    "Går det att bada i {sjön|Stora dammen|havsbadet} nu eller är det {algblomning|för kallt}?",
    "Var kan jag hämta {sandsäckar|kompostjord|ved} inför {helgen|översvämningen}?",
    "Hur gör jag för att {överklaga|anmäla} ett beslut om {bygglov|skolskjuts|förskoleplats}?",
];
const STATEMENTS: &[&str] = &[
    "Gatubelysningen på $street har varit trasig sedan $day.",
    "Det är en stor grop i vägen vid busshållplatsen på $street.",
    "Tack för {snabb hjälp|bra svar|hjälpen} med {bygglovet|ansökan|lånekortet}, ni är {fantastiska|bäst}!",
    "{Trottoaren|Cykelvägen} på $street är {spegelblank|livsfarlig}, ni måste sanda {nu|i dag}.",
    "Skolbussen till $area kom inte {i morse|i dag|$day}, barnen fick vänta i kylan.",
    "{Grannen|Grannarna} bygger {ett plank|ett garage} utan bygglov på $street $num.",
    "Jag vill lämna synpunkter på den nya detaljplanen för $area.",
    "Biblioteket hade fel öppettider på hemsidan $day, vi stod utanför i regnet.",
    "{Slöseri|Rent slöseri} med {skattepengar|våra pengar}, {skärpning|avgå} {nu|direkt}!",
    "Någon har {parkerat|ställt en släpvagn} på {cykelbanan|trottoaren} på $street {varje dag|sedan $day}.",
];
const REPLIES: &[&str] = &[
    "Hej $name! Tack för ditt meddelande. Vi har skickat frågan vidare till {samhällsbyggnad|utbildningsförvaltningen|tekniska förvaltningen}.",
    "Hej! Du hittar mer information på https://kommunen.se/{sophamtning|bygglov|forskola}. Hör av dig igen om du har fler frågor.",
    "Tack för att du hör av dig, $name. Vi återkommer {så snart vi kan|inom tre arbetsdagar}.",
];
const FILLERS: &[&str] = &[
    "Jag har ringt {flera gånger|tre gånger} utan att få svar.",
    "Det står ingenting på hemsidan.",
    "{Mina grannar|Flera i området} undrar samma sak.",
    "Jag bor på $street $num i $area.",
    "Tack på förhand! /$name",
];
const SLOTS: &[(&str, &str)] = &[
    (
        "street",
        "{Björk|Ek|Lind|Tall|Gran|Rönn|Asp|Lönn|Sjö|Kyrk|Skol|Stor|Norr|Söder|Kvarn|Hamn|Ängs|Berg|Sol|Ros}\
         {vägen|gatan|stigen|backen|allén|torget}",
    ),
    (
        "area",
        "{Norrby|Söderby|centrum|Hamnen|Östermalm|Ekbacken|Lindhem|Tallåsen|Sjöstaden|Kvarnbyn|Solhem}",
    ),
    (
        "name",
        "{Anna|Erik|Maria|Lars|Karin|Anders|Eva|Johan|Lena|Per|Sara|Ali|Fatima|Oskar|Elin|Ahmed}",
    ),
    (
        "day",
        "{i måndags|på lördag|på söndag|i helgen|i går|på fredag}",
    ),
];

fn expand(template: &str, r: &mut Rng, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '$']) {
        out.push_str(&rest[..i]);
        let end = if rest[i..].starts_with('{') {
            i + rest[i..].find('}').expect("closed alternatives") + 1
        } else {
            rest[i + 1..]
                .find(|c: char| !c.is_ascii_alphabetic())
                .map_or(rest.len(), |e| i + 1 + e)
        };
        let inner = &rest[i + 1..end];
        if rest[i..].starts_with('{') {
            let alternatives: Vec<&str> = inner.trim_end_matches('}').split('|').collect();
            let chosen = alternatives[r.below(alternatives.len() as u64) as usize];
            expand(chosen, r, out);
        } else if inner == "num" {
            out.push_str(&(1 + r.skewed(200, 2.0)).to_string());
        } else if let Some((_, t)) = SLOTS.iter().find(|(name, _)| *name == inner) {
            expand(t, r, out);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
}

/// The text of message `i`: a question (most), a statement, sometimes with a filler sentence.
fn text(r: &mut Rng) -> String {
    let mut out = String::new();
    if r.chance(0.3) {
        out.push_str(["Hej! ", "Hej kommunen! ", "Hallå! "][r.below(3) as usize]);
    }
    let templates = if r.chance(0.7) { QUESTIONS } else { STATEMENTS };
    expand(r.pick(templates), r, &mut out);
    if r.chance(0.35) {
        out.push(' ');
        expand(r.pick(FILLERS), r, &mut out);
    }
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// Delivery `b` (messages `b*n .. (b+1)*n`): direct messages in one entry's `messaging`, comments
/// (a tenth of them the page's own replies, a few edits of earlier comments) in its `changes`.
/// Returns the signed body and how many new messages it carries (edits are not new).
fn delivery(b: u64, n: u64, last: bool) -> (Vec<u8>, String, u64) {
    let now = now_ms();
    let (mut messaging, mut changes, mut new) = (Vec::new(), Vec::new(), 0);
    for i in b * n..(b + 1) * n {
        let mut r = Rng(SEED ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let mut words = text(&mut r);
        let very_last = last && i == (b + 1) * n - 1;
        if very_last {
            words.push_str(&format!(" Har någon svar? {LAST_WORD}"));
        }
        if r.chance(0.4) && !very_last {
            let person = 7_000_000_000 + r.skewed(DM_PEOPLE, 3.0);
            messaging.push(json!({
                "sender": {"id": person.to_string()}, "recipient": {"id": PAGE_ID},
                "timestamp": now, "message": {"mid": format!("m_{i}"), "text": words}
            }));
            new += 1;
            continue;
        }
        // Comments under the newest posts, mostly; the page answers some of them.
        let newest = i / COMMENTS_PER_POST;
        let mut post = newest.saturating_sub(r.skewed(20, 2.0));
        let edit = b > 2_000 && r.chance(0.01) && !very_last;
        let (comment, verb) = if edit {
            // A comment from well before (acknowledged long ago) edited by its author.
            let earlier = r.below((b - 1_000) * n);
            match added_comment(earlier, n) {
                // The edit names the comment under the post it was written under.
                Some(its_post) => post = its_post,
                // That message was a DM or an edit itself: the comment is new to the service
                // (Meta may send an edit of a comment tavla never saw; it is stored).
                None => new += 1,
            }
            (earlier, "edited")
        } else {
            new += 1;
            (i, "add")
        };
        let page_reply = !edit && r.chance(0.1) && !very_last;
        let from = if page_reply {
            json!({"id": PAGE_ID, "name": "Kommunen"})
        } else {
            let person = 8_000_000_000 + r.skewed(COMMENTERS, 2.5);
            json!({"id": person.to_string(), "name": format!("Person {person}")})
        };
        let message = if page_reply {
            let mut reply = String::new();
            expand(r.pick(REPLIES), &mut r, &mut reply);
            reply
        } else {
            words
        };
        changes.push(json!({"field": "feed", "value": {
            "item": "comment", "verb": verb,
            "comment_id": format!("{PAGE_ID}_{post}_{comment}"),
            "post_id": format!("{PAGE_ID}_{post}"), "parent_id": format!("{PAGE_ID}_{post}"),
            "from": from, "created_time": now / 1000, "message": message,
        }}));
    }
    let mut entry = json!({"id": PAGE_ID, "time": now});
    if !messaging.is_empty() {
        entry["messaging"] = Value::Array(messaging);
    }
    if !changes.is_empty() {
        entry["changes"] = Value::Array(changes);
    }
    let body = serde_json::to_vec(&json!({"object": "page", "entry": [entry]})).expect("JSON");
    let signature = tavla::ingest::signature::sign(SECRET.as_bytes(), &body);
    (body, signature, new)
}

/// Whether message `i` of the corpus was sent as a new comment (not a DM, not an edit): the same
/// draws from its generator, in the same order, as `delivery` makes.
/// Returns the post it was sent under.
fn added_comment(i: u64, n: u64) -> Option<u64> {
    let mut r = Rng(SEED ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let _ = text(&mut r);
    if r.chance(0.4) {
        return None;
    }
    let post = (i / COMMENTS_PER_POST).saturating_sub(r.skewed(20, 2.0));
    let edit = i / n > 2_000 && r.chance(0.01);
    (!edit).then_some(post)
}

// ---------------------------------------------------------------------------------------------
// The service as its own process.

struct Service {
    child: Child,
    base: String,
    env: Vec<(String, String)>,
    database: Database,
    limit: Option<MemoryLimit>,
}

/// A memory cgroup the service runs in (TAVLA_BENCH_MEMORY_LIMIT_MIB). Page cache the service
/// touches (the database pages it writes, the index's mapped files) is charged to it and
/// reclaimed from it at the limit; the service's own memory cannot be reclaimed, so a service
/// that needed more than the limit would be killed by the kernel (`oom_kills`).
struct MemoryLimit {
    dir: PathBuf,
    v2: bool,
    mib: u64,
}

impl MemoryLimit {
    fn from_env() -> anyhow::Result<Option<MemoryLimit>> {
        let mib = env_u64("TAVLA_BENCH_MEMORY_LIMIT_MIB", 0);
        if mib == 0 {
            return Ok(None);
        }
        let name = format!("tavla-bench-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let (dir, v2) = if v1.join("memory.limit_in_bytes").exists() {
            (v1.join(name), false)
        } else {
            (Path::new("/sys/fs/cgroup").join(name), true)
        };
        let limit_file = if v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join(limit_file), (mib << 20).to_string()))
            .map_err(|e| {
                anyhow::anyhow!(
                    "TAVLA_BENCH_MEMORY_LIMIT_MIB needs a memory cgroup it can create ({}): {e}",
                    dir.display()
                )
            })?;
        Ok(Some(MemoryLimit { dir, v2, mib }))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    /// A `name value` line's value in one of the cgroup's files.
    fn field(&self, file: &str, name: &str) -> u64 {
        self.read(file)
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The cgroup's peak use (MiB), how often its use reached the limit, and the kills for memory.
    fn report(&self) -> (u64, u64, u64) {
        let number = |file: &str| self.read(file).trim().parse::<u64>().unwrap_or(0);
        if self.v2 {
            (
                number("memory.peak") >> 20,
                self.field("memory.events", "max "),
                self.field("memory.events", "oom_kill "),
            )
        } else {
            (
                number("memory.max_usage_in_bytes") >> 20,
                number("memory.failcnt"),
                self.field("memory.oom_control", "oom_kill "),
            )
        }
    }
}

impl Drop for MemoryLimit {
    fn drop(&mut self) {
        // Empty once the service is gone (it was killed and waited for before this).
        let _ = std::fs::remove_dir(&self.dir);
    }
}

enum Database {
    Sqlite(PathBuf),
    Postgres {
        admin: String,
        name: String,
        url: String,
    },
}

impl Database {
    fn url(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres { url, .. } => url.clone(),
        }
    }
}

/// The service's binary: the release build of this tree, or TAVLA_BENCH_BIN (to measure another
/// build, e.g. the one before a change, with the same load).
fn binary() -> PathBuf {
    std::env::var_os("TAVLA_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tavla")))
}

fn tavla(env: &[(String, String)], args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!(
            "tavla {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Prepares the store (schema, the page, a communicator with a token) and starts `tavla serve`.
async fn start(database: Database, dir: &Path) -> anyhow::Result<(Service, String)> {
    let port = free_port()?;
    let env: Vec<(String, String)> = [
        ("TAVLA_DATABASE_URL", database.url()),
        ("TAVLA_DATA_DIR", dir.join("data").display().to_string()),
        ("TAVLA_LISTEN", format!("127.0.0.1:{port}")),
        ("TAVLA_META_APP_SECRET", SECRET.into()),
        ("TAVLA_LOG_FORMAT", "json".into()),
        (
            "TAVLA_LOG_LEVEL",
            std::env::var("TAVLA_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    tavla(&env, &["migrate"], None)?;
    tavla(
        &env,
        &[
            "channel",
            "add",
            "--platform",
            "facebook",
            "--platform-id",
            PAGE_ID,
            "--name",
            "Kommunen",
        ],
        None,
    )?;
    tavla(
        &env,
        &[
            "staff",
            "add",
            "--username",
            "kommunikator",
            "--role",
            "communicator",
            "--password-stdin",
        ],
        Some("ett-långt-lösenord-för-bänken\n"),
    )?;
    tavla(
        &env,
        &["training", "grant", "--username", "kommunikator", "--all"],
        None,
    )?;
    let token = tavla(
        &env,
        &["token", "create", "--username", "kommunikator"],
        None,
    )?;
    let log = std::fs::File::create(dir.join("service.log"))?;
    let limit = MemoryLimit::from_env()?;
    let mut command = match &limit {
        // The shell joins the cgroup and then becomes the service (same process id), so all
        // the service ever uses is counted there from its first allocation.
        Some(limit) => {
            let mut c = Command::new("sh");
            c.args(["-c", "echo $$ > \"$0\" && exec \"$1\" serve"])
                .arg(limit.dir.join("cgroup.procs"))
                .arg(binary());
            c
        }
        None => {
            let mut c = Command::new(binary());
            c.arg("serve");
            c
        }
    };
    let child = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let service = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
        env,
        database,
        limit,
    };
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{}/healthz", service.base)).send().await {
            if r.status().is_success() {
                return Ok((service, token));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(dir.join("service.log")).unwrap_or_default();
    anyhow::bail!("the service did not answer within 60 s; its log:\n{log}")
}

// ---------------------------------------------------------------------------------------------
// What is sampled: the service's memory, the database's files.

#[derive(Default, Clone, Copy)]
struct Memory {
    rss_kib: u64,
    anon_kib: u64,
    file_kib: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        anon_kib: field("RssAnon:"),
        file_kib: field("RssFile:") + field("RssShmem:"),
    }
}

/// CPU seconds the service has used (user and system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    common::cpu_seconds_in(&format!("/proc/{pid}/stat"))
}

/// Bytes the process has caused to be written to storage, from /proc (the log's frames, the
/// checkpoints' pages and the index's segments): what each message costs the disk.
fn written_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Samples the log's size every 100 ms (its peak between tenths would otherwise be missed) and
/// the service's memory, keeping the peaks.
struct Sampler {
    wal_peak: AtomicU64,
    rss_peak: AtomicU64,
    /// The service's own memory (anonymous pages), without the files it maps.
    anon_peak: AtomicU64,
    stop: AtomicBool,
}

impl Sampler {
    fn run(self: Arc<Self>, wal: Option<PathBuf>, pid: u32) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            while !self.stop.load(Ordering::Relaxed) {
                if let Some(wal) = &wal {
                    self.wal_peak.fetch_max(file_size(wal), Ordering::Relaxed);
                }
                let m = memory(pid);
                self.rss_peak.fetch_max(m.rss_kib, Ordering::Relaxed);
                self.anon_peak.fetch_max(m.anon_kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    }
}

async fn database_bytes(service: &Service, pool: &Option<sqlx::AnyPool>) -> u64 {
    match (&service.database, pool) {
        (Database::Sqlite(path), _) => file_size(path),
        (Database::Postgres { name, .. }, Some(pool)) => {
            sqlx::query_scalar::<_, i64>(&format!("select pg_database_size('{name}')"))
                .fetch_one(pool)
                .await
                .unwrap_or(0) as u64
        }
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Sending.

/// Posts delivery `b` until it is acknowledged (Meta redelivers what was not). Returns the new
/// messages it carried and how many attempts failed.
async fn send(client: &reqwest::Client, url: &str, b: u64, n: u64, last: bool) -> (u64, u64) {
    let (body, signature, new) = delivery(b, n, last);
    let mut failed = 0;
    loop {
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signature)
            .body(body.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status() == 200 => {
                let _ = r.bytes().await;
                return (new, failed);
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                if failed < 3 {
                    eprintln!("  delivery {b}: {status}: {text}");
                }
            }
            Err(e) => {
                if failed < 3 {
                    eprintln!("  delivery {b}: {e}");
                }
            }
        }
        failed += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Progress {
    next: AtomicU64,
    acked_deliveries: AtomicU64,
    new_messages: AtomicU64,
    failed: AtomicU64,
}

/// Sends deliveries `first..end` from `senders` tasks at once, as fast as they are acknowledged.
fn senders(
    client: &reqwest::Client,
    url: &str,
    progress: &Arc<Progress>,
    senders: usize,
    end: u64,
    n: u64,
    last: u64,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..senders)
        .map(|_| {
            let (client, url, progress) = (client.clone(), url.to_string(), progress.clone());
            tokio::spawn(async move {
                loop {
                    let b = progress.next.fetch_add(1, Ordering::Relaxed);
                    if b >= end {
                        return;
                    }
                    let (new, failed) = send(&client, &url, b, n, b == last).await;
                    progress.new_messages.fetch_add(new, Ordering::Relaxed);
                    progress.failed.fetch_add(failed, Ordering::Relaxed);
                    progress.acked_deliveries.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Staff use: search and the FAQ view.

async fn staff_get(client: &reqwest::Client, service: &Service, token: &str, path: &str) -> Value {
    match client
        .get(format!("{}{path}", service.base))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                eprintln!("  GET {path}: {status}: {body}");
            }
            body
        }
        Err(e) => {
            eprintln!("  GET {path}: {e}");
            Value::Null
        }
    }
}

/// Waits until the last message is searchable, then searches and reads the FAQ view as a
/// communicator would. Returns the seconds the index needed to catch up.
async fn use_views(client: &reqwest::Client, service: &Service, token: &str) -> f64 {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1800) {
        let found = staff_get(
            client,
            service,
            token,
            &format!("/api/v1/search?q={LAST_WORD}"),
        )
        .await;
        if found["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let caught_up = started.elapsed().as_secs_f64();
    for q in [
        "soporna",
        "parkeringstillstånd",
        "förskolekön",
        "bygglov",
        "snöröjningen",
        "oppettider",
        "simskolan",
        "hemtjänst",
        "sandsäckar",
        "cykelöverfarten",
        "bygglov handläggningstid",
        "återvinningscentral",
    ] {
        staff_get(
            client,
            service,
            token,
            &format!("/api/v1/search?q={q}&limit=20"),
        )
        .await;
    }
    let mut faq = Vec::new();
    for period in ["day", "week", "month", "quarter"] {
        let asked = Instant::now();
        staff_get(
            client,
            service,
            token,
            &format!("/api/v1/faq/clusters?period={period}"),
        )
        .await;
        faq.push(format!("{period} {:.2}", asked.elapsed().as_secs_f64()));
    }
    println!("  FAQ views (s): {}", faq.join(", "));
    staff_get(client, service, token, "/api/v1/conversations?limit=50").await;
    caught_up
}

// ---------------------------------------------------------------------------------------------

async fn run(config: &Config, database: Database, dir: &Path) -> anyhow::Result<Value> {
    let (mut service, token) = start(database, dir).await?;
    let pid = service.child.id();
    let (wal, db_file) = match &service.database {
        Database::Sqlite(path) => (
            Some(PathBuf::from(format!("{}-wal", path.display()))),
            Some(path.clone()),
        ),
        Database::Postgres { .. } => (None, None),
    };
    let pg_pool = match &service.database {
        Database::Postgres { admin, .. } => Some(sqlx::AnyPool::connect(admin).await?),
        Database::Sqlite(_) => None,
    };
    let sampler = Arc::new(Sampler {
        wal_peak: AtomicU64::new(0),
        rss_peak: AtomicU64::new(0),
        anon_peak: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let sampling = sampler.clone().run(wal.clone(), pid);
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(120))
        .build()?;
    let url = format!("{}/webhooks/meta", service.base);
    let deliveries = config.messages.div_ceil(config.batch);
    let progress = Arc::new(Progress {
        next: AtomicU64::new(0),
        acked_deliveries: AtomicU64::new(0),
        new_messages: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });

    println!(
        "{:>6} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>12}",
        "tenth",
        "messages",
        "seconds",
        "msg/s",
        "WAL MiB",
        "WAL peak",
        "DB MiB",
        "RSS MiB",
        "anon MiB",
        "CPU µs/msg",
        "disk KiB/msg"
    );
    let started = Instant::now();
    let tasks = senders(
        &client,
        &url,
        &progress,
        config.senders,
        deliveries,
        config.batch,
        deliveries - 1,
    );
    let mut tenths = Vec::new();
    let (mut last_at, mut last_acked, mut last_cpu) = (Duration::ZERO, 0u64, cpu_seconds(pid));
    let mut last_written = written_bytes(pid);
    for tenth in 1..=10u64 {
        let goal = deliveries * tenth / 10;
        while progress.acked_deliveries.load(Ordering::Relaxed) < goal {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let at = started.elapsed();
        let acked = progress.acked_deliveries.load(Ordering::Relaxed) * config.batch;
        let rate = (acked - last_acked) as f64 / (at - last_at).as_secs_f64();
        let wal_now = wal.as_deref().map(file_size).unwrap_or(0);
        let db = database_bytes(&service, &pg_pool).await;
        let m = memory(pid);
        let cpu = cpu_seconds(pid);
        let cpu_us = (cpu - last_cpu) * 1e6 / (acked - last_acked).max(1) as f64;
        let written = written_bytes(pid);
        let disk_kib = written.saturating_sub(last_written) as f64
            / 1024.0
            / (acked - last_acked).max(1) as f64;
        println!(
            "{tenth:>6} {acked:>10} {:>8.1} {rate:>9.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {cpu_us:>10.0} {disk_kib:>12.1}",
            at.as_secs_f64(),
            mib(wal_now),
            mib(sampler.wal_peak.load(Ordering::Relaxed)),
            mib(db),
            m.rss_kib as f64 / 1024.0,
            m.anon_kib as f64 / 1024.0,
        );
        tenths.push(json!({
            "tenth": tenth, "messages": acked, "seconds": at.as_secs_f64(), "msg_s": rate.round(),
            "wal_mib": mib(wal_now), "wal_peak_mib": mib(sampler.wal_peak.load(Ordering::Relaxed)),
            "db_mib": mib(db), "rss_mib": m.rss_kib / 1024, "rss_anon_mib": m.anon_kib / 1024,
            "rss_file_mib": m.file_kib / 1024, "service_cpu_us_per_msg": cpu_us.round(),
            "disk_kib_per_msg": (disk_kib * 10.0).round() / 10.0,
        }));
        (last_at, last_acked, last_cpu, last_written) = (at, acked, cpu, written);
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after_ingest = memory(pid);

    let index_seconds = use_views(&client, &service, &token).await;
    let after_views = memory(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let settled = memory(pid);
    println!(
        "\nafter ingest: RSS {} MiB (anon {}, file {}); the index caught up {index_seconds:.1} s after the last acknowledgement",
        after_ingest.rss_kib / 1024, after_ingest.anon_kib / 1024, after_ingest.file_kib / 1024
    );
    println!(
        "after search and FAQ views: RSS {} MiB (anon {}, file {}); 10 s later {} MiB (anon {})",
        after_views.rss_kib / 1024,
        after_views.anon_kib / 1024,
        after_views.file_kib / 1024,
        settled.rss_kib / 1024,
        settled.anon_kib / 1024
    );

    // The bar is for a million messages; the steady load that may follow adds more.
    let peak_at_million = (
        sampler.rss_peak.load(Ordering::Relaxed) / 1024,
        sampler.anon_peak.load(Ordering::Relaxed) / 1024,
    );
    println!(
        "peak up to here (all the messages in, then search and the FAQ views): RSS {} MiB, anonymous {} MiB",
        peak_at_million.0, peak_at_million.1
    );
    let steady = steady_load(
        config, &client, &url, &service, &token, &progress, pid, deliveries,
    )
    .await;
    let sent = progress.new_messages.load(Ordering::Relaxed);

    // Acknowledged means durable: kill the service without warning and count.
    sampler.stop.store(true, Ordering::Relaxed);
    let _ = sampling.join();
    service.child.kill()?;
    service.child.wait()?;
    let url = service.database.url();
    let pool = sqlx::AnyPool::connect(&url).await?;
    let rows: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    let durable = rows as u64 == sent;
    let wal_peak = sampler.wal_peak.load(Ordering::Relaxed);
    let first = tenths[0]["msg_s"].as_f64().unwrap_or(0.0);
    let tenth = tenths[9]["msg_s"].as_f64().unwrap_or(0.0);
    println!(
        "\n{} messages acknowledged in {elapsed:.1} s: {:.0} msg/s over the whole run; last tenth {:.2}× the first (DESIGN: ≥ 0.7)",
        deliveries * config.batch,
        (deliveries * config.batch) as f64 / elapsed,
        tenth / first.max(1.0)
    );
    println!(
        "WAL peak {:.1} MiB (DESIGN: < 1 GiB); RSS peak {} MiB (anonymous {}); {} POSTs failed and were sent again",
        mib(wal_peak),
        sampler.rss_peak.load(Ordering::Relaxed) / 1024,
        sampler.anon_peak.load(Ordering::Relaxed) / 1024,
        progress.failed.load(Ordering::Relaxed)
    );
    let cgroup = service.limit.as_ref().map(|limit| {
        let (peak, at_limit, oom_kills) = limit.report();
        println!(
            "memory cgroup of {} MiB: peak {peak} MiB (the service's memory and the page cache charged to it), the limit reached {at_limit} times (page cache reclaimed), {oom_kills} kills for memory",
            limit.mib
        );
        json!({"limit_mib": limit.mib, "peak_mib": peak, "limit_reached": at_limit, "oom_kills": oom_kills})
    });
    println!(
        "after SIGKILL: {rows} message rows, {sent} new messages acknowledged: {}",
        if durable {
            "nothing acknowledged lost"
        } else {
            "MISMATCH"
        }
    );
    if let Database::Postgres { admin, name, .. } = &service.database {
        drop_postgres(admin, name).await;
    }
    let _ = db_file;
    let _ = &service.env;
    Ok(json!({
        "bench": "sustained", "engine": config.engine, "messages": deliveries * config.batch,
        "per_post": config.batch, "senders": config.senders, "seconds": elapsed,
        "msg_s": ((deliveries * config.batch) as f64 / elapsed).round(), "tenths": tenths,
        "wal_peak_mib": mib(wal_peak), "rss_peak_mib": sampler.rss_peak.load(Ordering::Relaxed) / 1024,
        "rss_anon_peak_mib": sampler.anon_peak.load(Ordering::Relaxed) / 1024,
        "rss_peak_at_million_mib": peak_at_million.0, "rss_anon_peak_at_million_mib": peak_at_million.1,
        "memory_cgroup": cgroup,
        "rss_after_ingest_mib": after_ingest.rss_kib / 1024,
        "rss_after_views_mib": after_views.rss_kib / 1024,
        "rss_anon_after_views_mib": after_views.anon_kib / 1024,
        "index_caught_up_seconds": index_seconds, "steady": steady,
        "failed_posts": progress.failed.load(Ordering::Relaxed),
        "rows_after_kill": rows, "acknowledged_new": sent, "durable": durable,
    }))
}

/// TAVLA_BENCH_STEADY_SECONDS of deliveries at TAVLA_BENCH_STEADY_RATE messages/s, the service's
/// memory sampled each minute (and search and FAQ used each minute, as staff would).
#[allow(clippy::too_many_arguments)]
async fn steady_load(
    config: &Config,
    client: &reqwest::Client,
    url: &str,
    service: &Service,
    token: &str,
    progress: &Arc<Progress>,
    pid: u32,
    first: u64,
) -> Value {
    if config.steady_seconds == 0 {
        return Value::Null;
    }
    println!(
        "\nsteady load: {} msg/s for {} s",
        config.steady_rate, config.steady_seconds
    );
    let interval = Duration::from_secs_f64(config.batch as f64 / config.steady_rate as f64);
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut b = first;
    while started.elapsed() < Duration::from_secs(config.steady_seconds) {
        if started.elapsed() >= next_sample {
            use_views(client, service, token).await;
            let m = memory(pid);
            println!(
                "  {:>5.0} s: RSS {} MiB (anon {})",
                started.elapsed().as_secs_f64(),
                m.rss_kib / 1024,
                m.anon_kib / 1024
            );
            samples.push(json!({"seconds": started.elapsed().as_secs(), "rss_mib": m.rss_kib / 1024, "anon_mib": m.anon_kib / 1024}));
            next_sample += Duration::from_secs(60);
        }
        let due = started + interval.mul_f64((b - first) as f64);
        tokio::time::sleep_until(due.into()).await;
        let (new, failed) = send(client, url, b, config.batch, false).await;
        progress.new_messages.fetch_add(new, Ordering::Relaxed);
        progress.failed.fetch_add(failed, Ordering::Relaxed);
        b += 1;
    }
    Value::Array(samples)
}

fn main() -> anyhow::Result<()> {
    let config = Config::from_env();
    sqlx::any::install_default_drivers();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        println!(
            "tavla sustained ingestion ({}): {} messages, {} a POST, {} senders, {cores} cores, load {}",
            config.engine, config.messages, config.batch, config.senders, load_average()
        );
        let dir = tempfile::tempdir()?;
        let database = match config.engine.as_str() {
            "postgres" => {
                let (admin, name, url) = fresh_postgres().await.map_err(anyhow::Error::msg)?;
                Database::Postgres { admin, name, url }
            }
            _ => Database::Sqlite(dir.path().join("tavla.db")),
        };
        let result = run(&config, database, dir.path()).await?;
        println!("load at the end: {}", load_average());
        if std::env::var_os("TAVLA_BENCH_KEEP").is_some() {
            println!("kept: {}", dir.keep().display());
        }
        println!("{result}");
        Ok::<_, anyhow::Error>(())
    })
}
