//! Retention rules from `config/retention.toml` (the archivist's dokumenthanteringsplan as data).

use std::path::Path;

use serde::{Deserialize, Serialize};

const BUILT_IN: &str = include_str!("../../config/retention.toml");
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposal {
    Delete,
    Pseudonymise,
}

/// What an erasure request does to a record whose period has not run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRequest {
    Keep,
    Pseudonymise,
    Delete,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub platform: String,
    pub message_kind: String,
    pub keep_days: i64,
    /// For a message that was under a moderation case: counted from the case's closing.
    pub case_keep_days: Option<i64>,
    pub then: Disposal,
    pub on_request: OnRequest,
}

impl Rule {
    /// A short name for reports: `facebook/comment`, `*/dm`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.platform, self.message_kind)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRules {
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
    /// The records beside the messages; a file without the section gets the shipped periods.
    #[serde(default)]
    pub other: OtherRecords,
}

/// Periods, in days, of the records that are not messages but still name or trace a person.
/// Each is deleted when its period has run; 0 deletes at the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtherRecords {
    /// Who reacted to what, from the reaction's time. A legal hold on the person keeps theirs.
    pub reactions_days: i64,
    /// Deliveries for a channel nobody has approved, from their arrival.
    pub quarantine_waiting_days: i64,
    /// Deliveries already released into the store, from their release: the raw copy must not
    /// outlive the record's own period.
    pub quarantine_released_days: i64,
    /// Deliveries tavla could not understand, kept verbatim, from their arrival.
    pub unrecognised_days: i64,
    /// Staff sessions (with the address they came from), from their end or last use.
    pub sessions_days: i64,
    /// Failed sign-ins (the name tried and the address), from the attempt.
    pub signin_failures_days: i64,
    /// A person (name and platform id) no message, conversation, post or reaction refers to any
    /// more and no legal hold names, from when tavla first saw them.
    pub people_days: i64,
    /// Post follow-up (issue 21). Measurements of a post's figures (reach, shares…: aggregates
    /// the platform gives, naming no one), from when they were made; each figure's latest
    /// measurement stays with its post, so the post's view and goals keep its final figure and
    /// only the series thins out.
    pub post_figures_days: i64,
    /// Web sessions and goal completions per day and UTM campaign (aggregates; the row names
    /// the staff member who imported it), from the day they count.
    pub campaign_analytics_days: i64,
    /// Goals (a staff member's plan), from the day they were judged on; a campaign, from its
    /// creation once no goal is left on it (its posts stay).
    pub post_plans_days: i64,
    /// Communicators' notes on a post's evaluation: staff's free text, which may name people,
    /// from when they were written.
    pub post_notes_days: i64,
}

impl Default for OtherRecords {
    fn default() -> Self {
        OtherRecords {
            reactions_days: 365,
            quarantine_waiting_days: 365,
            quarantine_released_days: 30,
            unrecognised_days: 180,
            sessions_days: 365,
            signin_failures_days: 365,
            people_days: 30,
            post_figures_days: 730,
            campaign_analytics_days: 1095,
            post_plans_days: 730,
            post_notes_days: 730,
        }
    }
}

impl OtherRecords {
    fn periods(&self) -> [(&'static str, i64); 11] {
        [
            ("reactions_days", self.reactions_days),
            ("quarantine_waiting_days", self.quarantine_waiting_days),
            ("quarantine_released_days", self.quarantine_released_days),
            ("unrecognised_days", self.unrecognised_days),
            ("sessions_days", self.sessions_days),
            ("signin_failures_days", self.signin_failures_days),
            ("people_days", self.people_days),
            ("post_figures_days", self.post_figures_days),
            ("campaign_analytics_days", self.campaign_analytics_days),
            ("post_plans_days", self.post_plans_days),
            ("post_notes_days", self.post_notes_days),
        ]
    }
}

impl RetentionRules {
    pub fn load(path: &Path) -> anyhow::Result<RetentionRules> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BUILT_IN.to_string(),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        };
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn built_in() -> RetentionRules {
        Self::parse(BUILT_IN).expect("the built-in retention rules are valid")
    }

    pub fn parse(text: &str) -> anyhow::Result<RetentionRules> {
        let r: RetentionRules = toml::from_str(text)?;
        for rule in &r.rules {
            if rule.keep_days < 0 || rule.case_keep_days.is_some_and(|d| d < 0) {
                anyhow::bail!("rule {}: a period cannot be negative", rule.name());
            }
        }
        if let Some((name, _)) = r.other.periods().into_iter().find(|(_, days)| *days < 0) {
            anyhow::bail!("[other] {name}: a period cannot be negative");
        }
        if !r
            .rules
            .iter()
            .any(|x| x.platform == "*" && x.message_kind == "*")
        {
            anyhow::bail!(
                "add a last rule with platform = \"*\" and message_kind = \"*\", so every record has a period"
            );
        }
        Ok(r)
    }

    /// The first rule for a platform and message kind.
    pub fn for_message(&self, platform: &str, message_kind: &str) -> &Rule {
        self.rules
            .iter()
            .find(|r| {
                (r.platform == "*" || r.platform == platform)
                    && (r.message_kind == "*" || r.message_kind == message_kind)
            })
            .unwrap_or_else(|| self.rules.last().expect("parse requires a catch-all rule"))
    }
}

/// When a record's period runs out: its conversation's resolution (or its case's closing, when it
/// had one and that came later) plus the rule's period. None while the conversation is open.
pub fn due_at(rule: &Rule, resolved_at: Option<i64>, case_closed_at: Option<i64>) -> Option<i64> {
    let resolved = resolved_at?;
    Some(match case_closed_at {
        Some(closed) => {
            resolved.max(closed) + rule.case_keep_days.unwrap_or(rule.keep_days) * DAY_MS
        }
        None => resolved + rule.keep_days * DAY_MS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rules_give_dms_two_years_and_comments_one() {
        let rules = RetentionRules::built_in();
        let dm = rules.for_message("facebook", "dm");
        assert_eq!((dm.keep_days, dm.then), (730, Disposal::Pseudonymise));
        let comment = rules.for_message("instagram", "comment");
        assert_eq!((comment.keep_days, comment.then), (365, Disposal::Delete));
        assert_eq!(due_at(comment, Some(0), None), Some(365 * DAY_MS));
        // Under a case closed later: two years from the closing.
        assert_eq!(due_at(comment, Some(0), Some(10)), Some(10 + 730 * DAY_MS));
        assert_eq!(due_at(comment, None, None), None);
        assert_eq!(rules.for_message("linkedin", "reel").name(), "*/*");
    }

    #[test]
    fn rules_without_a_catch_all_are_refused() {
        let err = RetentionRules::parse(
            "[[rule]]\nplatform = \"*\"\nmessage_kind = \"dm\"\nkeep_days = 1\nthen = \"delete\"\non_request = \"keep\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("message_kind = \"*\""), "{err}");
    }

    const CATCH_ALL: &str = "[[rule]]\nplatform = \"*\"\nmessage_kind = \"*\"\nkeep_days = 1\nthen = \"delete\"\non_request = \"keep\"\n";

    #[test]
    fn the_other_records_take_the_shipped_periods_unless_set() {
        // The shipped file states the same periods as a file without the section gets.
        assert_eq!(RetentionRules::built_in().other, OtherRecords::default());
        let own =
            RetentionRules::parse(&format!("{CATCH_ALL}[other]\nreactions_days = 30\n")).unwrap();
        assert_eq!(own.other.reactions_days, 30);
        assert_eq!(own.other.sessions_days, 365);
        let negative = RetentionRules::parse(&format!("{CATCH_ALL}[other]\nsessions_days = -1\n"))
            .unwrap_err();
        assert!(negative.to_string().contains("sessions_days"), "{negative}");
        let unknown =
            RetentionRules::parse(&format!("{CATCH_ALL}[other]\nreaction_days = 3\n")).unwrap_err();
        assert!(unknown.to_string().contains("reaction_days"), "{unknown}");
    }
}
