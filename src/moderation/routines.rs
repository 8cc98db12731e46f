//! Routines as data: loaded from `config/routines.toml`, enforced by cases, printed for staff.

use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::triage::Severity;

const BUILT_IN: &str = include_str!("../../config/routines.toml");

/// What a step does; some have effects beyond being recorded.
pub const STEP_KINDS: [&str; 13] = [
    "capture_evidence",
    "hide",
    "unhide",
    "remove",
    "reply",
    "refer_secure_channel",
    "notify_poster",
    "register",
    "police_report",
    "block",
    "incident_report",
    "alert",
    "second_confirmation",
];

/// The roles that may take routine steps: moderators, and for steps such as answering a question
/// (S0) the communicators and contact-centre agents who answer in the channel.
pub const STEP_ROLES: [&str; 3] = ["moderator", "communicator", "agent"];

/// The `StepKind` schema of the API description: a step's kind is kept as its name, one of
/// `STEP_KINDS`, and this type only describes it (so the list is written once).
pub struct StepKind;

impl PartialSchema for StepKind {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(STEP_KINDS))
            .description(Some(
                "What a step of a routine does. `capture_evidence`: an immutable, hashed evidence \
                 record of the message (for S5 metadata only); it is also captured automatically \
                 before any `hide`, `unhide` or `remove`. `hide`, `unhide`, `remove`: mark the \
                 local message hidden, visible again or removed (with history; it is never \
                 deleted) and queue the same change on the platform. `police_report` needs \
                 `reference` (the police's diarienummer). `notify_poster` needs `template` or \
                 `text`, and sends the notice to the poster as a private reply (unless `send` is \
                 false). `second_confirmation` can only be taken after the message was removed or \
                 hidden, and not by the moderator who removed (or, when there was no removal, hid) \
                 it. The other kinds (`reply`, `refer_secure_channel`, `register`, `block`, \
                 `incident_report`, `alert`) are recorded with what the body says; they have no \
                 effect in tavla beyond the record.",
            ))
            .into()
    }
}

impl ToSchema for StepKind {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StepKind")
    }
}

/// A role that may take a step, one of `STEP_ROLES`, for the API description.
struct StepRole;

impl PartialSchema for StepRole {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(STEP_ROLES))
            .into()
    }
}

impl ToSchema for StepRole {}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[schema(as = RoutineStep)]
pub struct Step {
    #[schema(value_type = StepKind)]
    pub kind: String,
    /// Must be taken before the case may close.
    #[serde(default)]
    #[schema(required = true)]
    pub required: bool,
    /// Steps sharing a group: at least one of them must be taken before the case may close.
    #[serde(default)]
    #[schema(required = true)]
    pub group: Option<String>,
    /// Who may take the step (config/routines.toml `roles`; moderators alone when the file leaves
    /// it out). Anyone else is refused with 403.
    #[serde(default = "moderators_only")]
    #[schema(value_type = Vec<StepRole>, inline, required = true)]
    pub roles: Vec<String>,
    pub title_sv: String,
    pub title_en: String,
}

fn moderators_only() -> Vec<String> {
    vec!["moderator".to_string()]
}

impl Step {
    pub fn may_be_taken_by(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A role as staff call it, for the printed routines.
fn role_sv(role: &str) -> &str {
    match role {
        "moderator" => "moderator",
        "communicator" => "kommunikatör",
        "agent" => "kontaktcenter",
        other => other,
    }
}

/// What a level's routine asks for, from config/routines.toml (`tavla routines print` renders it
/// for staff). Shipped (version 2026-12-05.1):
///
/// - **S0** (Question, complaint or own case details), due in 4320 minutes. Steps: `reply`,
///   `capture_evidence`, `hide`, `refer_secure_channel`. Required before closing: none. `reply` and
///   `refer_secure_channel` may be taken by moderators, communicators and agents; every other step
///   of every level by moderators only.
/// - **S1** (Spam, off-topic, flooding, party-political campaigning), due in 2880 minutes. Steps:
///   `capture_evidence`, `hide`. Required before closing: `capture_evidence`, `hide`.
/// - **S2** (Profanity, insult, disinformation, third-party personal data), due in 1440 minutes.
///   Steps: `capture_evidence`, `hide`, `remove`, `notify_poster`. Required before closing:
///   `capture_evidence`, `notify_poster`, one of `hide` or `remove`.
/// - **S3** (Harassment, defamation, threats or abuse against staff, sensitive data about others),
///   due in 240 minutes. Steps: `capture_evidence`, `remove`, `register`, `police_report`,
///   `incident_report`, `block`. Required before closing: `capture_evidence`, `remove`, `register`,
///   `block`.
/// - **S4** (Obviously criminal under the Bulletin Board Act (unlawful threat, incitement against a
///   group …)), due in 60 minutes. Steps: `capture_evidence`, `remove`, `register`,
///   `police_report`, `block`, `incident_report`, `second_confirmation`. Required before closing:
///   `capture_evidence`, `remove`, `register`, `police_report`, `block`, `second_confirmation`.
/// - **S5** (Child sexual abuse material; imminent danger), due in 15 minutes. Steps:
///   `capture_evidence`, `remove`, `alert`, `police_report`, `second_confirmation`. Required before
///   closing: `capture_evidence`, `remove`, `alert`, `police_report`, `second_confirmation`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
pub struct Routine {
    #[schema(value_type = Severity)]
    pub level: String,
    pub title_sv: String,
    pub title_en: String,
    /// How soon a case of this level is due.
    #[schema(minimum = 1)]
    pub due_minutes: i64,
    /// The routine in a sentence or two, in Swedish.
    pub summary_sv: String,
    pub steps: Vec<Step>,
}

/// A notice to the poster, written once by communications so that every moderator says the
/// same thing in plain words (the `notify_poster` step sends it as a private reply).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
pub struct Notice {
    pub id: String,
    pub title_sv: String,
    pub title_en: String,
    pub text_sv: String,
    pub text_en: String,
}

impl Notice {
    /// The text in a language ("en" for English; Swedish otherwise).
    pub fn text(&self, language: &str) -> &str {
        if language == "en" {
            &self.text_en
        } else {
            &self.text_sv
        }
    }
}

/// The longest notice text, as for a notice written by hand.
pub const NOTICE_MAX_CHARS: usize = 2000;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Routines {
    pub version: String,
    #[serde(rename = "routine")]
    pub routines: Vec<Routine>,
    #[serde(rename = "notice", default)]
    pub notices: Vec<Notice>,
}

impl Routines {
    pub fn load(path: &Path) -> anyhow::Result<Routines> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BUILT_IN.to_string(),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        };
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn built_in() -> Routines {
        Self::parse(BUILT_IN).expect("the built-in routines are valid")
    }

    pub fn parse(text: &str) -> anyhow::Result<Routines> {
        let r: Routines = toml::from_str(text)?;
        for level in super::triage::Severity::ALL.map(super::triage::Severity::as_str) {
            if r.routines.iter().filter(|x| x.level == level).count() != 1 {
                anyhow::bail!("there must be exactly one routine for level {level}");
            }
        }
        for routine in &r.routines {
            for step in &routine.steps {
                if !STEP_KINDS.contains(&step.kind.as_str()) {
                    anyhow::bail!(
                        "routine {}: unknown step kind {:?}; the kinds are {}",
                        routine.level,
                        step.kind,
                        STEP_KINDS.join(", ")
                    );
                }
            }
            for step in &routine.steps {
                check_roles(&routine.level, step)?;
            }
            let kinds: Vec<_> = routine.steps.iter().map(|s| &s.kind).collect();
            let mut unique = kinds.clone();
            unique.sort();
            unique.dedup();
            if unique.len() != kinds.len() {
                anyhow::bail!("routine {}: a step kind appears twice", routine.level);
            }
            if routine.due_minutes <= 0 {
                anyhow::bail!("routine {}: due_minutes must be positive", routine.level);
            }
        }
        let mut ids: Vec<_> = r.notices.iter().map(|n| n.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        if ids.len() != r.notices.len() {
            anyhow::bail!("a notice id appears twice");
        }
        for notice in &r.notices {
            if notice.id.trim().is_empty() || notice.id.chars().count() > 100 {
                anyhow::bail!("notice ids must have 1 to 100 characters");
            }
            for text in [&notice.text_sv, &notice.text_en] {
                if text.trim().is_empty() || text.chars().count() > NOTICE_MAX_CHARS {
                    anyhow::bail!(
                        "notice {}: each text must have 1 to {NOTICE_MAX_CHARS} characters",
                        notice.id
                    );
                }
            }
        }
        Ok(r)
    }

    pub fn notice(&self, id: &str) -> Option<&Notice> {
        self.notices.iter().find(|n| n.id == id)
    }

    pub fn for_level(&self, level: &str) -> Option<&Routine> {
        self.routines.iter().find(|r| r.level == level)
    }

    /// The routines as a Markdown document for staff.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Rutiner för moderering\n\nVersion {}. Automatisk granskning ger bara förslag: en utbildad moderator beslutar. \
             Bevis säkras alltid innan ett inlägg döljs eller tas bort, och inget raderas ur arkivet av en moderering. \
             Varje steg tas bara av de roller som står vid steget; tjänsten släpper inte fram någon annan.\n",
            self.version
        );
        for r in &self.routines {
            out.push('\n');
            out.push_str(&routine_markdown(r));
        }
        out
    }

    /// One level's routine as the document prints it, headed by the version: what a case of
    /// that level follows, in the words staff read.
    pub fn level_markdown(&self, level: &str) -> Option<String> {
        self.for_level(level).map(|r| {
            format!(
                "# Rutin {} (version {})\n\n{}",
                r.level,
                self.version,
                routine_markdown(r)
            )
        })
    }
}

fn routine_markdown(r: &Routine) -> String {
    let mut out = format!(
        "## {} — {}\n\n*{}*\n\n{}\n\nSka vara klart inom {}.\n\n| steg | krävs | vem får ta steget |\n|---|---|---|\n",
        r.level,
        r.title_sv,
        r.title_en,
        r.summary_sv,
        human_minutes(r.due_minutes)
    );
    for s in &r.steps {
        let required = match (&s.group, s.required) {
            (_, true) => "ja".to_string(),
            (Some(g), false) => format!("minst ett av gruppen \"{g}\""),
            (None, false) => "vid behov".to_string(),
        };
        let who: Vec<&str> = s.roles.iter().map(|r| role_sv(r)).collect();
        out.push_str(&format!(
            "| {} ({}) | {required} | {} |\n",
            s.title_sv,
            s.title_en,
            who.join(", ")
        ));
    }
    out
}

/// A step names at least one role, each one that can take steps; a second moderator's
/// confirmation is a moderator's (DESIGN.md §3).
fn check_roles(level: &str, step: &Step) -> anyhow::Result<()> {
    if step.roles.is_empty() {
        anyhow::bail!(
            "routine {level}: step {} names no role that may take it; write e.g. roles = [\"moderator\"]",
            step.kind
        );
    }
    for role in &step.roles {
        if !STEP_ROLES.contains(&role.as_str()) {
            anyhow::bail!(
                "routine {level}: step {} names the role {role:?}; steps are taken by {}",
                step.kind,
                STEP_ROLES.join(", ")
            );
        }
    }
    if step.kind == "second_confirmation" && step.roles != moderators_only() {
        anyhow::bail!(
            "routine {level}: the second confirmation is a second moderator's: roles = [\"moderator\"]"
        );
    }
    Ok(())
}

fn human_minutes(m: i64) -> String {
    match m {
        m if m % 1440 == 0 => format!("{} dygn", m / 1440),
        m if m % 60 == 0 => format!("{} timmar", m / 60),
        m => format!("{m} minuter"),
    }
}

/// Which required steps (and groups) are still missing, given the kinds done.
pub fn missing_steps(routine: &Routine, done: &[String]) -> Vec<String> {
    let mut missing: Vec<String> = routine
        .steps
        .iter()
        .filter(|s| s.required && !done.contains(&s.kind))
        .map(|s| s.kind.clone())
        .collect();
    let mut groups: Vec<&String> = routine
        .steps
        .iter()
        .filter_map(|s| s.group.as_ref())
        .collect();
    groups.sort();
    groups.dedup();
    for g in groups {
        let members: Vec<&String> = routine
            .steps
            .iter()
            .filter(|s| s.group.as_ref() == Some(g))
            .map(|s| &s.kind)
            .collect();
        if !members.iter().any(|k| done.contains(k)) {
            missing.push(format!(
                "one of {}",
                members
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_routines_are_whole_and_print() {
        let r = Routines::built_in();
        let s4 = r.for_level("S4").unwrap();
        assert!(s4
            .steps
            .iter()
            .any(|s| s.kind == "second_confirmation" && s.required));
        let md = r.to_markdown();
        assert!(md.contains("## S4") && md.contains("Polisanmäl"));
    }

    #[test]
    fn missing_counts_required_steps_and_groups() {
        let r = Routines::built_in();
        let s2 = r.for_level("S2").unwrap();
        let missing = missing_steps(s2, &["capture_evidence".into()]);
        assert_eq!(
            missing,
            vec![
                "notify_poster".to_string(),
                "one of hide or remove".to_string()
            ]
        );
        assert!(missing_steps(
            s2,
            &[
                "capture_evidence".into(),
                "remove".into(),
                "notify_poster".into()
            ]
        )
        .is_empty());
    }

    #[test]
    fn each_step_names_who_may_take_it() {
        let r = Routines::built_in();
        let s0 = r.for_level("S0").unwrap();
        let reply = s0.steps.iter().find(|s| s.kind == "reply").unwrap();
        assert!(reply.may_be_taken_by("communicator") && reply.may_be_taken_by("moderator"));
        let hide = s0.steps.iter().find(|s| s.kind == "hide").unwrap();
        assert!(hide.may_be_taken_by("moderator") && !hide.may_be_taken_by("communicator"));
        let md = r.level_markdown("S0").unwrap();
        assert!(md.contains("| vem får ta steget |") && md.contains("kommunikatör"));
        // A file that leaves roles out gives the step to moderators.
        let text = BUILT_IN.replace(", roles = [\"moderator\"]", "");
        let bare = Routines::parse(&text).unwrap();
        let s4 = bare.for_level("S4").unwrap();
        assert!(s4.steps.iter().all(|s| s.roles == ["moderator"]));
    }

    #[test]
    fn roles_that_cannot_take_steps_are_refused() {
        let text = BUILT_IN.replacen(
            "kind = \"block\", required = true, roles = [\"moderator\"]",
            "kind = \"block\", required = true, roles = [\"auditor\"]",
            1,
        );
        let error = Routines::parse(&text).unwrap_err().to_string();
        assert!(
            error.contains("auditor") && error.contains("block"),
            "{error}"
        );
        let text = BUILT_IN.replacen(
            "kind = \"second_confirmation\", required = true, roles = [\"moderator\"]",
            "kind = \"second_confirmation\", required = true, roles = [\"moderator\", \"communicator\"]",
            1,
        );
        let error = Routines::parse(&text).unwrap_err().to_string();
        assert!(error.contains("second moderator"), "{error}");
        let text = BUILT_IN.replacen(
            "kind = \"block\", required = true, roles = [\"moderator\"]",
            "kind = \"block\", required = true, roles = []",
            1,
        );
        assert!(Routines::parse(&text).is_err());
    }

    #[test]
    fn invalid_routines_are_refused() {
        let text = BUILT_IN.replace(
            "kind = \"block\", required",
            "kind = \"teleport\", required",
        );
        assert!(Routines::parse(&text)
            .unwrap_err()
            .to_string()
            .contains("teleport"));
    }
}
