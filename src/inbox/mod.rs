//! The inbox: the rules of answering people (DESIGN.md §2). Which statuses a conversation has and
//! what a change of status does, what a reply may say and when the platform still takes it (the
//! reply window, the HUMAN_AGENT tag), who holds a conversation (claims), when an answer is due
//! (the service level), and which saved reply to suggest. The store persists what the inbox
//! decides; `http` only parses, calls the inbox and answers. The inbox never imports `http`, and
//! the store never imports the inbox (checked by the `layers` tests below and in `store`).

pub mod claims;
pub mod queue;
pub mod refusal;
pub mod reply;
pub mod service_level;
pub mod status;
pub mod suggestions;
pub mod window;

pub use refusal::{InboxError, Refusal};
pub use reply::{reply, retry, Draft, Redraft};
pub use status::{set_status, Status};

#[cfg(test)]
mod layers {
    //! DESIGN.md §4: a capability never imports `http`; its rules reach HTTP as `Refusal`s.

    #[test]
    fn the_inbox_does_not_import_http() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/inbox");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("src/inbox is readable") {
            let path = entry.expect("an entry").path();
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            // Spelled in pieces so that this file does not find itself.
            let needles = ["crate::{}::", "crate::{};", "super::{}"]
                .map(|form| form.replace("{}", "http"))
                .into_iter()
                .chain([format!("{}::", "axum")]);
            for needle in needles {
                assert!(
                    !text.contains(&needle),
                    "{} uses {needle}: the inbox decides, http answers",
                    path.display()
                );
            }
            checked += 1;
        }
        assert!(checked >= 5, "the inbox's files were read ({checked})");
    }
}
