//! A conversation's status: open (waiting for us), waiting (for the person or someone else) or
//! resolved (the work is done; retention counts from here). Any status may follow any other;
//! resolving also releases the claim, so the conversation is free for whoever picks it up again.

use crate::store::audit::Actor;
use crate::store::Store;

use super::{InboxError, Refusal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Waiting,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Open, Status::Waiting, Status::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Waiting => "waiting",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Result<Status, Refusal> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(Refusal::UnknownStatus)
    }

    /// Changing to this status ends the work on the conversation: the claim is released.
    pub fn releases_claim(self) -> bool {
        self == Status::Resolved
    }
}

/// Sets the conversation's status (a word the caller sent, checked here).
pub async fn set_status(
    store: &Store,
    conversation_id: i64,
    staff_id: i64,
    status: &str,
    actor: &Actor,
) -> Result<Status, InboxError> {
    let status = Status::parse(status)?;
    store
        .set_status(
            conversation_id,
            staff_id,
            status.as_str(),
            status.releases_claim(),
            actor,
        )
        .await?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_statuses_and_only_resolving_releases_the_claim() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Ok(status));
        }
        assert_eq!(Status::parse("closed"), Err(Refusal::UnknownStatus));
        assert_eq!(Status::parse("Open"), Err(Refusal::UnknownStatus));
        let releasing: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| s.releases_claim())
            .collect();
        assert_eq!(releasing, [Status::Resolved]);
    }
}
