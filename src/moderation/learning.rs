//! Where the model's lessons come from: a labelled file (`text<TAB>label`) and the moderators'
//! closed cases. The core of `tavla moderation train [--from-cases] [FILE]`.
//!
//! A closed case is one example. Removed, hidden (and not unhidden again) or reported to the
//! police means the moderators found it abusive: a positive example of the case's categories.
//! Closed without any of those (dismissed, no action, or hidden and then shown again) means it
//! was not: a negative example. A case that has no category triage knows (a staff member's
//! report of something triage missed has only `reported`) is learnt as the general category of
//! its level, because those misses are what the model most needs to learn. S0 cases (questions,
//! own case details) are negatives; S5 cases are never read (metadata only, DESIGN.md §3). What
//! the closing moderator said the message was (`categories` when closing) overrides all of this.

use super::eval::{Labelled, NONE};
use super::model::Example;
use super::triage::{Engine, Severity};
use crate::store::moderation::ClosedCase;

/// What the moderators' closed cases gave.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CaseLessons {
    pub positives: usize,
    pub negatives: usize,
    /// Positives learnt as their level's general category (no known category on the case).
    pub by_level: usize,
    /// Cases without words to learn from (erased).
    pub without_text: usize,
}

/// The category a case of this level is learnt as when it names none that triage knows.
fn general_category(level: &str) -> &'static str {
    match level {
        "S1" => "spam",
        "S2" => "insult",
        "S3" => "harassment",
        _ => "hate",
    }
}

/// Whether the moderators acted against the message: removed it, reported it to the police, or
/// hid it and left it hidden.
pub fn acted(steps: &[String]) -> bool {
    let has = |k: &str| steps.iter().any(|s| s == k);
    has("remove") || has("police_report") || (has("hide") && !has("unhide"))
}

/// Examples from closed cases, with counts.
pub fn from_cases(engine: &Engine, cases: &[ClosedCase]) -> (Vec<Example>, CaseLessons) {
    let known = engine.categories();
    let mut lessons = CaseLessons::default();
    let mut out = Vec::new();
    for case in cases {
        let Some(text) = case.text.as_deref().filter(|t| !t.trim().is_empty()) else {
            lessons.without_text += 1;
            continue;
        };
        // The moderator's own judgement, when they gave it at closing, comes first.
        if let Some(decided) = &case.decided {
            let categories: Vec<String> = decided
                .iter()
                .filter(|c| known.contains(c))
                .cloned()
                .collect();
            if categories.is_empty() {
                lessons.negatives += 1;
            } else {
                lessons.positives += 1;
            }
            out.push(Example {
                text: text.to_string(),
                categories,
            });
            continue;
        }
        let positive = case.level != "S0" && case.level != "S5" && acted(&case.steps);
        let categories = if positive {
            let mut cats: Vec<String> = case
                .categories
                .iter()
                .filter(|c| known.contains(c))
                .cloned()
                .collect();
            if cats.is_empty() {
                lessons.by_level += 1;
                let general = general_category(&case.level).to_string();
                if known.contains(&general) {
                    cats.push(general);
                }
            }
            lessons.positives += 1;
            cats
        } else {
            lessons.negatives += 1;
            Vec::new()
        };
        out.push(Example {
            text: text.to_string(),
            categories,
        });
    }
    (out, lessons)
}

/// The category a file's label is learnt as: itself when it names a category, else the least
/// serious of the categories that predict it in `moderation eval` (`offensive` → insult: the
/// rules raise it when they see more). None for `none`; an error for a label nothing predicts.
pub fn category_of_label(engine: &Engine, label: &str) -> anyhow::Result<Option<String>> {
    if label == NONE {
        return Ok(None);
    }
    let categories = engine.categories();
    if categories.iter().any(|c| c == label) {
        return Ok(Some(label.to_string()));
    }
    let labels = std::iter::once(label.to_string()).collect();
    let map = super::eval::LabelMap::for_labels(engine, &labels);
    let least = map
        .categories_of(label)
        .iter()
        .min_by_key(|c| engine.severity_of(c).unwrap_or(Severity::S5))
        .cloned();
    least.map(Some).ok_or_else(|| {
        anyhow::anyhow!(
            "the label {label:?} names no category ({}) and none predicts it",
            categories.join(", ")
        )
    })
}

/// Examples from a labelled file.
pub fn from_file(engine: &Engine, file: &Labelled) -> anyhow::Result<Vec<Example>> {
    let mut out = Vec::with_capacity(file.rows.len());
    for row in &file.rows {
        let mut categories = Vec::new();
        for label in &row.labels {
            if let Some(c) = category_of_label(engine, label)? {
                if !categories.contains(&c) {
                    categories.push(c);
                }
            }
        }
        out.push(Example {
            text: row.text.clone(),
            categories,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(level: &str, categories: &[&str], steps: &[&str], text: Option<&str>) -> ClosedCase {
        ClosedCase {
            case_id: 1,
            message_id: 1,
            level: level.into(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            decided: None,
            steps: steps.iter().map(|s| s.to_string()).collect(),
            text: text.map(String::from),
        }
    }

    #[test]
    fn the_closing_moderators_judgement_comes_first() {
        let engine = Engine::built_in();
        let decided = |d: &[&str], steps: &[&str]| ClosedCase {
            decided: Some(d.iter().map(|c| c.to_string()).collect()),
            ..case("S2", &["insult"], steps, Some("text"))
        };
        let cases = [
            // Triage said insult and it was removed, but the moderator says: misogyny.
            decided(&["misogyny"], &["remove"]),
            // Hidden, yet the moderator says nothing was wrong with it.
            decided(&[], &["hide"]),
        ];
        let (examples, lessons) = from_cases(&engine, &cases);
        assert_eq!(examples[0].categories, vec!["misogyny".to_string()]);
        assert!(examples[1].categories.is_empty());
        assert_eq!((lessons.positives, lessons.negatives), (1, 1));
    }

    #[test]
    fn cases_become_positive_or_negative_by_what_moderators_did() {
        let engine = Engine::built_in();
        let cases = [
            case(
                "S2",
                &["insult"],
                &["capture_evidence", "remove"],
                Some("din idiot"),
            ),
            case("S4", &["hate"], &["police_report"], Some("x")),
            case("S2", &["insult"], &["hide"], Some("kept hidden")),
            case("S2", &["insult"], &["hide", "unhide"], Some("shown again")),
            case("S3", &["reported"], &["remove"], Some("missed by triage")),
            case("S0", &["reported"], &["hide"], Some("own case details")),
            case("S2", &["insult"], &["remove"], None),
        ];
        let (examples, lessons) = from_cases(&engine, &cases);
        let cats: Vec<Vec<String>> = examples.iter().map(|e| e.categories.clone()).collect();
        assert_eq!(
            cats,
            vec![
                vec!["insult".to_string()],
                vec!["hate".to_string()],
                vec!["insult".to_string()],
                vec![],
                vec!["harassment".to_string()],
                vec![],
            ]
        );
        assert_eq!(
            lessons,
            CaseLessons {
                positives: 4,
                negatives: 2,
                by_level: 1,
                without_text: 1
            }
        );
    }

    #[test]
    fn labels_map_to_categories() {
        let engine = Engine::built_in();
        assert_eq!(
            category_of_label(&engine, "hate").unwrap(),
            Some("hate".into())
        );
        assert_eq!(
            category_of_label(&engine, "offensive").unwrap(),
            Some("insult".into())
        );
        assert_eq!(category_of_label(&engine, "none").unwrap(), None);
        assert!(category_of_label(&engine, "sarcasm").is_err());
    }
}
