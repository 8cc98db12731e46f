//! The access paragraph of every operation, written from the route table's rule, the roles'
//! capabilities and the shipped training config. It was hand-written per operation, and drifted
//! (roles renamed in one place, CSRF left out of five changes): now it is worded once, here.

use crate::access::training::TrainingConfig;
use crate::access::{Capability, Role};
use crate::http::Rule;

/// What the route's rule asks of the caller, as a sentence or a few, then what the operation
/// itself asks beyond it (`further`, from its description); `change` adds the CSRF clause that
/// every change made with the session cookie meets.
pub fn paragraph(rule: &Rule, change: bool, further: &str, training: &TrainingConfig) -> String {
    let mut text = match rule {
        Rule::Public => "public: no sign-in, no capability, no training.".to_string(),
        Rule::SignedIn => {
            "any signed-in staff member (API token or session cookie); no capability \
             and no training needed."
                .to_string()
        }
        Rule::Needs(capability) => needs_one(*capability, training),
        Rule::AnyOf(capabilities) => needs_any(capabilities, training),
    };
    if !further.is_empty() {
        text.push(' ');
        text.push_str(further);
    }
    if change && !matches!(rule, Rule::Public) {
        text.push_str(CSRF);
    }
    text
}

const CSRF: &str = " With the session cookie, this change also needs the `X-CSRF-Token` header \
    (the `csrf_token` from sign-in); without it, or with a wrong one, the answer is 403.";

const EFFECTIVE: &str = "effective: the caller's role grants it AND every training module \
    config/training.toml requires for it is completed and not expired";

const REFUSAL: &str = "when the role lacks the capability, `detail` says so; when the role \
    grants it but training is missing or expired, the problem document carries \
    `missing_training`, the ids of the modules still needed.";

fn needs_one(capability: Capability, training: &TrainingConfig) -> String {
    let untrained = if requirements(capability, training).is_empty() {
        format!(
            " The shipped config requires no training for `{}`; operators who add modules to it \
             make them required here too.",
            capability.as_str()
        )
    } else {
        String::new()
    };
    format!(
        "needs the capability {}. The capability must be {EFFECTIVE}.{untrained} Otherwise the \
         answer is 403: {REFUSAL}",
        granted(capability, training)
    )
}

fn needs_any(capabilities: &[Capability], training: &TrainingConfig) -> String {
    let each: Vec<String> = capabilities.iter().map(|c| granted(*c, training)).collect();
    format!(
        "needs at least one of the capabilities {}, {EFFECTIVE}. When none is effective the \
         answer is 403, about the first of them the role grants (or the first listed when it \
         grants none): {REFUSAL}",
        each.join("; ")
    )
}

/// "`see_faq` (granted by the role communicator; training it requires in the shipped
/// config/training.toml: `social-media-basics`)"
fn granted(capability: Capability, training: &TrainingConfig) -> String {
    let roles: Vec<&str> = Role::ALL
        .into_iter()
        .filter(|r| r.can(capability))
        .map(Role::as_str)
        .collect();
    let by = match roles.as_slice() {
        [] => "no role".to_string(),
        [one] => format!("the role {one}"),
        [first @ .., last] => format!("the roles {} and {last}", first.join(", ")),
    };
    let modules = requirements(capability, training);
    let modules = if modules.is_empty() {
        "none".to_string()
    } else {
        modules
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "`{}` (granted by {by}; training it requires in the shipped config/training.toml: \
         {modules})",
        capability.as_str()
    )
}

/// What each role grants and what training each capability asks for in the shipped config, for
/// the document's introduction (its `{roles_and_training}`): written from `Role::capabilities`
/// and `config/training.toml`, so a capability added to a role is described the day it is.
pub fn roles_and_training(training: &TrainingConfig) -> String {
    let grants: Vec<String> = Role::ALL
        .into_iter()
        .map(|role| {
            let gloss = match role {
                Role::Auditor => " (the data-protection officer)",
                Role::Integration => " (service accounts only)",
                _ => "",
            };
            let capabilities: Vec<String> = role
                .capabilities()
                .iter()
                .map(|c| format!("`{}`", c.as_str()))
                .collect();
            format!("{}{gloss}: {}", role.as_str(), capabilities.join(", "))
        })
        .collect();
    let required: Vec<String> = Capability::ALL
        .into_iter()
        .map(|c| {
            let modules = requirements(c, training);
            let modules = if modules.is_empty() {
                "none".to_string()
            } else {
                modules.join(", ")
            };
            format!("`{}`: {modules}", c.as_str())
        })
        .collect();
    format!(
        "Roles grant: {}. Training required in the shipped config/training.toml (operators may \
         change it): {}.",
        grants.join("; "),
        required.join("; ")
    )
}

fn requirements(capability: Capability, training: &TrainingConfig) -> &[String] {
    training
        .requirements
        .get(&capability)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_granting_role_and_the_shipped_training() {
        let training = TrainingConfig::built_in();
        let text = paragraph(&Rule::Needs(Capability::SeeReports), false, "", &training);
        assert!(
            text.starts_with(
                "needs the capability `see_reports` (granted by the roles communicator, admin \
                 and auditor; training it requires in the shipped config/training.toml: `gdpr`)"
            ),
            "{text}"
        );
        assert!(!text.contains("X-CSRF-Token"), "{text}");
    }

    #[test]
    fn a_change_names_the_csrf_header_and_untrained_capabilities_say_so() {
        let training = TrainingConfig::built_in();
        let text = paragraph(
            &Rule::Needs(Capability::ManageStaff),
            true,
            "Then X.",
            &training,
        );
        assert!(
            text.contains("requires no training for `manage_staff`"),
            "{text}"
        );
        assert!(text.ends_with("the answer is 403."), "{text}");
        assert!(
            text.contains("modules still needed. Then X. With the session"),
            "{text}"
        );
        assert!(text.contains("`X-CSRF-Token`"), "{text}");
        let public = paragraph(&Rule::Public, true, "", &training);
        assert!(!public.contains("X-CSRF-Token"), "{public}");
    }

    #[test]
    fn the_introduction_names_every_role_and_capability() {
        let text = roles_and_training(&TrainingConfig::built_in());
        for role in Role::ALL {
            assert!(text.contains(role.as_str()), "{text}");
        }
        for capability in Capability::ALL {
            assert!(
                text.contains(&format!("`{}`: ", capability.as_str())),
                "{text}"
            );
        }
        assert!(
            text.contains(
                "communicator: `read_comments`, `answer_comments`, `see_faq`, `see_reports`"
            ),
            "{text}"
        );
    }

    #[test]
    fn any_of_lists_each_capability_with_its_roles() {
        let training = TrainingConfig::built_in();
        let text = paragraph(
            &Rule::AnyOf(&[Capability::ReadDms, Capability::ReadComments]),
            false,
            "",
            &training,
        );
        assert!(
            text.contains("`read_dms` (granted by the role agent;"),
            "{text}"
        );
        assert!(
            text.contains("`read_comments` (granted by the roles communicator and moderator;"),
            "{text}"
        );
    }
}
