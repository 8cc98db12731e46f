//! Claims: one agent works on a conversation at a time, for a lease that replying renews, so two
//! colleagues do not answer the same person. Whether someone else holds the claim is decided in
//! the store, in the same statement that takes it (`Store::claim`'s conditional update under the
//! row lock): checked anywhere else, two claims at once could both see it free. The inbox sets
//! the lease and says what a refusal means.

use crate::settings::Settings;
use crate::store::audit::Actor;
use crate::store::conversations::{ClaimInfo, ClaimOutcome};
use crate::store::Store;

use super::refusal::no_conversation;
use super::{InboxError, Refusal};

/// How long a claim lasts from the moment it is taken or renewed.
pub fn lease_ms(settings: &Settings) -> i64 {
    settings.claim_lease_seconds * 1000
}

/// Takes or renews the agent's claim.
pub async fn claim(
    store: &Store,
    conversation_id: i64,
    staff_id: i64,
    lease_ms: i64,
    actor: &Actor,
) -> Result<ClaimInfo, InboxError> {
    held(
        conversation_id,
        store
            .claim(conversation_id, staff_id, lease_ms, actor)
            .await?,
    )
}

/// Gives the agent's claim up; refused while someone else holds it.
pub async fn release(
    store: &Store,
    conversation_id: i64,
    staff_id: i64,
    actor: &Actor,
) -> Result<(), InboxError> {
    held(
        conversation_id,
        store.release(conversation_id, staff_id, actor).await?,
    )
    .map(|_| ())
}

fn held(conversation_id: i64, outcome: ClaimOutcome) -> Result<ClaimInfo, InboxError> {
    match outcome {
        ClaimOutcome::Claimed(claim) => Ok(claim),
        ClaimOutcome::HeldBy(claim) => Err(Refusal::HeldBy(claim).into()),
        ClaimOutcome::NotFound => Err(no_conversation(conversation_id)),
    }
}
