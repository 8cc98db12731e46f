//! All data about one person (GDPR art. 15), as one JSON document. What the person wrote is
//! theirs and is given in full; what others wrote in their conversations (staff replies) is
//! given with personal data masked, since it may name third parties. Staff's internal notes on
//! the person's own (direct-message) conversations are about them and given likewise masked; notes
//! on public comment threads are left out, as those threads are many people's.

use serde_json::{json, Value};

use crate::store::scope::ReadScope;
use crate::store::{Store, StoreError};

/// The export for a platform id, within `scope` (a DPO's `ReadScope::privacy_request`, or the
/// operator's on the command line); None when no such person is stored. S5 content is kept as
/// metadata only: its words are not exported either.
pub async fn export(
    store: &Store,
    scope: &ReadScope,
    platform_id: &str,
) -> Result<Option<Value>, StoreError> {
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
    for author in &authors {
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
        people.push(json!({
            "author": author,
            "conversations": conversations,
            "notes": notes,
            "messages": messages,
            "moderation_cases": store.person_cases(author.id).await?,
            "reactions": store.person_reactions(author.id).await?,
            "legal_holds": on_hold,
        }));
    }
    Ok(Some(json!({
        "platform_id": platform_id,
        "generated_at": crate::store::now_ms(),
        "people": people,
    })))
}

/// Staff's notes on the person's direct-message conversations, masked, with the conversation
/// each belongs to.
async fn conversation_notes(
    store: &Store,
    conversations: &[crate::store::person::PersonConversation],
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
