//! All data about one person (GDPR art. 15), as one JSON document. What the person wrote is
//! theirs and is given in full; what others wrote in their conversations (staff replies) is
//! given with personal data masked, since it may name third parties. Staff's internal notes on
//! the person's own (direct-message) conversations are about them and given likewise masked; notes
//! on public comment threads are left out, as those threads are many people's.

use serde::Serialize;
use serde_json::{json, Value};

use crate::store::person::{PersonCase, PersonConversation, PersonReaction};
use crate::store::privacy::AuthorRow;
use crate::store::scope::ReadScope;
use crate::store::{Store, StoreError};

/// Everything stored about the person with this platform id (one entry per platform where the id
/// is known). Their own messages in full (`written_by_person`: true); what others wrote in their
/// DM conversations (staff replies) with personal data masked. Messages of S5 content carry no
/// words (`text` null, `withheld` `s5`). A caller with a channel scope gets what is on those
/// channels.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonExport {
    pub platform_id: String,
    #[schema(schema_with = crate::described::timestamp)]
    pub generated_at: i64,
    #[schema(inline)]
    pub people: Vec<PersonRecords>,
}

/// What is stored about the person on one platform.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonRecords {
    pub author: AuthorRow,
    #[schema(value_type = Vec<Object>)]
    pub conversations: Vec<PersonConversation>,
    /// Staff's notes on the person's direct-message conversations, masked, each with its
    /// `conversation_id`.
    #[schema(value_type = Vec<Object>)]
    pub notes: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub moderation_cases: Vec<PersonCase>,
    #[schema(value_type = Vec<Object>)]
    pub reactions: Vec<PersonReaction>,
    #[schema(value_type = Vec<Object>)]
    pub legal_holds: Vec<Value>,
}

/// The export for a platform id, within `scope` (a DPO's `ReadScope::privacy_request`, or the
/// operator's on the command line); None when no such person is stored. S5 content is kept as
/// metadata only: its words are not exported either.
pub async fn export(
    store: &Store,
    scope: &ReadScope,
    platform_id: &str,
) -> Result<Option<PersonExport>, StoreError> {
    let authors: Vec<_> = store
        .authors_by_platform_id(platform_id)
        .await?
        .into_iter()
        .filter(|a| !a.platform_id.starts_with("pseudonym:"))
        .collect();
    if authors.is_empty() {
        return Ok(None);
    }
    let holds = store.holds(false).await?;
    let mut people = Vec::new();
    for author in authors {
        let mut messages = Vec::new();
        for m in store.person_messages(scope, author.id).await? {
            let own = m.author_id == Some(author.id);
            let mut v = serde_json::to_value(&m).unwrap_or_default();
            v["written_by_person"] = own.into();
            if !own {
                super::masking::message_json(&mut v);
            }
            messages.push(v);
        }
        let conversations = store.person_conversations(scope, author.id).await?;
        let message_ids: Vec<i64> = messages.iter().filter_map(|m| m["id"].as_i64()).collect();
        let conversation_ids: Vec<i64> = conversations.iter().map(|c| c.id).collect();
        let on_hold: Vec<_> = holds
            .iter()
            .filter(|h| match h.scope.as_str() {
                "author" => h.target_id == author.id,
                "message" => message_ids.contains(&h.target_id),
                _ => conversation_ids.contains(&h.target_id),
            })
            .map(|h| json!({"id": h.id, "scope": h.scope, "target_id": h.target_id, "placed_at": h.placed_at}))
            .collect();
        let notes = conversation_notes(store, &conversations).await?;
        let moderation_cases = store.person_cases(author.id).await?;
        let reactions = store.person_reactions(author.id).await?;
        people.push(PersonRecords {
            author,
            conversations,
            notes,
            messages,
            moderation_cases,
            reactions,
            legal_holds: on_hold,
        });
    }
    Ok(Some(PersonExport {
        platform_id: platform_id.to_string(),
        generated_at: crate::store::now_ms(),
        people,
    }))
}

/// Staff's notes on the person's direct-message conversations, masked, with the conversation
/// each belongs to.
async fn conversation_notes(
    store: &Store,
    conversations: &[PersonConversation],
) -> Result<Vec<Value>, StoreError> {
    let mut out = Vec::new();
    for c in conversations.iter().filter(|c| c.kind == "dm") {
        for n in store.notes_of(c.id).await? {
            let mut v = serde_json::to_value(&n).unwrap_or_default();
            v["conversation_id"] = c.id.into();
            v["text"] = crate::text::detectors::mask(&n.text).into();
            out.push(v);
        }
    }
    Ok(out)
}
