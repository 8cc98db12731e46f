//! Swedish demo data for a newcomer's first run: a few channels, DM conversations, comments under
//! posts, recurring questions and a heated thread. Goes through the same ingestion as everything else.
//! With the data, one trained account per working role, so a first look needs no set-up.

use anyhow::bail;
use serde_json::json;

use crate::ingest::{normalised, Ingestor};
use crate::model::Platform;
use crate::settings::Settings;
use crate::store::audit::Actor;
use crate::store::channels::NewChannel;
use crate::store::{now_ms, Store};

const KOMMUN: &str = "100000000000001";
const VISIT: &str = "100000000000002";
const INSTAGRAM: &str = "17840000000000001";

const PEOPLE: [&str; 12] = [
    "Anna Lindqvist",
    "Mehmet Yilmaz",
    "Karin Berg",
    "Johan Nilsson",
    "Sara Ahmed",
    "Lars Ek",
    "Fatima Hassan",
    "Erik Johansson",
    "Maja Holm",
    "Olle Svensson",
    "Leila Karimi",
    "Britt Andersson",
];

/// Direct messages: (person index, minutes ago, text).
const DMS: [(usize, i64, &str); 14] = [
    (0, 15, "Hej! När töms soporna i Norrby nästa vecka? Det är ju helgdag på torsdag."),
    (1, 42, "Hur ansöker jag om parkeringstillstånd för rörelsehindrade?"),
    (2, 70, "Hej, jag har sökt bygglov för ett attefallshus men inte fått något svar. Vem kan jag prata med?"),
    (3, 95, "När öppnar simhallen igen efter renoveringen?"),
    (4, 130, "Min son ska börja förskoleklass i höst. Hur gör man för att välja skola?"),
    (5, 180, "Gatlampan utanför Björkvägen 12 har varit trasig i två veckor."),
    (6, 240, "Hej! Hur ansöker man om parkeringstillstånd? Jag har svårt att gå."),
    (7, 300, "Tack för snabbt svar igår!"),
    (8, 360, "När töms soporna vid helgdagar? Vi bor på Ekvägen."),
    (9, 420, "Kan jag få hjälp med min ansökan om försörjningsstöd? Mitt personnummer är 19850312-1234."),
    (10, 480, "Var kan jag lämna grovsopor?"),
    (11, 600, "Varför har ingen plogat vår gata? Det är tredje dagen nu."),
    (1, 1500, "Hej igen, jag undrar fortfarande om parkeringstillståndet."),
    (3, 2000, "Har ni öppet på biblioteket i jul?"),
];

/// Posts by the accounts: (channel, post id, text).
const POSTS: [(&str, &str, &str); 3] = [
    (KOMMUN, "100000000000001_2001", "Nu bygger vi om korsningen vid Storgatan till en säkrare cykelöverfart. Arbetet pågår till mars."),
    (KOMMUN, "100000000000001_2002", "Vaccinationen mot säsongsinfluensa startar den 1 november. Boka tid via 1177."),
    (VISIT, "100000000000002_3001", "Julmarknaden på torget är öppen alla helger i december!"),
];

/// Comments: (post index, person index, minutes ago, text).
const COMMENTS: [(usize, usize, i64, &str); 16] = [
    (
        0,
        5,
        20,
        "Hur länge kommer Storgatan vara avstängd för biltrafik?",
    ),
    (
        0,
        7,
        25,
        "Äntligen! Den korsningen har varit livsfarlig i åratal.",
    ),
    (
        0,
        11,
        28,
        "Vilket slöseri med skattepengar. Ni är inkompetenta idioter allihop.",
    ),
    (
        0,
        9,
        31,
        "Hur länge blir Storgatan avstängd? Jag måste köra till jobbet.",
    ),
    (
        0,
        3,
        33,
        "Vem har fattat det här beslutet? Vi vet var ni bor.",
    ),
    (
        0,
        2,
        36,
        "Snälla håll god ton här, det finns folk som jobbar med det här.",
    ),
    (
        0,
        10,
        40,
        "Kommer bussen fortfarande stanna vid Storgatan under bygget?",
    ),
    (0, 6, 44, "Hur länge är Storgatan avstängd?"),
    (
        1,
        4,
        60,
        "Behöver man boka tid eller kan man komma på drop-in?",
    ),
    (1, 8, 65, "Kan man komma på drop-in för influensavaccin?"),
    (1, 1, 70, "Vad kostar vaccinet för oss över 65?"),
    (
        1,
        11,
        75,
        "Vaccinet är farligt och ni vet om det. Sprid inte propaganda.",
    ),
    (1, 0, 80, "Finns det drop-in på vårdcentralen i Norrby?"),
    (2, 2, 100, "Vilka tider är marknaden öppen?"),
    (2, 9, 110, "Finns det parkering nära torget?"),
    (2, 5, 120, "Vilka tider har julmarknaden öppet på söndagar?"),
];

/// Fills an empty store. Refuses a store that already holds messages, so it never mixes demo
/// data with real records.
pub async fn fill(store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let existing: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&store.pool)
        .await?;
    if existing > 0 {
        eprintln!("the store already holds messages: no demo data added");
        return Ok(());
    }
    for (platform, id, name, unit) in [
        (
            Platform::Facebook,
            KOMMUN,
            "Exempelby kommun",
            "Kommunikationsavdelningen",
        ),
        (
            Platform::Facebook,
            VISIT,
            "Visit Exempelby",
            "Turism och evenemang",
        ),
        (
            Platform::Instagram,
            INSTAGRAM,
            "exempelby_kommun",
            "Kommunikationsavdelningen",
        ),
    ] {
        let known = store
            .channels()
            .await?
            .into_iter()
            .any(|c| c.platform_id == id);
        if !known {
            store
                .add_channel(
                    &NewChannel {
                        platform: Some(platform),
                        platform_id: id.to_string(),
                        name: name.to_string(),
                        unit: Some(unit.to_string()),
                        purpose: Some("Information och dialog med invånare".into()),
                        responsible: Some("Kommunikationschef".into()),
                        personal_data_handling: Some(
                            "Allmänna handlingar; gallras enligt dokumenthanteringsplan".into(),
                        ),
                        approved: true,
                        access_token_file: None,
                    },
                    &Actor {
                        staff_id: None,
                        name: "demo".into(),
                        address: None,
                    },
                )
                .await?;
        }
    }
    let now = now_ms();
    let minute = 60_000;
    let mut values = Vec::new();
    for (i, (person, ago, text)) in DMS.iter().enumerate() {
        let channel = if i % 5 == 4 { INSTAGRAM } else { KOMMUN };
        let platform = if channel == INSTAGRAM {
            "instagram"
        } else {
            "facebook"
        };
        values.push(json!({
            "platform": platform, "channel": channel, "kind": "dm", "id": format!("demo-dm-{i}"),
            "author": {"id": format!("demo-person-{person}"), "name": PEOPLE[*person]},
            "text": text, "time": now - ago * minute,
        }));
    }
    // One answered conversation, so the history shows both directions.
    values.push(json!({
        "platform": "facebook", "channel": KOMMUN, "kind": "dm", "direction": "outbound",
        "id": "demo-dm-reply-7", "author": {"id": "demo-person-7", "name": PEOPLE[7]},
        "text": "Varsågod! Hör av dig om du undrar något mer.", "time": now - 290 * minute,
    }));
    for (i, (post, person, ago, text)) in COMMENTS.iter().enumerate() {
        let (channel, post_id, _) = POSTS[*post];
        values.push(json!({
            "platform": "facebook", "channel": channel, "kind": "comment", "id": format!("demo-comment-{i}"),
            "author": {"id": format!("demo-person-{person}"), "name": PEOPLE[*person]},
            "text": text, "time": now - ago * minute, "post_id": post_id,
        }));
    }
    values.extend(earlier_months(now));
    let items = values
        .into_iter()
        .map(normalised::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("demo data is invalid: {e}"))?;
    let ingestor = Ingestor::start(
        store.clone(),
        settings.max_text_chars,
        settings.ingest_batch_max,
        Some(std::sync::Arc::new(
            crate::moderation::service::Moderation::load(settings)?,
        )),
    );
    let outcome = ingestor.submit(items).await?;
    if outcome.stored == 0 {
        bail!("no demo data was stored");
    }
    post_texts(store).await?;
    eprintln!(
        "demo data: 3 channels, {} messages ({} direct messages, {} comments under {} posts)",
        outcome.stored,
        DMS.len() + 1,
        COMMENTS.len(),
        POSTS.len()
    );
    Ok(())
}

/// The demo's accounts: (username, role). Administrators add real people later.
const DEMO_ACCOUNTS: [(&str, &str); 4] = [
    ("demo-agent", "agent"),
    ("demo-communicator", "communicator"),
    ("demo-moderator", "moderator"),
    ("demo-admin", "admin"),
];

/// A demo account made by `accounts`: its password is shown once, then only its hash is kept.
pub struct DemoAccount {
    pub username: &'static str,
    pub role: &'static str,
    pub password: String,
}

/// One account per working role with every training module completed and a random password, on
/// a store without staff only (never beside real accounts). Empty when the store has staff.
pub async fn accounts(
    store: &Store,
    training: &crate::access::training::TrainingConfig,
) -> anyhow::Result<Vec<DemoAccount>> {
    if store.staff_count().await? > 0 {
        return Ok(Vec::new());
    }
    let actor = Actor {
        staff_id: None,
        name: "demo".into(),
        address: None,
    };
    let mut made = Vec::new();
    for (username, role) in DEMO_ACCOUNTS {
        let password = demo_password();
        let hash = crate::access::hash_password(&password)?;
        let staff = store.add_staff(username, role, Some(&hash), &actor).await?;
        for module in &training.modules {
            store
                .record_completion(staff.id, &module.id, now_ms(), &actor)
                .await?;
        }
        made.push(DemoAccount {
            username,
            role,
            password,
        });
    }
    Ok(made)
}

/// Twenty letters and digits (about 119 bits), easy to copy from a terminal.
fn demo_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The reports open on the last whole month: the demo places questions there, each answered a
/// little later, and fewer in the month before, so the first report shows figures and a change.
/// Their people and posts are their own, so today's queue stays as it is (answered, they wait for
/// no one).
fn earlier_months(now: i64) -> Vec<serde_json::Value> {
    let local = crate::reports::period::local_time(now);
    use chrono::Datelike;
    let this_month = crate::reports::period::ReportPeriod::month(local.year(), local.month());
    let last = this_month.previous();
    let before = last.previous();
    let hour = 3_600_000;
    let mut out = Vec::new();
    for (label, period, count) in [
        ("last", &last, DMS.len()),
        ("before", &before, DMS.len() / 2),
    ] {
        for (i, (_, _, text)) in DMS.iter().take(count).enumerate() {
            // Spread over the month's working days, at 9 to 15 o'clock.
            let at = period.start_ms() + (i as i64 * 2 + 1) * 24 * hour + (9 + i as i64 % 6) * hour;
            let person = format!("demo-person-{label}-{i}");
            let name = PEOPLE[i % PEOPLE.len()];
            out.push(json!({
                "platform": "facebook", "channel": KOMMUN, "kind": "dm",
                "id": format!("demo-dm-{label}-{i}"), "author": {"id": person, "name": name},
                "text": text, "time": at,
            }));
            out.push(json!({
                "platform": "facebook", "channel": KOMMUN, "kind": "dm", "direction": "outbound",
                "id": format!("demo-dm-{label}-{i}-reply"), "author": {"id": person, "name": name},
                "text": "Tack för din fråga! Vi återkommer med svar.",
                "time": at + (20 + 15 * (i as i64 % 5)) * 60_000,
            }));
        }
        for (i, (_, person, _, text)) in COMMENTS.iter().take(count / 2).enumerate() {
            out.push(json!({
                "platform": "facebook", "channel": KOMMUN, "kind": "comment",
                "id": format!("demo-comment-{label}-{i}"),
                "author": {"id": format!("demo-person-{label}-c{person}"), "name": PEOPLE[*person]},
                "text": text, "time": period.start_ms() + (i as i64 * 3 + 2) * 24 * hour,
                "post_id": format!("100000000000001_{label}"),
            }));
        }
    }
    out
}

/// The posts' own words, which a comment does not carry (the platform sends them with the post),
/// so the heated thread and the reports show the post, not its id.
async fn post_texts(store: &Store) -> anyhow::Result<()> {
    let mut texts: Vec<(String, &str)> = POSTS
        .iter()
        .map(|(_, id, text)| (id.to_string(), *text))
        .collect();
    texts.push((
        "100000000000001_last".into(),
        "Vi har öppnat en ny återvinningscentral vid Norra vägen.",
    ));
    texts.push((
        "100000000000001_before".into(),
        "Skolvalet är öppet till den 15 februari.",
    ));
    for (id, text) in texts {
        sqlx::query("update posts set text = $1 where platform_id = $2 and text is null")
            .bind(text)
            .bind(id)
            .execute(&store.pool)
            .await?;
    }
    Ok(())
}
