//! The queue: conversations listed by urgency, one conversation with its messages, claims with a
//! lease, status changes and replies recorded for the outbox.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::ingest::note_message;
use super::outbox::{insert_row, OutboxAction};
use super::scope::{s5_column, Args, ReadScope, Withheld};
use super::{now_ms, Result, Store};
use crate::model::Direction;
use crate::platform::{ReplyWindow, Verdict};

#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    pub platform: String,
    pub kind: String,
    pub status: String,
    pub person: Option<PersonRef>,
    pub post: Option<PostRef>,
    pub oldest_unanswered_at: Option<i64>,
    pub last_inbound_at: Option<i64>,
    pub last_message_at: Option<i64>,
    pub message_count: i64,
    /// When it was last resolved: the start of its retention period.
    pub resolved_at: Option<i64>,
    pub claim: Option<ClaimInfo>,
    pub preview: Option<String>,
    /// The newest handover: to whom (a unit, or a colleague with their unit) and when.
    pub handed: Option<HandedRef>,
}

/// The newest handover of a conversation, as its summary shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HandedRef {
    /// The unit it went to; for a handover to a colleague, their unit (null when they have none).
    #[schema(required = true)]
    pub unit: Option<String>,
    /// The colleague's username; null for a handover to a unit.
    #[schema(required = true)]
    pub to_staff: Option<String>,
    /// When it was handed over. Milliseconds since the Unix epoch.
    pub at: i64,
}

/// A person or account on the platform, as tavla knows them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonRef {
    /// tavla's id of the person (use as the `person` filter of the queue).
    pub id: i64,
    /// The platform's id of the person (page-scoped on Facebook). `unknown` when the platform
    /// did not say.
    pub platform_id: String,
    /// Display name, when the platform gave one.
    #[schema(required = true)]
    pub name: Option<String>,
}

/// The post a comment thread belongs to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostRef {
    /// tavla's id of the post.
    pub id: i64,
    /// The platform's id of the post.
    pub platform_id: String,
    /// The post's text, when known.
    #[schema(required = true)]
    pub text: Option<String>,
}

/// Who is working on a conversation, and until when. A claim is a lease: it ends at
/// `expires_at` unless the holder renews it by claiming again or replying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClaimInfo {
    pub staff_id: i64,
    pub username: String,
    /// When the claim ends unless renewed. Milliseconds since the Unix epoch.
    pub expires_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub kind: String,
    pub direction: String,
    pub platform_id: Option<String>,
    pub author: Option<PersonRef>,
    pub sent_by: Option<String>,
    /// Null when withheld from this reader (then `withheld` says why), or when there was none.
    pub text: Option<String>,
    pub withheld: Option<Withheld>,
    pub attachments: serde_json::Value,
    pub parent_platform_id: Option<String>,
    pub state: String,
    pub edited: bool,
    pub delivery: Option<String>,
    /// For our own messages and actions: how delivery to the platform stands, and why not yet.
    pub delivery_detail: Option<super::outbox::DeliveryView>,
    pub platform_time: i64,
    pub received_at: i64,
    pub history: Vec<Revision>,
}

/// One recorded change of a message: edits, hides, unhides, removals and deletions are kept,
/// never overwritten.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Revision {
    #[schema(value_type = crate::model::Change)]
    pub change: String,
    /// The text as of this revision, when it carried text; null when the message's words are
    /// withheld from the caller.
    #[schema(required = true)]
    pub text: Option<String>,
    /// When the platform says the change happened. Milliseconds since the Unix epoch.
    pub platform_time: i64,
    /// When tavla received it. Milliseconds since the Unix epoch.
    pub received_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    pub person_read_at: Option<i64>,
    pub messages: Vec<MessageView>,
    /// The same person's other conversations of this platform that the reader may read.
    pub earlier_conversations: Vec<ConversationSummary>,
}

/// What a reader asked of the queue; the read scope limits it further.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// One kind ("dm" or "comments"); every readable kind when None.
    pub kind: Option<&'static str>,
    pub channel_id: Option<i64>,
    pub status: Option<String>,
    pub person_id: Option<i64>,
    /// Only conversations whose newest handover went to this colleague.
    pub handed_to_staff: Option<i64>,
    /// Only conversations whose newest handover went to this unit (not to a colleague in it).
    pub handed_to_unit: Option<String>,
    /// The service level per kind (DMs, comment threads): conversations open with a message
    /// unanswered longer are past it: counted, and with `by_breach` put after those not yet.
    pub service_level: ServiceLevel,
    /// Closest to breaching the service level first (then those past it, most overdue first).
    pub by_breach: bool,
    pub limit: i64,
    pub offset: i64,
}

/// One page of the queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    pub items: Vec<ConversationSummary>,
    /// How many match the filter.
    pub total: i64,
    /// How many of those are past the service level.
    pub past_service_level: i64,
}

#[derive(Debug)]
pub enum ClaimOutcome {
    Claimed(ClaimInfo),
    HeldBy(ClaimInfo),
    NotFound,
}

/// The summary's columns. The preview is the newest message whose words this reader may read.
fn summary_select(scope: &ReadScope) -> String {
    format!(
        "select c.id, c.channel_id, ch.name as channel_name, ch.platform, c.kind, c.status, \
         c.person_id, a.platform_id as person_platform_id, a.name as person_name, \
         c.post_id, p.platform_id as post_platform_id, p.text as post_text, \
         c.oldest_unanswered_at, c.last_inbound_at, c.last_message_at, c.message_count, c.resolved_at, \
         c.claimed_by, s.username as claimed_by_username, c.claim_expires_at, \
         (select m.text from messages m where m.conversation_id = c.id and {} \
          order by m.platform_time desc, m.id desc limit 1) as preview, \
         lh.unit as handed_unit, lht.username as handed_to, lh.handed_at \
         from conversations c join channels ch on ch.id = c.channel_id \
         left join authors a on a.id = c.person_id left join posts p on p.id = c.post_id \
         left join staff s on s.id = c.claimed_by \
         left join handovers lh on lh.id = \
          (select max(h.id) from handovers h where h.conversation_id = c.id) \
         left join staff lht on lht.id = lh.to_staff",
        scope.readable_message("m")
    )
}

/// Where a conversation lives, for access checks and the platform's rules: no words.
#[derive(Debug, Clone)]
pub struct ConversationPlace {
    pub kind: String,
    pub channel_id: i64,
    /// The channel's platform as stored (`facebook`, `instagram`, ...).
    pub platform: String,
}

/// What a reply's window is judged on, as read under the conversation's row lock.
#[derive(Debug, Clone, Copy)]
pub struct WindowFacts<'a> {
    /// The conversation's kind: dm or comments.
    pub kind: &'a str,
    /// The channel's platform as stored.
    pub platform: &'a str,
    pub last_inbound_at: Option<i64>,
    pub now: i64,
    /// The tag the agent chose (or, for a retry, chose before).
    pub tag: Option<&'a str>,
}

/// The inbox's judgement of the reply window (`inbox::window::judge`). The store persists and the
/// inbox decides, but this check must run inside the reply's transaction, under the
/// conversation's row lock: `last_inbound_at` and the moment are read there, so a reply is judged
/// on the state it is committed against, whichever route queues it (a reply, a retry). The store
/// cannot import the inbox (DESIGN.md §4), so the inbox hands its pure rule in.
pub type WindowJudge = fn(&WindowFacts<'_>) -> Verdict;

/// An agent's reply, as the inbox has checked it, for `Store::add_reply`.
#[derive(Debug, Clone, Copy)]
pub struct NewReply<'a> {
    pub conversation_id: i64,
    pub staff_id: i64,
    /// The text, trimmed and within the platform's limits.
    pub text: &'a str,
    /// For comment threads: the comment (tavla message id) answered; the newest when None.
    pub in_reply_to: Option<i64>,
    /// The platform's extended tag (Meta: HUMAN_AGENT) when the agent chose it knowingly.
    pub tag: Option<&'a str>,
    /// How long the claim the reply takes or renews lasts.
    pub lease_ms: i64,
    pub window: WindowJudge,
}

/// Most urgent first: the oldest unanswered inbound message, then the most recent activity.
const QUEUE_ORDER: &str = " order by case when c.oldest_unanswered_at is null then 1 else 0 end, \
     c.oldest_unanswered_at, c.last_message_at desc, c.id";

/// The service level at a moment: how long a DM and a comment thread may wait for an answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceLevel {
    pub now: i64,
    pub dm_ms: i64,
    pub comments_ms: i64,
}

impl ServiceLevel {
    /// When the answer to a conversation of `kind` waiting since `oldest` is due.
    pub fn due(&self, kind: &str, oldest: i64) -> i64 {
        oldest.saturating_add(if kind == "dm" {
            self.dm_ms
        } else {
            self.comments_ms
        })
    }

    /// The SQL for the moment an open conversation's answer is due. (Numbers the settings
    /// gave, never input.)
    fn due_sql(&self) -> String {
        format!(
            "(c.oldest_unanswered_at + case when c.kind = 'dm' then {} else {} end)",
            self.dm_ms, self.comments_ms
        )
    }

    /// Open conversations with a message unanswered past the service level.
    fn past_sql(&self) -> String {
        format!("(c.status = 'open' and {} <= {})", self.due_sql(), self.now)
    }

    /// Closest to breaching first: open conversations not yet past the service level, the
    /// least time left first; then those past it, most overdue first; then the rest as the
    /// queue has them.
    fn breach_order(&self) -> String {
        format!(
            " order by case when c.status <> 'open' or c.oldest_unanswered_at is null then 2 \
             when {} then 1 else 0 end, {}, c.last_message_at desc, c.id",
            self.past_sql(),
            self.due_sql()
        )
    }
}

/// The newest handover of the conversation, as `lh`.
const NEWEST_HANDOVER: &str = "select lh.to_staff, lh.unit from handovers lh where \
     lh.conversation_id = c.id and lh.id = (select max(h.id) from handovers h where h.conversation_id = c.id)";

impl Store {
    /// One page of the queue within the reader's scope, and the total number matching.
    pub async fn queue(&self, scope: &ReadScope, filter: &QueueFilter) -> Result<QueuePage> {
        let mut args = Args::default();
        let Some(within) = scope.conditions("c.kind", "c.channel_id", &mut args) else {
            return Ok(QueuePage {
                items: Vec::new(),
                total: 0,
                past_service_level: 0,
            });
        };
        let mut conditions = vec![within, "ch.approved = 1".to_string()];
        if let Some(kind) = filter.kind {
            conditions.push(format!("c.kind = {}", args.text(kind)));
        }
        if let Some(channel) = filter.channel_id {
            conditions.push(format!("c.channel_id = {}", args.int(channel)));
        }
        if let Some(status) = &filter.status {
            conditions.push(format!("c.status = {}", args.text(status)));
        }
        if let Some(person) = filter.person_id {
            conditions.push(format!("c.person_id = {}", args.int(person)));
        }
        if let Some(staff) = filter.handed_to_staff {
            conditions.push(format!(
                "exists ({NEWEST_HANDOVER} and lh.to_staff = {})",
                args.int(staff)
            ));
        }
        if let Some(unit) = &filter.handed_to_unit {
            conditions.push(format!(
                "exists ({NEWEST_HANDOVER} and lh.to_staff is null and lh.unit = {})",
                args.text(unit)
            ));
        }
        let where_clause = format!(" where {}", conditions.join(" and "));

        let count_sql = format!(
            "select count(*) as total, \
             coalesce(sum(case when {} then 1 else 0 end), 0) as past \
             from conversations c join channels ch on ch.id = c.channel_id{where_clause}",
            filter.service_level.past_sql()
        );
        let counts = args
            .bind(sqlx::query(&count_sql))
            .fetch_one(&self.pool)
            .await?;
        let total: i64 = counts.try_get("total")?;
        let past: i64 = counts.try_get("past")?;
        let order = if filter.by_breach {
            filter.service_level.breach_order()
        } else {
            QUEUE_ORDER.to_string()
        };

        let n = args.len();
        // The page is chosen first, on the conversation columns alone, so that the per-row work of
        // the summary (the preview's subquery, the joins) is done for its rows only, not for
        // every open conversation before the sort (10,000 of them in the console bench).
        let sql = format!(
            "{} join (select c.id as page_id from conversations c \
             join channels ch on ch.id = c.channel_id{where_clause}{order} limit ${} offset ${}) page \
             on page.page_id = c.id{order}",
            summary_select(scope),
            n + 1,
            n + 2
        );
        let rows = args
            .bind(sqlx::query(&sql))
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
        let items = rows.iter().map(summary_from_row).collect::<Result<_>>()?;
        Ok(QueuePage {
            items,
            total,
            past_service_level: past,
        })
    }

    /// Handovers made in [start, end) per unit (None: to a colleague without a unit), on
    /// conversations of the given channels (None: every channel).
    pub async fn handovers_per_unit(
        &self,
        start: i64,
        end: i64,
        channels: Option<&[i64]>,
    ) -> Result<Vec<(Option<String>, i64)>> {
        self.counted_in_period(
            "select h.unit as label, count(*) as n from handovers h \
             join conversations c on c.id = h.conversation_id \
             where h.handed_at >= $1 and h.handed_at < $2",
            (start, end),
            channels,
        )
        .await
    }

    /// Counts per label for a report: `select` names `label` and `n`, the period as $1 and $2 and
    /// the conversation as `c`; the channel limit (None: every channel) and `group by label` are
    /// added here, so every per-period count applies the limit the same way.
    pub(crate) async fn counted_in_period(
        &self,
        select: &str,
        (start, end): (i64, i64),
        channels: Option<&[i64]>,
    ) -> Result<Vec<(Option<String>, i64)>> {
        if channels.is_some_and(<[i64]>::is_empty) {
            return Ok(Vec::new());
        }
        let within = channels.map_or(String::new(), |c| {
            let places: Vec<String> = (0..c.len()).map(|i| format!("${}", i + 3)).collect();
            format!(" and c.channel_id in ({})", places.join(", "))
        });
        let sql = format!("{select}{within} group by label");
        let mut q = sqlx::query(&sql).bind(start).bind(end);
        for c in channels.unwrap_or(&[]) {
            q = q.bind(*c);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("label")?, r.try_get("n")?)))
            .collect()
    }

    /// The unit a staff member belongs to, if any.
    pub async fn staff_unit(&self, staff_id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, Option<String>>("select unit from staff where id = $1")
                .bind(staff_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }

    /// A conversation's kind and channel, for access checks (no words).
    pub async fn conversation_place(&self, id: i64) -> Result<Option<ConversationPlace>> {
        let row = sqlx::query(
            "select c.kind, c.channel_id, ch.platform from conversations c \
             join channels ch on ch.id = c.channel_id where c.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ConversationPlace {
                kind: r.try_get("kind")?,
                channel_id: r.try_get("channel_id")?,
                platform: r.try_get("platform")?,
            })
        })
        .transpose()
    }

    /// One conversation's summary; None when there is none in the reader's scope.
    pub async fn conversation_summary(
        &self,
        scope: &ReadScope,
        id: i64,
    ) -> Result<Option<ConversationSummary>> {
        let Some((filter, args)) = scope.where_readable("c.kind", "c.channel_id", |a| {
            format!("c.id = {}", a.int(id))
        }) else {
            return Ok(None);
        };
        let sql = format!("{} where {filter}", summary_select(scope));
        let row = args
            .bind(sqlx::query(&sql))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| summary_from_row(&r)).transpose()
    }

    /// Number of open conversations with an unanswered inbound message, per kind.
    pub async fn queue_depth(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "select kind, count(*) as n from conversations \
             where status = 'open' and oldest_unanswered_at is not null group by kind",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?)))
            .collect()
    }

    /// A conversation with its messages, as this reader may see it: None outside their scope;
    /// words withheld where the scope says so (S5 for everyone, hidden for non-moderators).
    pub async fn conversation(
        &self,
        scope: &ReadScope,
        id: i64,
    ) -> Result<Option<ConversationDetail>> {
        let Some(summary) = self.conversation_summary(scope, id).await? else {
            return Ok(None);
        };
        let person_read_at: Option<i64> =
            sqlx::query_scalar("select person_read_at from conversations where id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(&format!(
            "select m.id, m.kind, m.direction, m.platform_id, m.author_id, a.platform_id as author_platform_id, \
             a.name as author_name, s.username as sent_by, m.text, m.attachments, m.parent_platform_id, \
             m.state, m.edited, m.delivery, m.platform_time, m.received_at, {} \
             from messages m left join authors a on a.id = m.author_id left join staff s on s.id = m.sent_by \
             where m.conversation_id = $1 order by m.platform_time, m.id",
            s5_column("m")
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let revisions = sqlx::query(
            "select r.message_id, r.change, r.text, r.platform_time, r.received_at \
             from message_revisions r join messages m on m.id = r.message_id \
             where m.conversation_id = $1 order by r.platform_time, r.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut deliveries = self.deliveries_of_conversation(id).await?;
        let mut messages = Vec::with_capacity(rows.len());
        for r in &rows {
            let author_id: Option<i64> = r.try_get("author_id")?;
            let attachments: String = r.try_get("attachments")?;
            let edited: i64 = r.try_get("edited")?;
            let message_id: i64 = r.try_get("id")?;
            let state: String = r.try_get("state")?;
            let s5: i64 = r.try_get("s5")?;
            let withheld = scope.withheld(&state, s5 == 1);
            // Withheld words are withheld in every revision too.
            let shown = |text: Option<String>| if withheld.is_some() { None } else { text };
            let mut history = Vec::new();
            for rev in &revisions {
                let of: i64 = rev.try_get("message_id")?;
                if of == message_id {
                    history.push(Revision {
                        change: rev.try_get("change")?,
                        text: shown(rev.try_get("text")?),
                        platform_time: rev.try_get("platform_time")?,
                        received_at: rev.try_get("received_at")?,
                    });
                }
            }
            messages.push(MessageView {
                id: message_id,
                kind: r.try_get("kind")?,
                direction: r.try_get("direction")?,
                platform_id: r.try_get("platform_id")?,
                author: match author_id {
                    Some(id) => Some(PersonRef {
                        id,
                        platform_id: r.try_get("author_platform_id")?,
                        name: r.try_get("author_name")?,
                    }),
                    None => None,
                },
                sent_by: r.try_get("sent_by")?,
                text: shown(r.try_get("text")?),
                withheld,
                // An S5 item is often an image: attachments are withheld with the words.
                attachments: match withheld {
                    Some(_) => serde_json::json!([]),
                    None => serde_json::from_str(&attachments).unwrap_or_default(),
                },
                parent_platform_id: r.try_get("parent_platform_id")?,
                state,
                edited: edited == 1,
                delivery: r.try_get("delivery")?,
                // The newest outbox row of the message says how it stands now.
                delivery_detail: deliveries
                    .iter()
                    .rposition(|(of, _)| *of == message_id)
                    .map(|at| deliveries.swap_remove(at).1),
                platform_time: r.try_get("platform_time")?,
                received_at: r.try_get("received_at")?,
                history,
            });
        }
        let earlier_conversations = match &summary.person {
            Some(person) if summary.kind == "dm" => {
                self.earlier_conversations(scope, person.id, id).await?
            }
            _ => Vec::new(),
        };
        Ok(Some(ConversationDetail {
            summary,
            person_read_at,
            messages,
            earlier_conversations,
        }))
    }

    /// The person's other conversations that the reader may read, newest first.
    async fn earlier_conversations(
        &self,
        scope: &ReadScope,
        person: i64,
        except: i64,
    ) -> Result<Vec<ConversationSummary>> {
        let Some((filter, args)) = scope.where_readable("c.kind", "c.channel_id", |a| {
            format!(
                "c.person_id = {} and c.id <> {}",
                a.int(person),
                a.int(except)
            )
        }) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "{} where {filter} order by c.last_message_at desc limit 20",
            summary_select(scope)
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// Claims or renews a claim. Exactly one holder: the check and the write happen under the
    /// conversation's row lock (`lock_row`), so of claims that overlap one wins.
    pub async fn claim(
        &self,
        id: i64,
        staff_id: i64,
        lease_ms: i64,
        actor: &Actor,
    ) -> Result<ClaimOutcome> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        super::lock_row(&mut tx, "conversations", id).await?;
        let row = sqlx::query(
            "select c.channel_id, c.claimed_by, c.claim_expires_at, s.username from conversations c \
             left join staff s on s.id = c.claimed_by where c.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ClaimOutcome::NotFound);
        };
        let channel_id: i64 = row.try_get("channel_id")?;
        let holder: Option<i64> = row.try_get("claimed_by")?;
        let expires: Option<i64> = row.try_get("claim_expires_at")?;
        if let Some(claim) = held_by_another(&row, staff_id, now)? {
            return Ok(ClaimOutcome::HeldBy(claim));
        }
        let until = now + lease_ms;
        let changed = sqlx::query(
            "update conversations set claimed_by = $1, claim_expires_at = $2 where id = $3 \
             and (claimed_by is null or claimed_by = $4 or claim_expires_at <= $5)",
        )
        .bind(staff_id)
        .bind(until)
        .bind(id)
        .bind(staff_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(super::StoreError::Invalid(
                "the claim changed while it was being taken; try again".into(),
            ));
        }
        let renewed = holder == Some(staff_id) && expires.is_some_and(|e| e > now);
        if !renewed {
            append(
                &mut tx,
                NewEvent {
                    kind: EventKind::Claimed,
                    channel_id: Some(channel_id),
                    conversation_id: Some(id),
                    message_id: None,
                    payload: serde_json::json!({"staff_id": staff_id, "until": until}),
                },
            )
            .await?;
            record(
                &mut tx,
                actor,
                "conversation.claimed",
                Some(&format!("conversation:{id}")),
                serde_json::json!({}),
            )
            .await?;
        }
        self.commit(tx).await?;
        let username: String = sqlx::query_scalar("select username from staff where id = $1")
            .bind(staff_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(ClaimOutcome::Claimed(ClaimInfo {
            staff_id,
            username,
            expires_at: until,
        }))
    }

    /// Releases the caller's claim. Returns the other holder when the caller does not hold it.
    pub async fn release(&self, id: i64, staff_id: i64, actor: &Actor) -> Result<ClaimOutcome> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        super::lock_row(&mut tx, "conversations", id).await?;
        let row = sqlx::query(
            "select c.channel_id, c.claimed_by, c.claim_expires_at, s.username from conversations c \
             left join staff s on s.id = c.claimed_by where c.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ClaimOutcome::NotFound);
        };
        let channel_id: i64 = row.try_get("channel_id")?;
        let holder: Option<i64> = row.try_get("claimed_by")?;
        let expires: Option<i64> = row.try_get("claim_expires_at")?;
        match (holder, expires) {
            (Some(h), Some(e)) if h != staff_id && e > now => {
                return Ok(ClaimOutcome::HeldBy(ClaimInfo {
                    staff_id: h,
                    username: row.try_get("username")?,
                    expires_at: e,
                }))
            }
            (Some(_), _) => {
                release_in(&mut tx, id, channel_id, staff_id).await?;
                record(
                    &mut tx,
                    actor,
                    "conversation.released",
                    Some(&format!("conversation:{id}")),
                    serde_json::json!({}),
                )
                .await?;
            }
            (None, _) => {}
        }
        self.commit(tx).await?;
        Ok(ClaimOutcome::Claimed(ClaimInfo {
            staff_id,
            username: String::new(),
            expires_at: now,
        }))
    }

    /// Sets the status the inbox chose (open / waiting / resolved), releasing the claim when
    /// the inbox says the change ends the work (`release_claim`).
    pub async fn set_status(
        &self,
        id: i64,
        staff_id: i64,
        status: &str,
        release_claim: bool,
        actor: &Actor,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        super::lock_row(&mut tx, "conversations", id).await?;
        let row =
            sqlx::query("select channel_id, status, claimed_by from conversations where id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let channel_id: i64 = row.try_get("channel_id")?;
        let old: String = row.try_get("status")?;
        let holder: Option<i64> = row.try_get("claimed_by")?;
        if old != status {
            // Retention counts from the resolution (DESIGN.md §2, config/retention.toml).
            let now = now_ms();
            sqlx::query(
                "update conversations set status = $1, updated_at = $2, \
                 resolved_at = case when $3 = 'resolved' then $4 else resolved_at end where id = $5",
            )
            .bind(status)
            .bind(now)
            .bind(status)
            .bind(now)
            .bind(id)
                .execute(&mut *tx)
                .await?;
            append(
                &mut tx,
                NewEvent {
                    kind: EventKind::StatusChanged,
                    channel_id: Some(channel_id),
                    conversation_id: Some(id),
                    message_id: None,
                    payload: serde_json::json!({"from": old, "to": status, "staff_id": staff_id}),
                },
            )
            .await?;
            record(
                &mut tx,
                actor,
                "conversation.status_changed",
                Some(&format!("conversation:{id}")),
                serde_json::json!({"from": old, "to": status}),
            )
            .await?;
        }
        if release_claim && holder.is_some() {
            release_in(&mut tx, id, channel_id, staff_id).await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    /// Records an agent's reply as an outbound message and queues it for delivery, in one
    /// transaction. The recipient is the stored one, never one named by the caller. The reply
    /// window is judged by `reply.window` under the conversation's row lock.
    pub async fn add_reply(&self, reply: &NewReply<'_>, actor: &Actor) -> Result<ReplyOutcome> {
        let NewReply {
            conversation_id: id,
            staff_id,
            text,
            in_reply_to,
            tag,
            lease_ms,
            window,
        } = *reply;
        let now = now_ms();
        let mut tx = self.begin().await?;
        super::lock_row(&mut tx, "conversations", id).await?;
        let row = sqlx::query(
            "select c.channel_id, c.kind, c.claimed_by, c.claim_expires_at, c.last_inbound_at, s.username, \
             a.platform_id as person, ch.platform \
             from conversations c join channels ch on ch.id = c.channel_id \
             left join staff s on s.id = c.claimed_by \
             left join authors a on a.id = c.person_id where c.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ReplyOutcome::NotFound);
        };
        let channel_id: i64 = row.try_get("channel_id")?;
        let kind: String = row.try_get("kind")?;
        if let Some(claim) = held_by_another(&row, staff_id, now)? {
            return Ok(ReplyOutcome::HeldBy(claim));
        }
        let platform: String = row.try_get("platform")?;
        let facts = WindowFacts {
            kind: &kind,
            platform: &platform,
            last_inbound_at: row.try_get("last_inbound_at")?,
            now,
            tag,
        };
        match window(&facts) {
            Verdict::Open => {}
            Verdict::NeedsHumanAgentTag(w) => return Ok(ReplyOutcome::NeedsHumanAgentTag(w)),
            Verdict::Closed(w) => return Ok(ReplyOutcome::WindowClosed(w)),
        }
        // A comment reply answers one comment: the one named, or the newest inbound comment.
        let target: Option<(i64, Option<String>)> =
            if kind == "comments" {
                let found = match in_reply_to {
                Some(mid) => sqlx::query(
                    "select id, platform_id from messages where id = $1 and conversation_id = $2",
                )
                .bind(mid)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?,
                None => sqlx::query(
                    "select id, platform_id from messages where conversation_id = $1 \
                     and direction = 'inbound' order by platform_time desc, id desc limit 1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?,
            };
                match found {
                    Some(r) => Some((r.try_get("id")?, r.try_get("platform_id")?)),
                    None => return Ok(ReplyOutcome::NothingToAnswer),
                }
            } else {
                None
            };
        let message_kind = if kind == "dm" { "dm" } else { "comment" };
        let parent = target.as_ref().and_then(|t| t.1.clone());
        let message_id: i64 = sqlx::query_scalar(
            "insert into messages (conversation_id, channel_id, kind, direction, sent_by, text, \
             parent_platform_id, state, delivery, platform_time, received_at) \
             values ($1, $2, $3, 'outbound', $4, $5, $6, 'visible', 'pending', $7, $8) returning id",
        )
        .bind(id)
        .bind(channel_id)
        .bind(message_kind)
        .bind(staff_id)
        .bind(text)
        .bind(parent.as_deref())
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let person: Option<String> = row.try_get("person")?;
        let payload = serde_json::json!({
            "conversation_kind": kind,
            "recipient": person,
            "comment_id": parent,
            "text": text,
            "tag": tag,
        });
        insert_row(&mut tx, message_id, OutboxAction::Reply, &payload, now).await?;
        note_message(&mut tx, id, Direction::Outbound, now, false).await?;
        // Working on a conversation renews the claim, so a long answer does not lose it.
        sqlx::query(
            "update conversations set claimed_by = $1, claim_expires_at = $2 where id = $3",
        )
        .bind(staff_id)
        .bind(now + lease_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::Replied,
                channel_id: Some(channel_id),
                conversation_id: Some(id),
                message_id: Some(message_id),
                payload: serde_json::json!({"staff_id": staff_id}),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "conversation.replied",
            Some(&format!("conversation:{id}")),
            serde_json::json!({"message_id": message_id}),
        )
        .await?;
        self.commit(tx).await?;
        self.outbox_committed();
        Ok(ReplyOutcome::Queued { message_id })
    }
}

#[derive(Debug)]
pub enum ReplyOutcome {
    Queued {
        message_id: i64,
    },
    HeldBy(ClaimInfo),
    NotFound,
    NothingToAnswer,
    /// The DM's 24 hours are over: the agent may send with the HUMAN_AGENT tag until it closes.
    NeedsHumanAgentTag(ReplyWindow),
    /// Past 7 days (or the person never wrote): no reply can be sent.
    WindowClosed(Option<ReplyWindow>),
}

async fn release_in(tx: &mut super::Tx<'_>, id: i64, channel_id: i64, staff_id: i64) -> Result<()> {
    sqlx::query(
        "update conversations set claimed_by = null, claim_expires_at = null where id = $1",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    append(
        tx,
        NewEvent {
            kind: EventKind::Released,
            channel_id: Some(channel_id),
            conversation_id: Some(id),
            message_id: None,
            payload: serde_json::json!({"staff_id": staff_id}),
        },
    )
    .await
}

fn summary_from_row(r: &sqlx::any::AnyRow) -> Result<ConversationSummary> {
    let person_id: Option<i64> = r.try_get("person_id")?;
    let post_id: Option<i64> = r.try_get("post_id")?;
    let claimed_by: Option<i64> = r.try_get("claimed_by")?;
    let expires: Option<i64> = r.try_get("claim_expires_at")?;
    let now = now_ms();
    let claim = match (claimed_by, expires) {
        (Some(staff_id), Some(expires_at)) if expires_at > now => Some(ClaimInfo {
            staff_id,
            username: r.try_get("claimed_by_username")?,
            expires_at,
        }),
        _ => None,
    };
    let preview: Option<String> = r.try_get("preview")?;
    Ok(ConversationSummary {
        id: r.try_get("id")?,
        channel_id: r.try_get("channel_id")?,
        channel_name: r.try_get("channel_name")?,
        platform: r.try_get("platform")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        person: match person_id {
            Some(id) => Some(PersonRef {
                id,
                platform_id: r.try_get("person_platform_id")?,
                name: r.try_get("person_name")?,
            }),
            None => None,
        },
        post: match post_id {
            Some(id) => Some(PostRef {
                id,
                platform_id: r.try_get("post_platform_id")?,
                text: r.try_get("post_text")?,
            }),
            None => None,
        },
        oldest_unanswered_at: r.try_get("oldest_unanswered_at")?,
        last_inbound_at: r.try_get("last_inbound_at")?,
        last_message_at: r.try_get("last_message_at")?,
        message_count: r.try_get("message_count")?,
        resolved_at: r.try_get("resolved_at")?,
        claim,
        preview: preview.map(|p| p.chars().take(140).collect()),
        handed: match r.try_get::<Option<i64>, _>("handed_at")? {
            Some(at) => Some(HandedRef {
                unit: r.try_get("handed_unit")?,
                to_staff: r.try_get("handed_to")?,
                at,
            }),
            None => None,
        },
    })
}

/// The live claim of someone other than `staff_id` on a conversation row (with `claimed_by`,
/// `claim_expires_at` and the holder's `username`), if there is one. This rule stays in the
/// store, unlike the inbox's others: it is the condition of the claim's own update, checked under
/// the row lock, and only there does it give exactly one holder (see `inbox::claims`).
fn held_by_another(row: &sqlx::any::AnyRow, staff_id: i64, now: i64) -> Result<Option<ClaimInfo>> {
    let holder: Option<i64> = row.try_get("claimed_by")?;
    let expires: Option<i64> = row.try_get("claim_expires_at")?;
    match (holder, expires) {
        (Some(holder), Some(expires)) if holder != staff_id && expires > now => {
            Ok(Some(ClaimInfo {
                staff_id: holder,
                username: row.try_get("username")?,
                expires_at: expires,
            }))
        }
        _ => Ok(None),
    }
}
