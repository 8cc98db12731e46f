//! One rule for reading message text, by construction. Every store read that returns what people
//! wrote (message text and its history, previews, post text, snippets, FAQ labels and examples,
//! quarantined items, moderation previews and evidence, heated threads, reports, a person's
//! export) takes a `ReadScope`, and applies it where the rows are selected: conversations of a
//! kind or channel outside it are not even loaded. Within it, a message's words are withheld
//! (text null, `withheld` saying why) when they are S5 content — child sexual abuse material or
//! imminent danger, kept as metadata only (DESIGN.md §3) for every reader, with no exception — or
//! hidden, removed or deleted content for a reader who does not moderate.
//!
//! The store imports no capability module (DESIGN.md §4), so a scope is plain data. Its fields are
//! private: the HTTP layer builds one from the caller (`Caller::read_scope`), and the command line
//! and the service's own jobs take `ReadScope::operator()`, by name, so that every wide read can
//! be found with grep.

use serde::Serialize;

use crate::model::ConversationKind;

/// Conversation kinds, as conversations store them.
pub const DM: &str = ConversationKind::Dm.as_str();
pub const COMMENTS: &str = ConversationKind::Comments.as_str();

/// What a staff member may read, as the HTTP layer worked it out from their role, training and
/// channel limit. Given only to `ReadScope::for_staff`.
#[derive(Debug, Clone, Default)]
pub struct StaffReading {
    pub read_dms: bool,
    pub read_comments: bool,
    /// Moderators see what was hidden, removed or deleted (they decide about it).
    pub moderate: bool,
    /// The channels the staff member is limited to; None for every channel.
    pub channels: Option<Vec<i64>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadScope {
    kinds: Vec<&'static str>,
    channels: Option<Vec<i64>>,
    moderated: bool,
}

/// Why a message's words are not shown to this reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Withheld {
    /// S5 content: metadata only, for everyone, in every view (DESIGN.md §3).
    S5,
    Hidden,
    Removed,
    Deleted,
    /// The reader does not read this kind of conversation (quarantined items show what waits,
    /// not what people wrote).
    Kind,
}

impl ReadScope {
    /// A staff member's scope. Only `Caller::read_scope` (src/http/auth.rs) calls this, with the
    /// caller's effective capabilities and channel limit.
    pub fn for_staff(reading: StaffReading) -> ReadScope {
        let mut kinds = Vec::new();
        if reading.read_dms {
            kinds.push(DM);
        }
        if reading.read_comments {
            kinds.push(COMMENTS);
        }
        ReadScope {
            kinds,
            channels: reading.channels,
            moderated: reading.moderate,
        }
    }

    /// A data-protection officer answering one person's request for their data (GDPR art. 15):
    /// what the person wrote in any kind of conversation, hidden or removed included, within the
    /// officer's channel limit. Only `Caller::privacy_request_scope` (src/http/auth.rs) calls
    /// this, for a caller who handles privacy requests.
    pub fn privacy_request(channels: Option<Vec<i64>>) -> ReadScope {
        ReadScope {
            kinds: vec![DM, COMMENTS],
            channels,
            moderated: true,
        }
    }

    /// Every kind and channel, hidden content included: for the command line (run by an operator
    /// who already holds the database) and the service's own jobs (the search index, FAQ
    /// clustering, on-call alerts). Never for an HTTP request. The S5 rule still holds.
    pub fn operator() -> ReadScope {
        ReadScope {
            kinds: vec![DM, COMMENTS],
            channels: None,
            moderated: true,
        }
    }

    /// The conversation kinds readable ("dm", "comments").
    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }

    /// The channel limit; None for every channel.
    pub fn channels(&self) -> Option<&[i64]> {
        self.channels.as_deref()
    }

    pub fn may_read_kind(&self, kind: &str) -> bool {
        self.kinds.contains(&conversation_kind(kind))
    }

    /// Within the channel limit (whatever the kind).
    pub fn within_channel(&self, channel_id: i64) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|channels| channels.contains(&channel_id))
    }

    /// Without a channel limit: what belongs to no channel (quarantine for unregistered pages,
    /// FAQ topics across every channel) is for such readers only.
    pub fn every_channel(&self) -> bool {
        self.channels.is_none()
    }

    /// May read conversations of this kind on this channel.
    pub fn may_read(&self, kind: &str, channel_id: i64) -> bool {
        self.may_read_kind(kind) && self.within_channel(channel_id)
    }

    /// Sees hidden, removed and deleted content.
    pub fn sees_moderated(&self) -> bool {
        self.moderated
    }

    /// Why the words of a message in a readable conversation are withheld, if they are.
    pub fn withheld(&self, state: &str, s5: bool) -> Option<Withheld> {
        if s5 {
            return Some(Withheld::S5);
        }
        if self.moderated || state == "visible" {
            return None;
        }
        Some(match state {
            "removed" => Withheld::Removed,
            "deleted" => Withheld::Deleted,
            _ => Withheld::Hidden,
        })
    }

    /// The message states whose words this reader sees.
    pub fn readable_states(&self) -> &'static [&'static str] {
        if self.moderated {
            &crate::model::MESSAGE_STATES
        } else {
            &["visible"]
        }
    }

    /// SQL conditions limiting rows to this scope: `kind` is a column holding a conversation kind,
    /// `channel` one holding a channel id. Values are appended to `args`. None when the scope
    /// reads nothing at all (the caller returns no rows without asking the database).
    pub(crate) fn conditions(&self, kind: &str, channel: &str, args: &mut Args) -> Option<String> {
        if self.kinds.is_empty() {
            return None;
        }
        let kinds: Vec<String> = self.kinds.iter().map(|k| args.text(k)).collect();
        let mut conditions = vec![format!("{kind} in ({})", kinds.join(", "))];
        self.limit_channels(channel, args, &mut conditions)
            .then(|| conditions.join(" and "))
    }

    /// `condition` (which binds its own values first) and this scope's conditions on the columns
    /// `kind` and `channel`, joined, with the values to bind; None when the scope reads nothing.
    pub(crate) fn where_readable(
        &self,
        kind: &str,
        channel: &str,
        condition: impl FnOnce(&mut Args) -> String,
    ) -> Option<(String, Args)> {
        let mut args = Args::default();
        let first = condition(&mut args);
        let within = self.conditions(kind, channel, &mut args)?;
        Some((format!("{first} and {within}"), args))
    }

    /// Adds the channel limit (if any) on the column `channel` to `conditions`. False when the
    /// limit is empty: no row can match.
    pub(crate) fn limit_channels(
        &self,
        channel: &str,
        args: &mut Args,
        conditions: &mut Vec<String>,
    ) -> bool {
        let Some(channels) = &self.channels else {
            return true;
        };
        if channels.is_empty() {
            return false;
        }
        let ids: Vec<String> = channels.iter().map(|c| args.int(*c)).collect();
        conditions.push(format!("{channel} in ({})", ids.join(", ")));
        true
    }

    /// SQL condition on a message alias: its words are readable here (state and S5).
    pub(crate) fn readable_message(&self, message: &str) -> String {
        let s5 = s5_of(message);
        if self.moderated {
            format!("not {s5}")
        } else {
            format!("{message}.state = 'visible' and not {s5}")
        }
    }
}

/// dm stays dm; comments, visitors' posts and mentions (and their threads) are comments.
fn conversation_kind(kind: &str) -> &'static str {
    if kind == DM {
        DM
    } else {
        COMMENTS
    }
}

/// SQL that is true when the message aliased `message` is S5 content: triage flagged it S5, or a
/// case about it was opened or raised to S5.
pub(crate) fn s5_of(message: &str) -> String {
    format!(
        "(exists (select 1 from message_flags s5f where s5f.message_id = {message}.id and s5f.severity = 'S5') \
         or exists (select 1 from moderation_cases s5k where s5k.message_id = {message}.id and s5k.level = 'S5'))"
    )
}

/// The S5 mark as a 0/1 column named `s5`, for selects.
pub(crate) fn s5_column(message: &str) -> String {
    format!("case when {} then 1 else 0 end as s5", s5_of(message))
}

/// Values for a query assembled from optional parts; every value is bound, never spliced.
#[derive(Debug, Default)]
pub(crate) struct Args(Vec<Arg>);

#[derive(Debug)]
enum Arg {
    Int(i64),
    Text(String),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
type AnyScalar<'q, O> = sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>;

impl Args {
    /// Adds an integer and returns its placeholder.
    pub(crate) fn int(&mut self, v: i64) -> String {
        self.0.push(Arg::Int(v));
        format!("${}", self.0.len())
    }

    pub(crate) fn text(&mut self, v: &str) -> String {
        self.0.push(Arg::Text(v.to_string()));
        format!("${}", self.0.len())
    }

    /// The number of values so far (the next placeholder is one more).
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn bind<'q>(&self, mut q: AnyQuery<'q>) -> AnyQuery<'q> {
        for a in &self.0 {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }

    pub(crate) fn bind_scalar<'q, O>(&self, mut q: AnyScalar<'q, O>) -> AnyScalar<'q, O> {
        for a in &self.0 {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_is_withheld_from_everyone_and_hidden_from_all_but_moderators() {
        let agent = ReadScope::for_staff(StaffReading {
            read_dms: true,
            ..Default::default()
        });
        let operator = ReadScope::operator();
        for scope in [&agent, &operator] {
            assert_eq!(scope.withheld("visible", true), Some(Withheld::S5));
        }
        assert_eq!(agent.withheld("hidden", false), Some(Withheld::Hidden));
        assert_eq!(agent.withheld("deleted", false), Some(Withheld::Deleted));
        assert_eq!(operator.withheld("removed", false), None);
        assert_eq!(agent.withheld("visible", false), None);
    }

    #[test]
    fn kinds_and_channels_limit_what_is_read() {
        let limited = ReadScope::for_staff(StaffReading {
            read_comments: true,
            channels: Some(vec![3]),
            ..Default::default()
        });
        assert!(limited.may_read("comments", 3));
        assert!(
            limited.may_read("visitor_post", 3),
            "a visitor's post is a comment thread"
        );
        assert!(!limited.may_read("comments", 4));
        assert!(!limited.may_read("dm", 3));
        let mut args = Args::default();
        assert_eq!(
            limited.conditions("c.kind", "c.channel_id", &mut args),
            Some("c.kind in ($1) and c.channel_id in ($2)".to_string())
        );
        let nothing = ReadScope::for_staff(StaffReading::default());
        assert_eq!(
            nothing.conditions("c.kind", "c.channel_id", &mut Args::default()),
            None
        );
        let empty_limit = ReadScope::for_staff(StaffReading {
            read_dms: true,
            channels: Some(Vec::new()),
            ..Default::default()
        });
        assert_eq!(
            empty_limit.conditions("c.kind", "c.channel_id", &mut Args::default()),
            None
        );
    }
}
