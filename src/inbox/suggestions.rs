//! What the inbox suggests to whoever answers: when the thread's newest question belongs to a FAQ
//! cluster that a saved reply answers, that reply (the agent chooses; nothing is sent for them).

use serde::Serialize;

use crate::faq::signals::FaqSignals;
use crate::store::conversations::ConversationDetail;
use crate::store::saved_replies::SavedReply;
use crate::store::{Result, Store};

/// The saved reply suggested for a conversation: the conversation's newest inbound message is a
/// question in a FAQ cluster (after communicators' merges; moves of single questions are not
/// followed) whose `answered_url` is `saved-reply:ID`, and that reply exists and is not archived.
/// Its channel and language are not compared with the conversation's.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SuggestedReply)]
pub struct Suggestion {
    /// The FAQ cluster the newest inbound message counts in.
    pub faq_cluster: u64,
    pub saved_reply: SavedReply,
}

/// The FAQ cluster of the thread's newest question, if it has one.
pub async fn question_cluster(
    store: &Store,
    faq: &FaqSignals,
    detail: &ConversationDetail,
) -> Result<Option<u64>> {
    let Some(last) = detail
        .messages
        .iter()
        .rev()
        .find(|m| m.direction == "inbound")
    else {
        return Ok(None);
    };
    let curations = store.curations().await?;
    let moves = store.faq_moves().await?;
    // A public question is in its cluster; a direct message is matched to the nearest one
    // without joining it (communicators never see DM text).
    let placed = faq
        .clusters_of_messages(store, &[last.id], &curations, &moves)
        .await?;
    Ok(placed.get(&last.id).copied().or_else(|| {
        last.text
            .as_deref()
            .filter(|t| crate::faq::question::is_question(t))
            .and_then(|t| faq.nearest_cluster(t, &curations))
    }))
}

/// The saved reply that answers the cluster (its curation's `saved-reply:{id}`), unless archived.
pub async fn suggested_reply(store: &Store, cluster: Option<u64>) -> Result<Option<Suggestion>> {
    let Some(cluster) = cluster else {
        return Ok(None);
    };
    let curations = store.curations().await?;
    let reply_id = curations
        .iter()
        .find(|c| c.cluster_id == cluster as i64)
        .and_then(|c| c.answered_url.as_deref())
        .and_then(|u| u.strip_prefix("saved-reply:"))
        .and_then(|id| id.parse::<i64>().ok());
    let Some(reply_id) = reply_id else {
        return Ok(None);
    };
    Ok(match store.saved_reply(reply_id).await? {
        Some(r) if !r.archived => Some(Suggestion {
            faq_cluster: cluster,
            saved_reply: r,
        }),
        _ => None,
    })
}
