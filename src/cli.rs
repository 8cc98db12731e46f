//! The `tavla` command line. Every command takes the same settings as `serve`.

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::access::training::TrainingConfig;
use crate::access::{hash_password, new_token, AccountKind, Role};
use crate::app::{shutdown_signal, Application};
use crate::ingest::{normalised, Ingestor};
use crate::model::Platform;
use crate::settings::Settings;
use crate::store::audit::Actor;
use crate::store::channels::NewChannel;
use crate::store::Store;

#[derive(Parser)]
#[command(
    name = "tavla",
    version,
    about = "Inbox and moderation for a municipality's social-media channels"
)]
pub struct Cli {
    /// A settings file layered over config/default.toml (environment TAVLA_* wins over both).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the service.
    Serve {
        /// Fill an empty store with Swedish demo data first.
        #[arg(long)]
        demo: bool,
    },
    /// Create or update the database schema.
    Migrate,
    /// Print the API description (OpenAPI 3.1, as served at /api/v1/openapi.json), for generating
    /// a client without a running service.
    Openapi,
    /// Copy the SQLite store to FILE while the service runs (a consistent snapshot; FILE must not
    /// exist). On PostgreSQL it says how to use pg_dump.
    Backup { file: PathBuf },
    /// Put a backup back, with the service stopped: the database it replaces is kept beside it,
    /// the schema is upgraded and the search index rebuilt. On PostgreSQL: pg_restore.
    Restore { file: PathBuf },
    /// The configuration: every settings layer and every file it names.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Fill an empty store with Swedish demo data.
    Demo,
    /// Staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// API tokens, as the operator on the machine (who can act as anyone here: the database is
    /// theirs). Through the API a token is minted only by its holder (`POST /api/v1/me/tokens`)
    /// or, for a service account, by an administrator.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The channel registry.
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// Import normalised messages from a JSON Lines file (one message per line).
    Import { file: PathBuf },
    /// Rebuild the search index from the store (stop the service first). A damaged index is set
    /// aside (search.damaged-<time>, beside it) and a fresh one is built.
    Reindex,
    /// FAQ signals.
    Faq {
        #[command(subcommand)]
        command: FaqCommand,
    },
    /// Moderation triage.
    Moderation {
        #[command(subcommand)]
        command: ModerationCommand,
    },
    /// The moderation routines.
    Routines {
        #[command(subcommand)]
        command: RoutinesCommand,
    },
    /// Training records.
    Training {
        #[command(subcommand)]
        command: TrainingCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// A follow-up report for a month or a quarter (Swedish time), beside the period before.
    Report(ReportArgs),
    /// A person's data: export and erasure (the data-protection officer's work).
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
    /// Retention (gallring) by the rules in retention_file.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check config/default.toml, the --config file, the TAVLA_* environment and the files they
    /// name; print each problem with its file and line. Exits non-zero when one is an error.
    Check,
}

#[derive(Subcommand)]
pub enum PrivacyCommand {
    /// Everything stored about one person, as JSON on standard output.
    Export {
        /// The person's platform id (as in a message's author).
        #[arg(long)]
        author: String,
    },
    /// Erase what the law allows about one person; prints what was done and what was kept, and why.
    Erase {
        #[arg(long)]
        author: String,
        /// Show what would happen and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Apply the rules now (the service also does this daily).
    Run {
        /// Show what would happen and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        /// With --dry-run: the rules as they will stand at this moment (RFC 3339), e.g. to see
        /// what the year's end will dispose of.
        #[arg(long, requires = "dry_run")]
        at: Option<String>,
    },
}

#[derive(Args)]
pub struct ReportArgs {
    /// A calendar month, e.g. 2026-10.
    #[arg(long, conflicts_with = "quarter", required_unless_present = "quarter")]
    month: Option<String>,
    /// A quarter, e.g. 2026Q3.
    #[arg(long)]
    quarter: Option<String>,
    /// json, csv or html.
    #[arg(long, default_value = "json")]
    format: String,
    /// Labels of the HTML page: sv or en.
    #[arg(long, default_value = "sv")]
    lang: String,
    /// Write here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum TrainingCommand {
    /// Record that a staff member completed a module (or every module).
    Grant {
        #[arg(long)]
        username: String,
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        module: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// List the training modules.
    Modules,
}

#[derive(Subcommand)]
pub enum FaqCommand {
    /// NMI and ARI of the clustering on a labelled TSV (`text<TAB>label`).
    Eval {
        file: PathBuf,
        /// Also print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ModerationCommand {
    /// Precision, recall and F1 of triage on a labelled TSV (`text<TAB>label`; `none` = not to
    /// flag; several labels separated by commas), per label and per category.
    Eval {
        file: PathBuf,
        /// Also print one JSON object as the last line.
        #[arg(long)]
        json: bool,
        /// List the messages judged wrongly (for a set you build your lexicon on, never for the
        /// one you report).
        #[arg(long)]
        errors: bool,
        /// A trained model (`tavla moderation train`): report the rules alone, the model alone
        /// and both together (what triage does with it).
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Train the triage model on a labelled TSV and/or the moderators' closed cases; writes
    /// `moderation-model-<version>.bin` into the data directory.
    Train(TrainArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// A labelled TSV (`text<TAB>label`, as for eval).
    file: Option<PathBuf>,
    /// Learn from the closed cases in the database: removed, hidden or reported to the police
    /// is abusive (in the case's categories), dismissed or no action is not.
    #[arg(long)]
    from_cases: bool,
    /// Hold this percentage of FILE's rows out of training (chosen by the seed) and write them
    /// to --hold-out-file, to evaluate the model on rows it never saw.
    #[arg(long, requires = "hold_out_file")]
    hold_out: Option<f64>,
    #[arg(long)]
    hold_out_file: Option<PathBuf>,
    /// The seed that shuffles the examples (the same data and seed give the same model).
    #[arg(long)]
    seed: Option<u64>,
    /// Passes over the examples.
    #[arg(long)]
    epochs: Option<usize>,
    /// Where to write the model (default: the data directory, where the service looks).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum RoutinesCommand {
    /// Print the routines as a Markdown document for staff.
    Print,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain up to its anchored head; exits non-zero and names the first broken
    /// entry when it fails (a changed entry, a broken link, deleted newest entries).
    Verify {
        /// A head printed earlier by `tavla audit head` and kept outside the database: the
        /// trail must still contain it, unchanged.
        #[arg(long, value_name = "ID:HASH")]
        expect: Option<String>,
    },
    /// Print the trail's newest entry as ID:HASH, to keep outside the database (a ticket, a log
    /// shipped elsewhere) and give to `verify --expect` later.
    Head,
}

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Add a staff member.
    Add {
        #[arg(long)]
        username: String,
        /// agent, communicator, moderator, admin or auditor, or several separated by commas
        /// (`communicator,moderator`: a person may hold several roles); integrations get a
        /// service account through the API: POST /api/v1/service-accounts
        #[arg(long)]
        role: String,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a staff member; prints only the token. The operator's tool (the
    /// first administrator's token, a service account's when the API is out of reach): the token
    /// acts as the account it belongs to, so hand it only to that person or integration.
    Create {
        #[arg(long)]
        username: String,
    },
    /// Revoke every API token of a staff member.
    Revoke {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Register and approve a channel.
    Add(ChannelAdd),
    /// List registered channels.
    List,
}

#[derive(Args)]
pub struct ChannelAdd {
    /// facebook, instagram or linkedin
    #[arg(long)]
    platform: String,
    /// The page's or account's id on the platform.
    #[arg(long)]
    platform_id: String,
    #[arg(long)]
    name: String,
    /// The unit that owns the account (e.g. "Biblioteket").
    #[arg(long)]
    unit: Option<String>,
    #[arg(long)]
    purpose: Option<String>,
    #[arg(long)]
    responsible: Option<String>,
    #[arg(long)]
    personal_data_handling: Option<String>,
    /// A file holding the page access token used for delivery.
    #[arg(long)]
    access_token_file: Option<PathBuf>,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => return config_check(cli.config.as_deref()),
        // Needs no settings: the description is the code's.
        Command::Openapi => {
            println!("{}", crate::http::description::served());
            return Ok(());
        }
        // The same check before serving: a mistake stops the start, named where it was made.
        Command::Serve { .. } => check_before_serving(cli.config.as_deref())?,
        _ => {}
    }
    let settings = Settings::load(cli.config.as_deref())?;
    crate::telemetry::init(&settings);
    match cli.command {
        Command::Serve { demo } => serve(settings, demo).await,
        Command::Config { .. } | Command::Openapi => {
            unreachable!("answered before the settings are loaded")
        }
        Command::Backup { file } => backup(&settings, &file).await,
        Command::Restore { file } => restore(&settings, &file).await,
        Command::Migrate => {
            open_store(&settings).await?;
            eprintln!("the database is up to date");
            Ok(())
        }
        Command::Demo => {
            let store = open_store(&settings).await?;
            crate::demo::fill(&store, &settings).await
        }
        Command::Staff {
            command:
                StaffCommand::Add {
                    username,
                    role,
                    password_stdin,
                },
        } => add_staff(&settings, &username, &role, password_stdin).await,
        Command::Token {
            command: TokenCommand::Create { username },
        } => create_token(&settings, &username).await,
        Command::Token {
            command: TokenCommand::Revoke { username },
        } => revoke_tokens(&settings, &username).await,
        Command::Channel {
            command: ChannelCommand::Add(add),
        } => add_channel(&settings, add).await,
        Command::Channel {
            command: ChannelCommand::List,
        } => list_channels(&settings).await,
        Command::Import { file } => import(&settings, &file).await,
        Command::Reindex => reindex(&settings).await,
        Command::Faq {
            command: FaqCommand::Eval { file, json },
        } => {
            println!("{}", crate::faq::eval::eval_file(&file, json)?);
            Ok(())
        }
        Command::Moderation {
            command:
                ModerationCommand::Eval {
                    file,
                    json,
                    errors,
                    model,
                },
        } => moderation_eval(&settings, &file, json, errors, model.as_deref()),
        Command::Moderation {
            command: ModerationCommand::Train(args),
        } => moderation_train(&settings, args).await,
        Command::Routines {
            command: RoutinesCommand::Print,
        } => {
            let routines = crate::moderation::routines::Routines::load(&settings.routines_file)?;
            print!("{}", routines.to_markdown());
            Ok(())
        }
        Command::Training { command } => training(&settings, command).await,
        Command::Report(args) => report(&settings, args).await,
        Command::Privacy { command } => privacy(&settings, command).await,
        Command::Retention {
            command: RetentionCommand::Run { dry_run, json, at },
        } => retention(&settings, dry_run, json, at.as_deref()).await,
        Command::Audit { command } => audit(&settings, command).await,
    }
}

async fn backup(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let summary = crate::ops::backup::backup(settings, file).await?;
    println!("backed up to {}: {summary}", file.display());
    Ok(())
}

async fn restore(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let (summary, kept) = crate::ops::backup::restore(settings, file).await?;
    println!(
        "restored {}: {summary}; the search index was rebuilt from it",
        file.display()
    );
    if let Some(kept) = kept {
        println!(
            "the database it replaced is kept as {} (remove it when you no longer need it)",
            kept.display()
        );
    }
    Ok(())
}

/// `tavla staff add`: a person's account, with a password read from stdin when asked.
async fn add_staff(
    settings: &Settings,
    username: &str,
    role: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let named: Vec<&str> = role.split(',').map(str::trim).collect();
    let roles = named
        .iter()
        .map(|r| Role::parse(r).filter(|r| r.fits(AccountKind::Person)))
        .collect::<Option<Vec<Role>>>()
        .and_then(crate::access::Roles::new)
        .with_context(|| {
            format!(
                "{role:?} is not a role for a person; use agent, communicator, moderator, admin or auditor, or several separated by commas (an integration gets a service account: POST /api/v1/service-accounts)"
            )
        })?;
    let username = username.trim();
    if username.is_empty() || username.len() > 64 {
        bail!("the username must be 1 to 64 characters");
    }
    if username.starts_with(AccountKind::SERVICE_PREFIX) {
        bail!("names beginning with service: are service accounts'; choose another username");
    }
    let password_hash = if password_stdin {
        Some(hash_password(&password_from_stdin()?)?)
    } else {
        None
    };
    let store = open_store(settings).await?;
    let names = roles.names();
    let staff = store
        .add_account(
            &crate::store::staff::NewAccount {
                username,
                role: roles.primary().as_str(),
                roles: &names,
                password_hash: password_hash.as_deref(),
                ..Default::default()
            },
            &Actor::command_line(),
        )
        .await?;
    eprintln!(
        "added {} as {}; create an API token with `tavla token create --username {}`",
        staff.username,
        names.join(" and "),
        staff.username
    );
    Ok(())
}

/// One line from stdin, at least 12 characters.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.chars().count() < 12 {
        bail!("the password must have at least 12 characters");
    }
    Ok(password.to_string())
}

async fn create_token(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let staff = store.staff_by_username(username).await?.with_context(|| {
        format!("no active staff member is named {username:?}; add one with `tavla staff add`")
    })?;
    let token = new_token();
    store
        .add_api_token(staff.id, &token, &Actor::command_line())
        .await?;
    println!("{token}");
    Ok(())
}

async fn revoke_tokens(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let staff = store
        .staff_by_username(username)
        .await?
        .with_context(|| format!("no active staff member is named {username:?}"))?;
    let n = store
        .revoke_tokens(staff.id, &Actor::command_line())
        .await?;
    eprintln!("revoked {n} token(s) of {username}");
    Ok(())
}

async fn list_channels(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    for c in store.channels().await? {
        let approval = if c.approved {
            "approved"
        } else {
            "not approved"
        };
        println!(
            "{}\t{}\t{}\t{approval}\t{}",
            c.id, c.platform, c.platform_id, c.name
        );
    }
    Ok(())
}

async fn audit(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    use crate::store::audit::Head;
    let kept = match &command {
        AuditCommand::Verify {
            expect: Some(expect),
        } => Some(expect.parse::<Head>().map_err(anyhow::Error::msg)?),
        _ => None,
    };
    let store = open_store(settings).await?;
    if let AuditCommand::Head = command {
        let head = store.audit_head().await?.context(
            "the trail's anchor (table audit_head) is missing; run `tavla audit verify`",
        )?;
        println!("{head}");
        return Ok(());
    }
    match store.verify_audit_with(kept.as_ref()).await? {
        Ok(n) => {
            println!("the audit trail is intact: {n} entries checked");
            Ok(())
        }
        Err(broken) => bail!(
            "the audit trail is broken at entry {}: {}",
            broken.id,
            broken.reason
        ),
    }
}

async fn privacy(settings: &Settings, command: PrivacyCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let actor = Actor::command_line();
    match command {
        PrivacyCommand::Export { author } => {
            // The operator on the command line holds the database already.
            let export = crate::privacy::export::export(
                &store,
                &crate::store::scope::ReadScope::operator(),
                &author,
            )
            .await?
            .ok_or_else(|| anyhow::anyhow!("nothing is stored about {author}"))?;
            store
                .audit(
                    &actor,
                    "privacy.exported",
                    Some(&format!("author:{author}")),
                    serde_json::json!({"people": export.people.len()}),
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&export)?);
        }
        PrivacyCommand::Erase { author, dry_run } => {
            let rules = crate::privacy::rules::RetentionRules::load(&settings.retention_file)?;
            let report = crate::privacy::erasure::erase(
                &store,
                &rules,
                &author,
                crate::store::now_ms(),
                dry_run,
                &actor,
            )
            .await?
            .ok_or_else(|| anyhow::anyhow!("nothing is stored about {author}"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(())
}

async fn retention(
    settings: &Settings,
    dry_run: bool,
    json: bool,
    at: Option<&str>,
) -> anyhow::Result<()> {
    let now = match at {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .with_context(|| {
                format!("--at {at:?} is not an RFC 3339 time like 2027-01-01T00:00:00+01:00")
            })?
            .timestamp_millis(),
        None => crate::store::now_ms(),
    };
    let store = open_store(settings).await?;
    let rules = crate::privacy::rules::RetentionRules::load(&settings.retention_file)?;
    let report =
        crate::privacy::retention::run(&store, &rules, now, dry_run, &Actor::command_line())
            .await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let verb = if dry_run { "would be" } else { "were" };
    println!(
        "{} records {verb} deleted, {} {verb} pseudonymised; {} kept by a hold or an open case{}",
        report.deleted,
        report.pseudonymised,
        report.kept_count,
        if dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    let o = &report.other;
    println!(
        "beside the messages, {verb} deleted: {} reactions, {} quarantined and {} unrecognised deliveries, {} staff sessions, {} failed sign-ins, {} people nothing refers to any more",
        o.reactions, o.quarantine, o.unrecognised, o.sessions, o.signin_failures, o.people
    );
    for a in &report.actions {
        println!(
            "  message {} (conversation {}): {:?} by rule {}",
            a.message_id, a.conversation_id, a.action, a.rule
        );
    }
    for k in &report.kept {
        println!(
            "  message {} (conversation {}): kept, {}",
            k.message_id,
            k.conversation_id,
            crate::privacy::explain(k.reason)
        );
    }
    Ok(())
}

async fn training(settings: &Settings, command: TrainingCommand) -> anyhow::Result<()> {
    let config = TrainingConfig::load(&settings.training_file)?;
    match command {
        TrainingCommand::Modules => {
            for m in &config.modules {
                let validity = if m.valid_days > 0 {
                    format!("{} days", m.valid_days)
                } else {
                    "no expiry".into()
                };
                println!("{}\t{}\t{}", m.id, validity, m.title_sv);
            }
            Ok(())
        }
        TrainingCommand::Grant {
            username,
            module,
            all,
        } => {
            let modules: Vec<String> = if all {
                config.modules.iter().map(|m| m.id.clone()).collect()
            } else {
                let m = module.unwrap_or_default();
                if config.module(&m).is_none() {
                    bail!("there is no training module {m:?}; `tavla training modules` lists them");
                }
                vec![m]
            };
            let store = open_store(settings).await?;
            let staff = store
                .staff_by_username(&username)
                .await?
                .with_context(|| format!("no active staff member is named {username:?}"))?;
            let now = crate::store::now_ms();
            for m in &modules {
                store
                    .record_completion(staff.id, m, now, &Actor::command_line())
                    .await?;
            }
            eprintln!(
                "recorded {} module(s) for {username}: {}",
                modules.len(),
                modules.join(", ")
            );
            Ok(())
        }
    }
}

/// Rebuilds the search index from the messages in the store, showing progress.
async fn reindex(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let dir = settings.data_dir.join("search");
    let index = crate::search::SearchIndex::open(&dir)?;
    if let Some(aside) = index.set_aside_to() {
        eprintln!(
            "the search index in {} could not be opened: it was set aside as {} and is rebuilt from the store",
            dir.display(),
            aside.display()
        );
    }
    let started = Instant::now();
    let mut last_report = Instant::now();
    let done = crate::search::indexer::rebuild(&store, &index, |done, total| {
        if last_report.elapsed().as_secs() >= 2 || done == total {
            last_report = Instant::now();
            eprintln!("… {done} of {total} messages indexed");
        }
    })
    .await?;
    // Apply what happened while rebuilding.
    crate::search::indexer::catch_up(&store, &index, index.indexed_seq()).await?;
    eprintln!(
        "the search index in {} was rebuilt: {done} messages in {:.1}s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn report(settings: &Settings, args: ReportArgs) -> anyhow::Result<()> {
    use crate::reports::render::{self, Lang};
    use crate::reports::{PeriodKind, ReportOptions, ReportPeriod};
    let (text, kind) = match (&args.month, &args.quarter) {
        (Some(m), _) => (m.as_str(), PeriodKind::Month),
        (_, Some(q)) => (q.as_str(), PeriodKind::Quarter),
        _ => bail!("name a period: --month 2026-10 or --quarter 2026Q3"),
    };
    let period = ReportPeriod::parse(text)
        .filter(|p| p.kind == kind)
        .ok_or_else(|| match kind {
            PeriodKind::Month => {
                anyhow::anyhow!("--month takes a month like 2026-10, not {text:?}")
            }
            PeriodKind::Quarter => {
                anyhow::anyhow!("--quarter takes a quarter like 2026Q3, not {text:?}")
            }
        })?;
    if !["json", "csv", "html"].contains(&args.format.as_str()) {
        bail!("--format must be json, csv or html");
    }
    if !["sv", "en"].contains(&args.lang.as_str()) {
        bail!("--lang must be sv or en");
    }
    let store = open_store(settings).await?;
    let faq = std::sync::Arc::new(
        crate::faq::signals::FaqSignals::build_complete(
            &store,
            crate::faq::cluster::ClusterConfig::default(),
        )
        .await?,
    );
    let options = ReportOptions::from_settings(settings);
    // The operator on the command line reads every channel (the S5 rule still holds).
    let report = crate::reports::build(
        &store,
        faq,
        period,
        &crate::store::scope::ReadScope::operator(),
        &options,
    )
    .await?;
    store
        .audit(
            &Actor::command_line(),
            "report.read",
            None,
            serde_json::json!({"period": report.period.label, "format": args.format}),
        )
        .await?;
    let text = match args.format.as_str() {
        "csv" => render::csv(&report),
        "html" => render::html(&report, Lang::parse(Some(&args.lang))),
        _ => render::json(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}

/// `tavla config check`: the problems on standard output; an error makes the exit non-zero.
fn config_check(extra: Option<&std::path::Path>) -> anyhow::Result<()> {
    let report = crate::ops::check::check(extra);
    print!("{}", report.render());
    if report.errors() > 0 {
        bail!(
            "the configuration has {} error(s), listed above with their file and line",
            report.errors()
        );
    }
    Ok(())
}

/// Errors stop `serve` before it touches the store; warnings are printed and it goes on.
fn check_before_serving(extra: Option<&std::path::Path>) -> anyhow::Result<()> {
    let report = crate::ops::check::check(extra);
    for problem in &report.problems {
        eprintln!("tavla: {problem}");
    }
    if report.errors() > 0 {
        bail!(
            "not starting: the configuration has {} error(s), listed above with their file and \
             line; fix them (`tavla config check` lists them again)",
            report.errors()
        );
    }
    Ok(())
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(settings.database_url.expose())
        .await
        .with_context(|| "cannot open the database named by database_url (TAVLA_DATABASE_URL)")?;
    store.migrate().await?;
    Ok(store)
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    settings.require_webhook_secret()?;
    let store = open_store(&settings).await?;
    if demo {
        crate::demo::fill(&store, &settings).await?;
        print_demo_accounts(&store, &settings).await?;
    }
    if store.staff_count().await? == 0 {
        eprintln!(
            "\nNo staff accounts yet. Create the first administrator and a token:\n\
             \n    echo 'a long passphrase' | tavla staff add --username admin --role admin --password-stdin\
             \n    tavla token create --username admin\n"
        );
    }
    let app = Application::build_with_store(settings, store).await?;
    tracing::info!(address = %app.local_addr(), backend = ?app.store().backend, "tavla is listening");
    app.run_until(shutdown_signal()).await
}

/// On a store without staff, the demo's accounts, their passwords printed this once.
async fn print_demo_accounts(store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let training = crate::access::training::TrainingConfig::load(&settings.training_file)?;
    let accounts = crate::demo::accounts(store, &training).await?;
    if accounts.is_empty() {
        return Ok(());
    }
    eprintln!("\nDemo accounts, trained; the passwords are shown only now:\n");
    for a in &accounts {
        eprintln!("    {:<20} {:<13} {}", a.username, a.role, a.password);
    }
    eprintln!();
    Ok(())
}

async fn add_channel(settings: &Settings, add: ChannelAdd) -> anyhow::Result<()> {
    let platform = Platform::parse(&add.platform).with_context(|| {
        format!(
            "unknown platform {:?}; use facebook, instagram or linkedin",
            add.platform
        )
    })?;
    let token_file = match &add.access_token_file {
        Some(path) => {
            let mut content = String::new();
            std::fs::File::open(path)
                .and_then(|mut f| f.read_to_string(&mut content))
                .with_context(|| format!("cannot read the access token file {}", path.display()))?;
            if content.trim().is_empty() {
                bail!("the access token file {} is empty", path.display());
            }
            let absolute = std::fs::canonicalize(path)?;
            Some(absolute.to_string_lossy().into_owned())
        }
        None => None,
    };
    let store = open_store(settings).await?;
    let channel = store
        .add_channel(
            &NewChannel {
                platform: Some(platform),
                platform_id: add.platform_id,
                name: add.name,
                unit: add.unit,
                purpose: add.purpose,
                responsible: add.responsible,
                personal_data_handling: add.personal_data_handling,
                approved: true,
                access_token_file: token_file,
            },
            &Actor::command_line(),
        )
        .await?;
    let ingestor = Ingestor::start(
        store.clone(),
        settings.max_text_chars,
        settings.ingest_batch_max,
        Some(std::sync::Arc::new(
            crate::moderation::service::Moderation::load(settings)?,
        )),
    );
    let released = crate::ingest::release_quarantine(&store, &ingestor, &channel).await?;
    eprintln!(
        "registered and approved channel {} ({} {}); {released} item(s) released from quarantine",
        channel.id, channel.platform, channel.platform_id
    );
    Ok(())
}

/// Imports JSON Lines: each good line is kept, each bad line is reported with its number.
async fn import(settings: &Settings, file: &PathBuf) -> anyhow::Result<()> {
    let handle =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let total_bytes = handle.metadata().map(|m| m.len()).unwrap_or(0);
    let store = open_store(settings).await?;
    let ingestor = Ingestor::start(
        store.clone(),
        settings.max_text_chars,
        settings.ingest_batch_max,
        Some(std::sync::Arc::new(
            crate::moderation::service::Moderation::load(settings)?,
        )),
    );
    let reader = std::io::BufReader::new(handle);
    let started = Instant::now();
    let mut last_report = Instant::now();
    let (mut lines, mut bad, mut bytes) = (0usize, 0usize, 0u64);
    let mut outcome = crate::store::ingest::Outcome::default();
    let mut chunk = Vec::with_capacity(500);
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read line {}", index + 1))?;
        bytes += line.len() as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let parsed = serde_json::from_str::<serde_json::Value>(&line)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(normalised::parse);
        match parsed {
            Ok(item) => chunk.push(item),
            Err(error) => {
                bad += 1;
                eprintln!("line {}: {error}", index + 1);
            }
        }
        if chunk.len() >= 500 {
            outcome.add(ingestor.submit(std::mem::take(&mut chunk)).await?);
        }
        if last_report.elapsed().as_secs() >= 2 {
            last_report = Instant::now();
            let percent = (bytes * 100).checked_div(total_bytes).unwrap_or(0);
            eprintln!(
                "… {lines} lines read ({percent}%), {} stored, {bad} bad",
                outcome.stored
            );
        }
    }
    outcome.add(ingestor.submit(chunk).await?);
    eprintln!(
        "imported {} in {:.1}s: {lines} lines, {} stored, {} already there, {} quarantined (channel not registered), {bad} bad",
        file.display(),
        started.elapsed().as_secs_f64(),
        outcome.stored,
        outcome.duplicates,
        outcome.quarantined,
    );
    if bad > 0 {
        bail!("{bad} line(s) could not be imported (listed above); the other lines were kept, so fix those lines and import the file again");
    }
    Ok(())
}

/// `tavla moderation eval FILE [--json] [--errors] [--model M]`: the rules alone, or with a
/// model the rules, the model and both (what triage does), each per label and per category.
fn moderation_eval(
    settings: &Settings,
    file: &std::path::Path,
    json: bool,
    errors: bool,
    model: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use crate::moderation::eval::{evaluate_with, Labelled};
    use crate::moderation::model::Model;
    use crate::moderation::triage::Engine;
    let rules = Engine::load(&settings.moderation_dir)?;
    let labelled = Labelled::read(file)?;
    let by_rules =
        |engine: &Engine| evaluate_with(engine, &labelled, |text| engine.triage(text).categories);
    let Some(path) = model else {
        let report = by_rules(&rules);
        print!("{}", report.summary());
        if errors {
            print!("{}", report.errors());
        }
        if json {
            println!("{}", report.to_json());
        }
        return Ok(());
    };
    let model = std::sync::Arc::new(Model::load(path)?);
    let both = rules.clone().with_model(model.clone());
    let reports = [
        ("rules alone", by_rules(&rules)),
        (
            "model alone",
            evaluate_with(&rules, &labelled, |text| {
                model.classify(text).into_iter().map(|(c, _)| c).collect()
            }),
        ),
        ("rules and model (triage)", by_rules(&both)),
    ];
    println!(
        "model {} ({} categories, trained on {} examples)\n",
        model.version,
        model.classes().len(),
        model.training().examples
    );
    for (name, report) in &reports {
        println!("=== {name} ===");
        print!("{}", report.summary());
        if errors {
            print!("{}", report.errors());
        }
        println!();
    }
    if json {
        // The object of what triage does (both), with each mode beside it.
        let mut out = serde_json::to_value(&reports[2].1)?;
        out["model_version"] = serde_json::json!(model.version);
        out["modes"] = serde_json::json!({
            "rules": reports[0].1,
            "model": reports[1].1,
            "both": reports[2].1,
        });
        println!("{out}");
    }
    Ok(())
}

/// `tavla moderation train [--from-cases] [FILE]`: fits the model and writes its file.
async fn moderation_train(settings: &Settings, args: TrainArgs) -> anyhow::Result<()> {
    use crate::moderation::eval::Labelled;
    use crate::moderation::learning;
    use crate::moderation::model::{self, Options};
    use crate::moderation::triage::Engine;
    if args.file.is_none() && !args.from_cases {
        bail!("give a labelled FILE, --from-cases, or both");
    }
    let engine = Engine::load(&settings.moderation_dir)?;
    let mut options = Options::default();
    if let Some(seed) = args.seed {
        options.seed = seed;
    }
    if let Some(epochs) = args.epochs {
        options.epochs = epochs.max(1);
    }
    let mut examples = Vec::new();
    if let Some(path) = &args.file {
        let mut labelled = Labelled::read(path)?;
        if let Some(percent) = args.hold_out {
            if !(0.0..100.0).contains(&percent) {
                bail!("--hold-out is a percentage between 0 and 100");
            }
            let held = labelled.hold_out(percent / 100.0, options.seed);
            let out = args
                .hold_out_file
                .as_deref()
                .context("--hold-out needs --hold-out-file")?;
            std::fs::write(out, held.to_tsv())
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "held out {} of {} rows into {} (not trained on)",
                held.rows.len(),
                held.rows.len() + labelled.rows.len(),
                out.display()
            );
        }
        let from_file = learning::from_file(&engine, &labelled)?;
        options.sources.push(format!(
            "{} ({} rows{})",
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            from_file.len(),
            args.hold_out
                .map(|p| format!(", {p}% held out with seed {}", options.seed))
                .unwrap_or_default()
        ));
        examples.extend(from_file);
    }
    if args.from_cases {
        let store = open_store(settings).await?;
        let cases = store.closed_cases().await?;
        let (from_cases, lessons) = learning::from_cases(&engine, &cases);
        eprintln!(
            "closed cases: {} abusive (removed, hidden or reported; {} learnt by their level), {} not (dismissed or no action), {} without words",
            lessons.positives, lessons.by_level, lessons.negatives, lessons.without_text
        );
        options.sources.push(format!(
            "closed cases ({} abusive, {} not)",
            lessons.positives, lessons.negatives
        ));
        examples.extend(from_cases);
    }
    let started = Instant::now();
    let trained = model::train(&examples, &options)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| settings.data_dir.clone());
    let path = trained.save_in(&dir)?;
    let t = trained.training();
    println!(
        "trained on {} examples in {:.1} s ({} held out to choose thresholds), seed {}, {} passes",
        t.examples,
        started.elapsed().as_secs_f64(),
        t.validation_examples,
        t.seed,
        t.epochs
    );
    for head in trained.classes() {
        let validation = t
            .validation
            .iter()
            .find(|(c, _, _)| c == &head.category)
            .map(|(_, p, r)| format!(", on the held-out examples precision {p:.2} recall {r:.2}"))
            .unwrap_or_default();
        println!(
            "  {:<14} {:>6} examples, flags alone at p >= {:.2}{validation}",
            head.category, head.positives, head.threshold
        );
    }
    println!(
        "wrote {} (version {}, {} KiB)",
        path.display(),
        trained.version,
        trained.to_bytes().len() / 1024
    );
    println!(
        "To use it: check it with `tavla moderation eval FILE --model {}`, then restart `tavla serve`: \
         with moderation_model = \"newest\" (the default) it loads the newest model in {} at start. \
         To pin this one set moderation_model = \"{}\" (TAVLA_MODERATION_MODEL); \"none\" turns the model off.",
        path.display(),
        dir.display(),
        path.display()
    );
    Ok(())
}
