//! Meta webhooks (Facebook Pages and Instagram): turns one webhook POST body into normalised
//! [`Inbound`] items.
//!
//! The parser is pure (no I/O, no clock) and never panics. A body that is not a webhook at all is a
//! [`MetaError`]; inside a valid body, anything that cannot be understood (an unknown event, a
//! message without its id, ...) becomes an [`Item::Unrecognised`] carrying its raw JSON, so that
//! nothing Meta delivered and we acknowledged is silently lost.
//!
//! Shape of a body: `{ "object": "page" | "instagram", "entry": [ ... ] }`. One POST may batch
//! entries for several pages; each entry's `id` is the page or Instagram account the events are
//! for. An entry carries `messaging[]` / `standby[]` (Messenger and Instagram DMs; `standby` is
//! the handover protocol's copy, treated the same) and/or `changes[]` (feed, comments, mentions).
//!
//! Conventions used throughout:
//! - Ids may be JSON numbers or strings; they always become strings with the integer digits.
//! - Times become milliseconds since the epoch. Meta mixes seconds and milliseconds, so any value
//!   below 10^11 is taken as seconds (10^11 ms is in 1973, 10^11 s is in year 5138).
//! - An event that does not name its time falls back to the entry's `time`, then to 0.
//! - A comment or post author that Meta does not name (a removal, an Instagram test payload) is the
//!   unknown person `Person { platform_id: "unknown", name: None }` ([`UNKNOWN_PERSON_ID`]).
//! - `revision` is empty for `Created` (a message is created once); every later state is keyed by
//!   the time Meta reports for it, in milliseconds (a comment edit adds a digest of its wording:
//!   see `key_edit_by_wording`), or by the edit counter for DM edits.

use serde_json::{Map, Value};

use crate::model::*;

/// Platform id given to an author Meta does not name.
pub const UNKNOWN_PERSON_ID: &str = "unknown";

/// The body is JSON but not a Meta webhook we can read.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("the webhook body is not a JSON object")]
    NotAnObject,
    #[error("the webhook body has no `object` field saying which product it is for")]
    MissingObject,
    #[error("webhooks for object `{0}` are not handled (only `page` and `instagram` are)")]
    UnsupportedObject(String),
    #[error("the webhook body has no `entry` array")]
    MissingEntries,
    #[error("entry {index} of the webhook body is not a JSON object")]
    EntryNotAnObject { index: usize },
    #[error(
        "entry {index} of the webhook body has no `id` saying which page or account it is for"
    )]
    EntryWithoutId { index: usize },
}

/// Parses a Meta webhook POST body into one [`Inbound`] per messaging event or change.
pub fn parse_webhook(body: &Value) -> Result<Vec<Inbound>, MetaError> {
    let body = body.as_object().ok_or(MetaError::NotAnObject)?;
    let platform = platform_of(body)?;
    let entries = body
        .get("entry")
        .and_then(Value::as_array)
        .ok_or(MetaError::MissingEntries)?;

    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let fields = entry
            .as_object()
            .ok_or(MetaError::EntryNotAnObject { index })?;
        // Without the id we cannot tell whose inbox the events belong to: the body is malformed.
        let page_id = id_of(fields.get("id")).ok_or(MetaError::EntryWithoutId { index })?;
        let ctx = EntryCtx {
            channel: ChannelRef {
                platform,
                platform_id: page_id,
            },
            time: fields.get("time").and_then(to_millis).unwrap_or(0),
        };
        parse_entry(&ctx, entry, fields, &mut out);
    }
    out.iter_mut().for_each(key_edit_by_wording);
    Ok(out)
}

/// A comment's edits are keyed by their reported time, and Meta may report the same time for
/// several edits (its `created_time` can be the comment's own): the wording joins the key, so a
/// second edit is a new revision, not a redelivery of the first (which would let a harmless
/// first edit shield a hateful second one from triage). DM edits carry their own counter.
fn key_edit_by_wording(inbound: &mut Inbound) {
    use sha2::{Digest, Sha256};
    let Item::Message(m) = &mut inbound.item else {
        return;
    };
    if m.change != Change::Edited || m.revision != m.platform_time.to_string() {
        return;
    }
    let digest = Sha256::digest(m.text.as_deref().unwrap_or("").as_bytes());
    m.revision = format!("{}:{}", m.platform_time, hex::encode(&digest[..6]));
}

fn platform_of(body: &Map<String, Value>) -> Result<Platform, MetaError> {
    match body.get("object").and_then(Value::as_str) {
        Some("page") => Ok(Platform::Facebook),
        Some("instagram") => Ok(Platform::Instagram),
        Some(other) => Err(MetaError::UnsupportedObject(other.to_string())),
        None => Err(MetaError::MissingObject),
    }
}

/// What every event of one entry shares.
struct EntryCtx {
    channel: ChannelRef,
    /// The entry's `time` in ms (0 when absent): the fallback for events without their own time.
    time: i64,
}

impl EntryCtx {
    /// The page or Instagram account's own id.
    fn page_id(&self) -> &str {
        &self.channel.platform_id
    }

    fn inbound(&self, item: Item, raw: &Value) -> Inbound {
        Inbound {
            channel: self.channel.clone(),
            item,
            raw: raw.clone(),
        }
    }

    /// Written by the page itself (a reply from the municipality) or by someone else.
    fn direction_of(&self, author: &Person) -> Direction {
        if author.platform_id == self.page_id() {
            Direction::Outbound
        } else {
            Direction::Inbound
        }
    }
}

fn parse_entry(ctx: &EntryCtx, entry: &Value, fields: &Map<String, Value>, out: &mut Vec<Inbound>) {
    let mut understood = false;
    for key in ["messaging", "standby"] {
        if let Some(events) = fields.get(key).and_then(Value::as_array) {
            understood = true;
            for event in events {
                out.push(ctx.inbound(parse_messaging(ctx, event), event));
            }
        }
    }
    if let Some(changes) = fields.get("changes").and_then(Value::as_array) {
        understood = true;
        for change in changes {
            out.push(ctx.inbound(parse_change(ctx, change), change));
        }
    }
    // Keep an entry we cannot read at all, rather than acknowledging it and dropping it.
    if !understood {
        let reason = format!(
            "entry has no `messaging`, `standby` or `changes` array (keys: {})",
            key_list(fields.keys())
        );
        out.push(ctx.inbound(unrecognised(reason), entry));
    }
}

// ---------------------------------------------------------------------------------------------
// Messaging (DMs on Messenger and Instagram)
// ---------------------------------------------------------------------------------------------

/// The two ends of a messaging event. One of them is normally the page.
struct Parties {
    sender: Option<String>,
    recipient: Option<String>,
}

impl Parties {
    fn read(event: &Map<String, Value>) -> Parties {
        let id_in = |key: &str| id_of(event.get(key).and_then(|party| party.get("id")));
        Parties {
            sender: id_in("sender"),
            recipient: id_in("recipient"),
        }
    }

    /// The person the page talks with: whichever end is not the page. When that is ambiguous
    /// (test payloads use placeholder ids, so neither end is the page), the page's own messages
    /// (echoes) go to the recipient and everything else comes from the sender. `None` when no end
    /// other than the page is named.
    fn person(&self, page_id: &str, page_sent_it: bool) -> Option<Person> {
        let not_page = |id: &Option<String>| id.clone().filter(|id| id != page_id);
        let id = match (not_page(&self.sender), not_page(&self.recipient)) {
            (Some(sender), Some(recipient)) => {
                if page_sent_it {
                    recipient
                } else {
                    sender
                }
            }
            (Some(only), None) | (None, Some(only)) => only,
            (None, None) => return None,
        };
        Some(Person {
            platform_id: id,
            name: None,
        })
    }
}

/// Keys of a messaging event that describe the envelope rather than the event itself.
const ENVELOPE_KEYS: [&str; 3] = ["sender", "recipient", "timestamp"];

fn parse_messaging(ctx: &EntryCtx, event: &Value) -> Item {
    match event.as_object() {
        Some(event) => parse_messaging_event(ctx, event),
        None => unrecognised("messaging event is not a JSON object"),
    }
}

fn parse_messaging_event(ctx: &EntryCtx, event: &Map<String, Value>) -> Item {
    let parties = Parties::read(event);
    let time = event
        .get("timestamp")
        .and_then(to_millis)
        .unwrap_or(ctx.time);
    let dm = DmCtx {
        ctx,
        parties: &parties,
        time,
    };

    if let Some(message) = event.get("message") {
        dm.message(message)
    } else if let Some(edit) = event.get("message_edit") {
        dm.edit(edit)
    } else if let Some(postback) = event.get("postback") {
        dm.postback(postback)
    } else if let Some(reaction) = event.get("reaction") {
        dm.reaction(reaction)
    } else if let Some(read) = event.get("read") {
        dm.read(read)
    } else if let Some(delivery) = event.get("delivery") {
        dm.delivery(delivery)
    } else {
        let keys: Vec<&String> = event
            .keys()
            .filter(|key| !ENVELOPE_KEYS.contains(&key.as_str()))
            .collect();
        if keys.is_empty() {
            unrecognised("messaging event has no event key besides sender, recipient and timestamp")
        } else {
            unrecognised(format!("messaging event {} is not handled", key_list(keys)))
        }
    }
}

/// One messaging event being parsed: its entry, its two ends and its time (ms).
struct DmCtx<'a> {
    ctx: &'a EntryCtx,
    parties: &'a Parties,
    time: i64,
}

impl DmCtx<'_> {
    fn person(&self, page_sent_it: bool) -> Option<Person> {
        self.parties.person(self.ctx.page_id(), page_sent_it)
    }

    /// `message`: a new DM (or the page's echo of its own), or a deletion (`is_deleted`).
    fn message(&self, message: &Value) -> Item {
        let Some(message) = message.as_object() else {
            return unrecognised("`message` is not a JSON object");
        };
        let Some(mid) = id_of(message.get("mid")) else {
            return unrecognised("message without `mid`");
        };
        let echo = is_true(message.get("is_echo"));
        let Some(person) = self.person(echo) else {
            return no_person("message");
        };
        let direction = if echo {
            Direction::Outbound
        } else {
            Direction::Inbound
        };

        if is_true(message.get("is_deleted")) {
            let item = new_message(
                MessageKind::Dm,
                Change::Deleted,
                direction,
                mid,
                person,
                self.time,
            );
            return Item::Message(item);
        }
        let mut item = new_message(
            MessageKind::Dm,
            Change::Created,
            direction,
            mid,
            person,
            self.time,
        );
        item.text = str_of(message.get("text"));
        item.attachments = dm_attachments(message);
        item.parent_id = id_of(message.get("reply_to").and_then(|reply| reply.get("mid")));
        item.extra = dm_extra(message);
        Item::Message(item)
    }

    /// `message_edit`: the person (or the page) edited a DM; `num_edit` counts the edits.
    fn edit(&self, edit: &Value) -> Item {
        let Some(mid) = id_of(edit.get("mid")) else {
            return unrecognised("message_edit without `mid`");
        };
        // Edits carry no `is_echo`: the page edited its own message when it is the sender.
        let by_page = self.parties.sender.as_deref() == Some(self.ctx.page_id());
        let Some(person) = self.person(by_page) else {
            return no_person("message_edit");
        };
        let direction = if by_page {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let mut item = new_message(
            MessageKind::Dm,
            Change::Edited,
            direction,
            mid,
            person,
            self.time,
        );
        item.text = str_of(edit.get("text"));
        item.revision = id_of(edit.get("num_edit")).unwrap_or_else(|| self.time.to_string());
        Item::Message(item)
    }

    /// `postback`: the person pressed a button; kept as an inbound DM so it shows in the thread.
    fn postback(&self, postback: &Value) -> Item {
        if !postback.is_object() {
            return unrecognised("`postback` is not a JSON object");
        }
        let Some(person) = self.person(false) else {
            return no_person("postback");
        };
        let payload = postback.get("payload").filter(|payload| !payload.is_null());
        // Older postbacks have no `mid`: derive a stable id, identical when Meta retries.
        let id = id_of(postback.get("mid")).unwrap_or_else(|| {
            let sender = self
                .parties
                .sender
                .as_deref()
                .unwrap_or(&person.platform_id);
            format!("postback:{sender}:{}", self.time)
        });
        let mut item = new_message(
            MessageKind::Dm,
            Change::Created,
            Direction::Inbound,
            id,
            person,
            self.time,
        );
        item.text = str_of(postback.get("title")).or_else(|| payload.and_then(|p| str_of(Some(p))));
        item.extra = payload.map(|payload| serde_json::json!({ "postback": payload }));
        Item::Message(item)
    }

    /// `reaction`: an emoji on a DM, added (`react`) or taken back (`unreact`).
    fn reaction(&self, reaction: &Value) -> Item {
        let Some(target_id) = id_of(reaction.get("mid")) else {
            return unrecognised("reaction without `mid`");
        };
        // The reacting person is the sender; the page does not get webhooks for its own reactions.
        let Some(person) = self.person(false) else {
            return no_person("reaction");
        };
        let name = str_of(reaction.get("emoji")).or_else(|| str_of(reaction.get("reaction")));
        Item::Reaction {
            target_id,
            person,
            reaction: name.unwrap_or_default(),
            removed: reaction.get("action").and_then(Value::as_str) == Some("unreact"),
            platform_time: self.time,
        }
    }

    /// `read`: Messenger says read up to a `watermark`; Instagram's "seen" names a `mid`.
    fn read(&self, read: &Value) -> Item {
        if !read.is_object() {
            return unrecognised("`read` is not a JSON object");
        }
        let Some(person) = self.person(false) else {
            return no_person("read");
        };
        Item::Read {
            person,
            watermark: read.get("watermark").and_then(to_millis),
            message_id: id_of(read.get("mid")),
            platform_time: self.time,
        }
    }

    /// `delivery`: the page's messages reached the person (`mids` may be absent).
    fn delivery(&self, delivery: &Value) -> Item {
        if !delivery.is_object() {
            return unrecognised("`delivery` is not a JSON object");
        }
        let Some(person) = self.person(false) else {
            return no_person("delivery");
        };
        let message_ids = delivery
            .get("mids")
            .and_then(Value::as_array)
            .map(|mids| mids.iter().filter_map(|mid| id_of(Some(mid))).collect())
            .unwrap_or_default();
        Item::Delivery {
            person,
            message_ids,
            watermark: delivery.get("watermark").and_then(to_millis),
        }
    }
}

fn no_person(event: &str) -> Item {
    unrecognised(format!(
        "{event} names no sender or recipient besides the page"
    ))
}

/// Attachments of a DM. Stickers arrive as images with a `sticker_id`: call them stickers.
fn dm_attachments(message: &Map<String, Value>) -> Vec<Attachment> {
    let message_is_sticker = message.contains_key("sticker_id");
    let attachments = message.get("attachments").and_then(Value::as_array);
    attachments
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|attachment| {
            let payload = attachment.get("payload").and_then(Value::as_object);
            let field = |key: &str| payload.and_then(|payload| str_of(payload.get(key)));
            let is_sticker = message_is_sticker
                || payload.is_some_and(|payload| payload.contains_key("sticker_id"));
            let kind = if is_sticker {
                "sticker".to_string()
            } else {
                str_of(attachment.get("type")).unwrap_or_else(|| "unknown".to_string())
            };
            Attachment {
                kind,
                url: field("url"),
                name: str_of(attachment.get("title"))
                    .or_else(|| field("title"))
                    .or_else(|| field("name")),
            }
        })
        .collect()
}

/// DM facts worth keeping that have no field of their own; `None` when there are none.
fn dm_extra(message: &Map<String, Value>) -> Option<Value> {
    let mut extra = Map::new();
    if let Some(payload) = message
        .get("quick_reply")
        .and_then(|reply| reply.get("payload"))
    {
        extra.insert("quick_reply".into(), payload.clone());
    }
    for key in ["sticker_id", "app_id"] {
        if let Some(id) = id_of(message.get(key)) {
            extra.insert(key.into(), Value::String(id));
        }
    }
    if let Some(metadata) = message
        .get("metadata")
        .filter(|metadata| !metadata.is_null())
    {
        extra.insert("metadata".into(), metadata.clone());
    }
    (!extra.is_empty()).then_some(Value::Object(extra))
}

// ---------------------------------------------------------------------------------------------
// Changes (Page feed, mentions, Instagram comments and mentions)
// ---------------------------------------------------------------------------------------------

fn parse_change(ctx: &EntryCtx, change: &Value) -> Item {
    let Some(field) = change.get("field").and_then(Value::as_str) else {
        return unrecognised("change without `field`");
    };
    let Some(value) = change.get("value").and_then(Value::as_object) else {
        return unrecognised(format!("change `{field}` has no `value` object"));
    };
    match field {
        "feed" => feed_change(ctx, value),
        "mention" => page_mention(ctx, value),
        "comments" | "live_comments" => instagram_comment(ctx, value),
        "mentions" => instagram_mention(ctx, value),
        // The dashboard's "Test" button (and some Instagram subscriptions) deliver DM events as
        // changes whose value is a messaging event: read them as such.
        _ if field.starts_with("messag") && value.contains_key("sender") => {
            parse_messaging_event(ctx, value)
        }
        other => unrecognised(format!("feed field `{other}` is not handled")),
    }
}

fn feed_change(ctx: &EntryCtx, value: &Map<String, Value>) -> Item {
    let Some(item) = value.get("item").and_then(Value::as_str) else {
        return unrecognised("feed change without `item`");
    };
    let Some(verb) = value.get("verb").and_then(Value::as_str) else {
        return unrecognised(format!("feed {item} without `verb`"));
    };
    match item {
        "comment" => feed_comment(ctx, value, verb),
        "post" | "status" | "photo" | "video" | "share" => feed_post(ctx, value, item, verb),
        // `like` is the pre-reactions name of the same event.
        "reaction" | "like" => feed_reaction(ctx, value, item, verb),
        other => unrecognised(format!("feed item `{other}` is not handled")),
    }
}

fn change_for_verb(verb: &str) -> Option<Change> {
    match verb {
        "add" => Some(Change::Created),
        "edited" | "edit" => Some(Change::Edited),
        "hide" => Some(Change::Hidden),
        "unhide" => Some(Change::Unhidden),
        "remove" => Some(Change::Removed),
        _ => None,
    }
}

/// A comment on a page post, by a visitor or by the page itself.
fn feed_comment(ctx: &EntryCtx, value: &Map<String, Value>, verb: &str) -> Item {
    let Some(change) = change_for_verb(verb) else {
        return unrecognised(format!("feed comment verb `{verb}` is not handled"));
    };
    let Some(id) = id_of(value.get("comment_id")) else {
        return unrecognised("feed comment without `comment_id`");
    };
    let person = feed_author(value).unwrap_or_else(unknown_person);
    let direction = ctx.direction_of(&person);
    let mut item = new_message(
        MessageKind::Comment,
        change,
        direction,
        id,
        person,
        feed_time(ctx, value),
    );
    item.post_id = id_of(value.get("post_id"));
    item.parent_id = parent_comment(value, &item.post_id);
    item.text = str_of(value.get("message"));
    item.attachments = feed_attachments(value, "comment");
    Item::Message(item)
}

/// A post on the page. The page's own posts are [`Item::Post`]; a visitor's post is a message
/// that needs an answer. Any removal is reported as a removed post, whoever wrote it.
fn feed_post(ctx: &EntryCtx, value: &Map<String, Value>, item: &str, verb: &str) -> Item {
    let Some(change) = change_for_verb(verb) else {
        return unrecognised(format!("feed {item} verb `{verb}` is not handled"));
    };
    let Some(post_id) = id_of(value.get("post_id")) else {
        return unrecognised(format!("feed {item} without `post_id`"));
    };
    let author = feed_author(value);
    let time = feed_time(ctx, value);
    let by_page = author
        .as_ref()
        .is_none_or(|author| author.platform_id == ctx.page_id());

    match (change, author) {
        (Change::Removed, author) => Item::Post {
            platform_id: post_id,
            author,
            text: None,
            platform_time: time,
            removed: true,
        },
        (Change::Created | Change::Edited, author) if by_page => Item::Post {
            platform_id: post_id,
            author,
            text: str_of(value.get("message")),
            platform_time: time,
            removed: false,
        },
        // `Item::Post` has no hidden state to record the page hiding its own post in.
        (_, _) if by_page => unrecognised(format!(
            "feed {item} verb `{verb}` on the page's own post is not handled"
        )),
        (_, author) => {
            let person = author.unwrap_or_else(unknown_person);
            let direction = ctx.direction_of(&person);
            let mut message = new_message(
                MessageKind::VisitorPost,
                change,
                direction,
                post_id.clone(),
                person,
                time,
            );
            message.post_id = Some(post_id);
            message.text = str_of(value.get("message"));
            message.attachments = feed_attachments(value, item);
            Item::Message(message)
        }
    }
}

/// A reaction (like, love, ...) on a comment or, failing that, on a post.
fn feed_reaction(ctx: &EntryCtx, value: &Map<String, Value>, item: &str, verb: &str) -> Item {
    let target = id_of(value.get("comment_id")).or_else(|| id_of(value.get("post_id")));
    let Some(target_id) = target else {
        return unrecognised(format!("feed {item} without `comment_id` or `post_id`"));
    };
    let default_name = if item == "like" { "like" } else { "" };
    Item::Reaction {
        target_id,
        person: feed_author(value).unwrap_or_else(unknown_person),
        reaction: str_of(value.get("reaction_type")).unwrap_or_else(|| default_name.to_string()),
        removed: verb == "remove",
        platform_time: feed_time(ctx, value),
    }
}

/// Field `mention`: the page was mentioned in a comment (`comment_id`) or a post (`post_id`).
fn page_mention(ctx: &EntryCtx, value: &Map<String, Value>) -> Item {
    let Some(verb) = value.get("verb").and_then(Value::as_str) else {
        return unrecognised("page mention without `verb`");
    };
    let Some(change) = change_for_verb(verb) else {
        return unrecognised(format!("page mention verb `{verb}` is not handled"));
    };
    let post_id = id_of(value.get("post_id"));
    let Some(id) = id_of(value.get("comment_id")).or_else(|| post_id.clone()) else {
        return unrecognised("page mention without `comment_id` or `post_id`");
    };
    let person = feed_author(value).unwrap_or_else(unknown_person);
    let direction = ctx.direction_of(&person);
    let mut item = new_message(
        MessageKind::Mention,
        change,
        direction,
        id,
        person,
        feed_time(ctx, value),
    );
    item.post_id = post_id;
    item.text = str_of(value.get("message"));
    item.attachments = feed_attachments(value, "comment");
    Item::Message(item)
}

/// Fields `comments` and `live_comments`: a new comment on an Instagram media (post or live).
fn instagram_comment(ctx: &EntryCtx, value: &Map<String, Value>) -> Item {
    let Some(id) = id_of(value.get("id")) else {
        return unrecognised("Instagram comment without `id`");
    };
    let person = value
        .get("from")
        .and_then(Value::as_object)
        .and_then(person_from)
        .unwrap_or_else(unknown_person);
    let direction = ctx.direction_of(&person);
    let mut item = new_message(
        MessageKind::Comment,
        Change::Created,
        direction,
        id,
        person,
        ctx.time,
    );
    item.post_id = id_of(value.get("media").and_then(|media| media.get("id")));
    item.parent_id = parent_comment(value, &item.post_id);
    item.text = str_of(value.get("text"));
    Item::Message(item)
}

/// Field `mentions`: the account was @mentioned in a comment (`comment_id`) or a caption (only
/// `media_id`). Meta sends neither text nor author: they must be fetched from the Graph API.
fn instagram_mention(ctx: &EntryCtx, value: &Map<String, Value>) -> Item {
    let post_id = id_of(value.get("media_id"));
    let Some(id) = id_of(value.get("comment_id")).or_else(|| post_id.clone()) else {
        return unrecognised("Instagram mention without `comment_id` or `media_id`");
    };
    let person = unknown_person();
    let mut item = new_message(
        MessageKind::Mention,
        Change::Created,
        Direction::Inbound,
        id,
        person,
        ctx.time,
    );
    item.post_id = post_id;
    Item::Message(item)
}

/// The author of a feed change: `from {id, name}`, or `sender_id`/`sender_name` in older versions.
fn feed_author(value: &Map<String, Value>) -> Option<Person> {
    let from = value
        .get("from")
        .and_then(Value::as_object)
        .and_then(person_from);
    from.or_else(|| {
        Some(Person {
            platform_id: id_of(value.get("sender_id"))?,
            name: str_of(value.get("sender_name")),
        })
    })
}

/// A `from` object: Facebook names people with `name`, Instagram with `username`.
fn person_from(from: &Map<String, Value>) -> Option<Person> {
    Some(Person {
        platform_id: id_of(from.get("id"))?,
        name: str_of(from.get("name")).or_else(|| str_of(from.get("username"))),
    })
}

fn unknown_person() -> Person {
    Person {
        platform_id: UNKNOWN_PERSON_ID.to_string(),
        name: None,
    }
}

/// `parent_id` names the comment answered, but Facebook sets it to the post for top-level
/// comments: only a different id makes this a reply.
fn parent_comment(value: &Map<String, Value>, post_id: &Option<String>) -> Option<String> {
    id_of(value.get("parent_id")).filter(|parent| Some(parent) != post_id.as_ref())
}

/// When the change happened: `created_time` (seconds, or a Graph date string), else the entry's.
fn feed_time(ctx: &EntryCtx, value: &Map<String, Value>) -> i64 {
    value
        .get("created_time")
        .and_then(to_millis)
        .unwrap_or(ctx.time)
}

/// Media of a comment (`photo`, `video` urls) or of a visitor's post (also its `link`, whose kind
/// follows the post's `item`).
fn feed_attachments(value: &Map<String, Value>, item: &str) -> Vec<Attachment> {
    let link_kind = match item {
        "photo" => "image",
        "video" => "video",
        _ => "link",
    };
    let sources = [("photo", "image"), ("video", "video"), ("link", link_kind)];
    sources
        .into_iter()
        .filter_map(|(key, kind)| {
            Some(Attachment {
                kind: kind.to_string(),
                url: Some(str_of(value.get(key))?),
                name: None,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// A message with no post, parent, text, attachments or extra yet.
fn new_message(
    kind: MessageKind,
    change: Change,
    direction: Direction,
    platform_id: String,
    person: Person,
    platform_time: i64,
) -> MessageItem {
    MessageItem {
        change,
        kind,
        direction,
        platform_id,
        person,
        post_id: None,
        parent_id: None,
        text: None,
        attachments: Vec::new(),
        platform_time,
        revision: revision_for(change, platform_time),
        extra: None,
    }
}

/// See the module docs: empty for the one creation, the reported time for every later state.
fn revision_for(change: Change, platform_time: i64) -> String {
    match change {
        Change::Created => String::new(),
        _ => platform_time.to_string(),
    }
}

fn unrecognised(reason: impl Into<String>) -> Item {
    Item::Unrecognised {
        reason: reason.into(),
    }
}

/// A platform id as a string. Meta writes ids as strings or as JSON numbers; numbers keep their
/// integer digits (never float formatting such as `1.2e12`). Empty strings and non-integral or
/// imprecise numbers are no id.
fn id_of(value: Option<&Value>) -> Option<String> {
    id_text(value?).filter(|id| id.len() <= crate::model::MAX_PLATFORM_ID)
}

/// The id's text, whatever its length (`id_of` refuses the absurd ones: an item without a usable
/// id is kept as unrecognised, verbatim).
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Number(number) => {
            if let Some(id) = number.as_u64() {
                Some(id.to_string())
            } else if let Some(id) = number.as_i64() {
                Some(id.to_string())
            } else {
                // A float (`1e12`, `12.0`): only trust it while every integer is exact in an f64.
                let float = number.as_f64()?;
                let exact = float.fract() == 0.0 && float.abs() < 9_007_199_254_740_992.0;
                exact.then(|| (float as i64).to_string())
            }
        }
        _ => None,
    }
}

/// Values below this are seconds, from this on milliseconds (see the module docs).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// A time as milliseconds since the epoch, from seconds or milliseconds (number or digit string)
/// or a Graph API date such as `2016-01-01T12:00:00+0000`.
fn to_millis(value: &Value) -> Option<i64> {
    let number = match value {
        // `as` saturates, so even absurd floats cannot panic.
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))?,
        Value::String(text) => match text.trim().parse::<i64>() {
            Ok(number) => number,
            Err(_) => return parse_date(text.trim()),
        },
        _ => return None,
    };
    if number.unsigned_abs() < MILLIS_THRESHOLD as u64 {
        Some(number.saturating_mul(1000))
    } else {
        Some(number)
    }
}

fn parse_date(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|date| date.timestamp_millis())
}

fn str_of(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

fn is_true(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}

/// `a`, `b`, `c`: for reasons that name keys.
fn key_list<'a>(keys: impl IntoIterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = keys.into_iter().map(|key| format!("`{key}`")).collect();
    if quoted.is_empty() {
        "none".to_string()
    } else {
        quoted.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Vec<Inbound> {
        parse_webhook(&body).expect("a valid webhook body")
    }

    /// The single item of a body with one event.
    fn only(body: Value) -> Item {
        let mut all = parse(body);
        assert_eq!(all.len(), 1, "expected one item, got {all:?}");
        all.remove(0).item
    }

    fn only_message(body: Value) -> MessageItem {
        match only(body) {
            Item::Message(message) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn reason_of(item: Item) -> String {
        match item {
            Item::Unrecognised { reason } => reason,
            other => panic!("expected Unrecognised, got {other:?}"),
        }
    }

    /// A Messenger body with one messaging event for page 1000 (ids as numbers, as Meta sends).
    fn dm(event: Value) -> Value {
        json!({ "object": "page", "entry": [{ "id": 1000, "time": 1_700_000_000_500_i64, "messaging": [event] }] })
    }

    /// A user (2000) writing to the page.
    fn from_user(body: Value) -> Value {
        let mut event = json!({ "sender": { "id": 2000 }, "recipient": { "id": 1000 }, "timestamp": 1_700_000_000_123_i64 });
        for (key, value) in body.as_object().unwrap() {
            event[key] = value.clone();
        }
        dm(event)
    }

    fn feed(value: Value) -> Value {
        json!({
            "object": "page",
            "entry": [{ "id": "1000", "time": 1_700_000_000, "changes": [{ "field": "feed", "value": value }] }]
        })
    }

    fn instagram(field: &str, value: Value) -> Value {
        json!({
            "object": "instagram",
            "entry": [{ "id": "3000", "time": 1_700_000_000, "changes": [{ "field": field, "value": value }] }]
        })
    }

    fn person(id: &str) -> Person {
        Person {
            platform_id: id.into(),
            name: None,
        }
    }

    // --- Body shape --------------------------------------------------------------------------

    #[test]
    fn rejects_bodies_that_are_not_webhooks() {
        assert!(matches!(
            parse_webhook(&json!([1])),
            Err(MetaError::NotAnObject)
        ));
        assert!(matches!(
            parse_webhook(&json!({ "entry": [] })),
            Err(MetaError::MissingObject)
        ));
        assert!(matches!(
            parse_webhook(&json!({ "object": "user", "entry": [] })),
            Err(MetaError::UnsupportedObject(object)) if object == "user"
        ));
        assert!(matches!(
            parse_webhook(&json!({ "object": "page" })),
            Err(MetaError::MissingEntries)
        ));
        assert!(matches!(
            parse_webhook(&json!({ "object": "page", "entry": {} })),
            Err(MetaError::MissingEntries)
        ));
        assert!(matches!(
            parse_webhook(&json!({ "object": "page", "entry": [{ "id": "1" }, 7] })),
            Err(MetaError::EntryNotAnObject { index: 1 })
        ));
        assert!(matches!(
            parse_webhook(&json!({ "object": "page", "entry": [{ "messaging": [] }] })),
            Err(MetaError::EntryWithoutId { index: 0 })
        ));
        // The messages say what is wrong in plain words.
        assert_eq!(
            MetaError::MissingEntries.to_string(),
            "the webhook body has no `entry` array"
        );
    }

    #[test]
    fn empty_batches_yield_nothing() {
        assert!(parse(json!({ "object": "page", "entry": [] })).is_empty());
        assert!(
            parse(json!({ "object": "page", "entry": [{ "id": 1, "messaging": [] }] })).is_empty()
        );
    }

    #[test]
    fn an_entry_without_events_is_kept_as_unrecognised() {
        let body = json!({ "object": "page", "entry": [{ "id": 1, "time": 5, "optins": [] }] });
        let all = parse(body.clone());
        assert_eq!(all[0].raw, body["entry"][0]);
        assert!(reason_of(all[0].item.clone()).contains("`optins`"));
    }

    #[test]
    fn batches_several_pages_and_platforms_by_entry_id() {
        let body = json!({ "object": "page", "entry": [
            { "id": 1000, "messaging": [{ "sender": { "id": 2000 }, "recipient": { "id": 1000 }, "timestamp": 1, "message": { "mid": "m.1" } }] },
            { "id": "1001", "messaging": [{ "sender": { "id": "2001" }, "recipient": { "id": "1001" }, "timestamp": 2, "message": { "mid": "m.2" } }] }
        ]});
        let channels: Vec<ChannelRef> = parse(body)
            .into_iter()
            .map(|inbound| inbound.channel)
            .collect();
        let expected = |id: &str| ChannelRef {
            platform: Platform::Facebook,
            platform_id: id.into(),
        };
        assert_eq!(channels, vec![expected("1000"), expected("1001")]);

        let ig = parse(instagram("comments", json!({ "id": "1" })));
        assert_eq!(ig[0].channel.platform, Platform::Instagram);
    }

    #[test]
    fn ids_keep_their_integer_digits() {
        assert_eq!(
            id_of(Some(&json!(17841452691600098_u64))).as_deref(),
            Some("17841452691600098")
        );
        assert_eq!(id_of(Some(&json!("0"))).as_deref(), Some("0"));
        assert_eq!(id_of(Some(&json!(12.0))).as_deref(), Some("12"));
        assert_eq!(id_of(Some(&json!(1.5))), None);
        assert_eq!(id_of(Some(&json!(""))), None);
        assert_eq!(id_of(Some(&json!(null))), None);
        assert_eq!(id_of(None), None);
    }

    #[test]
    fn times_in_seconds_or_milliseconds_become_milliseconds() {
        assert_eq!(to_millis(&json!(1_449_135_003)), Some(1_449_135_003_000));
        assert_eq!(
            to_millis(&json!(1_458_668_856_451_i64)),
            Some(1_458_668_856_451)
        );
        assert_eq!(to_millis(&json!("1527459824")), Some(1_527_459_824_000));
        assert_eq!(
            to_millis(&json!("2016-01-01T00:00:00+0000")),
            Some(1_451_606_400_000)
        );
        assert_eq!(to_millis(&json!(1e300)), Some(i64::MAX));
        assert_eq!(to_millis(&json!("soon")), None);
        assert_eq!(to_millis(&json!(null)), None);
    }

    // --- Messaging -----------------------------------------------------------------------------

    #[test]
    fn a_dm_from_a_person() {
        let body = from_user(json!({ "message": { "mid": "m.1", "seq": 3, "text": "Hej!" } }));
        let all = parse(body.clone());
        assert_eq!(all[0].raw, body["entry"][0]["messaging"][0]);
        let Item::Message(message) = &all[0].item else {
            panic!("{:?}", all[0].item)
        };
        assert_eq!(
            *message,
            MessageItem {
                change: Change::Created,
                kind: MessageKind::Dm,
                direction: Direction::Inbound,
                platform_id: "m.1".into(),
                person: person("2000"),
                post_id: None,
                parent_id: None,
                text: Some("Hej!".into()),
                attachments: vec![],
                platform_time: 1_700_000_000_123,
                revision: String::new(),
                extra: None,
            }
        );
    }

    #[test]
    fn echoes_are_outbound_to_whichever_end_is_not_the_page() {
        let echo =
            json!({ "mid": "m.1", "text": "Svar", "is_echo": true, "app_id": 42, "metadata": "x" });
        // The usual shape: the page sends to the person.
        let sent = only_message(dm(
            json!({ "sender": { "id": 1000 }, "recipient": { "id": 2000 }, "timestamp": 5, "message": echo }),
        ));
        assert_eq!(sent.direction, Direction::Outbound);
        assert_eq!(sent.person, person("2000"));
        assert_eq!(sent.extra, Some(json!({ "app_id": "42", "metadata": "x" })));
        // Meta's own sample has the ends swapped: still the person, never the page.
        let swapped = only_message(dm(
            json!({ "sender": { "id": 2000 }, "recipient": { "id": 1000 }, "message": echo }),
        ));
        assert_eq!(swapped.person, person("2000"));
        assert_eq!(swapped.direction, Direction::Outbound);
        // Placeholder ids (neither end is the page): echoes go to the recipient...
        let placeholder = only_message(dm(
            json!({ "sender": { "id": "PAGE" }, "recipient": { "id": "USER" }, "message": echo }),
        ));
        assert_eq!(placeholder.person, person("USER"));
        // ... and other messages come from the sender.
        let inbound = only_message(dm(
            json!({ "sender": { "id": "USER" }, "recipient": { "id": "PAGE" }, "message": { "mid": "m.2" } }),
        ));
        assert_eq!(inbound.person, person("USER"));
    }

    #[test]
    fn a_dm_without_its_time_takes_the_entry_time() {
        let message = only_message(dm(
            json!({ "sender": { "id": 2000 }, "recipient": { "id": 1000 }, "message": { "mid": "m" } }),
        ));
        assert_eq!(message.platform_time, 1_700_000_000_500);
    }

    #[test]
    fn standby_events_are_read_like_messaging() {
        let body = json!({ "object": "page", "entry": [{ "id": 1000, "standby": [
            { "sender": { "id": 2000 }, "recipient": { "id": 1000 }, "timestamp": 1, "message": { "mid": "m.1", "text": "hej" } }
        ]}]});
        assert_eq!(only_message(body).text.as_deref(), Some("hej"));
    }

    #[test]
    fn attachments_stickers_replies_and_quick_replies() {
        let message = only_message(from_user(json!({ "message": {
            "mid": "m.1",
            "text": "Ja",
            "reply_to": { "mid": "m.0" },
            "quick_reply": { "payload": "YES" },
            "attachments": [
                { "type": "image", "payload": { "url": "https://x/a.jpg" } },
                { "type": "fallback", "title": "Länk", "payload": null },
                "not an attachment"
            ]
        }})));
        assert_eq!(message.parent_id.as_deref(), Some("m.0"));
        assert_eq!(message.extra, Some(json!({ "quick_reply": "YES" })));
        assert_eq!(
            message.attachments,
            vec![
                Attachment {
                    kind: "image".into(),
                    url: Some("https://x/a.jpg".into()),
                    name: None
                },
                Attachment {
                    kind: "fallback".into(),
                    url: None,
                    name: Some("Länk".into())
                },
            ]
        );

        let sticker = only_message(from_user(json!({ "message": {
            "mid": "m.2",
            "sticker_id": 369239263222822_u64,
            "attachments": [{ "type": "image", "payload": { "url": "https://x/s.png", "sticker_id": 369239263222822_u64 } }]
        }})));
        assert_eq!(sticker.attachments[0].kind, "sticker");
        assert_eq!(
            sticker.extra,
            Some(json!({ "sticker_id": "369239263222822" }))
        );
    }

    #[test]
    fn deleted_and_edited_dms() {
        let deleted = only_message(from_user(
            json!({ "message": { "mid": "m.1", "is_deleted": true, "text": "gone" } }),
        ));
        assert_eq!((deleted.change, deleted.text), (Change::Deleted, None));
        assert_eq!(deleted.revision, "1700000000123");

        let edited = only_message(from_user(
            json!({ "message_edit": { "mid": "m.1", "text": "Hej igen", "num_edit": 2 } }),
        ));
        assert_eq!(edited.change, Change::Edited);
        assert_eq!(edited.text.as_deref(), Some("Hej igen"));
        assert_eq!(edited.revision, "2");
        assert_eq!(edited.direction, Direction::Inbound);

        let by_page = only_message(dm(
            json!({ "sender": { "id": 1000 }, "recipient": { "id": 2000 }, "message_edit": { "mid": "m.9", "num_edit": "1" } }),
        ));
        assert_eq!(
            (by_page.direction, by_page.person),
            (Direction::Outbound, person("2000"))
        );
    }

    #[test]
    fn a_message_without_mid_is_unrecognised() {
        let reason = reason_of(only(from_user(json!({ "message": { "text": "?" } }))));
        assert_eq!(reason, "message without `mid`");
    }

    #[test]
    fn postbacks_are_inbound_dms() {
        let plain = only_message(from_user(
            json!({ "postback": { "payload": "GET_STARTED" } }),
        ));
        assert_eq!(plain.platform_id, "postback:2000:1700000000123");
        assert_eq!(plain.text.as_deref(), Some("GET_STARTED"));
        assert_eq!(plain.extra, Some(json!({ "postback": "GET_STARTED" })));
        assert_eq!(plain.direction, Direction::Inbound);

        let titled = only_message(from_user(
            json!({ "postback": { "mid": "m.7", "title": "Kom igång", "payload": "GET_STARTED" } }),
        ));
        assert_eq!(titled.platform_id, "m.7");
        assert_eq!(titled.text.as_deref(), Some("Kom igång"));
    }

    #[test]
    fn dm_reactions() {
        let added = only(from_user(
            json!({ "reaction": { "mid": "m.1", "action": "react", "emoji": "😢", "reaction": "sad" } }),
        ));
        assert_eq!(
            added,
            Item::Reaction {
                target_id: "m.1".into(),
                person: person("2000"),
                reaction: "😢".into(),
                removed: false,
                platform_time: 1_700_000_000_123
            }
        );
        let removed = only(from_user(
            json!({ "reaction": { "mid": "m.1", "action": "unreact", "reaction": "sad" } }),
        ));
        assert!(
            matches!(removed, Item::Reaction { removed: true, ref reaction, .. } if reaction == "sad")
        );
    }

    #[test]
    fn reads_and_deliveries() {
        let read = only(from_user(
            json!({ "read": { "watermark": 1_699_999_999_000_i64, "seq": 1 } }),
        ));
        assert_eq!(
            read,
            Item::Read {
                person: person("2000"),
                watermark: Some(1_699_999_999_000),
                message_id: None,
                platform_time: 1_700_000_000_123
            }
        );
        let seen = only(from_user(json!({ "read": { "mid": "m.3" } })));
        assert!(
            matches!(seen, Item::Read { message_id: Some(ref mid), watermark: None, .. } if mid == "m.3")
        );

        let delivery = only(from_user(
            json!({ "delivery": { "mids": ["m.1", 5], "watermark": 1_699_999_999_000_i64 } }),
        ));
        assert_eq!(
            delivery,
            Item::Delivery {
                person: person("2000"),
                message_ids: vec!["m.1".into(), "5".into()],
                watermark: Some(1_699_999_999_000)
            }
        );
    }

    #[test]
    fn unknown_messaging_events_name_their_keys() {
        let reason = reason_of(only(from_user(json!({ "optin": { "ref": "x" } }))));
        assert_eq!(reason, "messaging event `optin` is not handled");
        let reason = reason_of(only(dm(json!("text"))));
        assert_eq!(reason, "messaging event is not a JSON object");
    }

    #[test]
    fn events_naming_only_the_page_are_unrecognised() {
        let body = dm(json!({ "sender": { "id": 1000 }, "message": { "mid": "m" } }));
        assert!(reason_of(only(body)).contains("besides the page"));
    }

    #[test]
    fn messaging_events_sent_as_changes_are_read_as_dms() {
        let body = instagram(
            "messages",
            json!({
                "sender": { "id": "4000" }, "recipient": { "id": "3000" }, "timestamp": "1527459824",
                "message": { "mid": "m.1", "text": "hej" }
            }),
        );
        let message = only_message(body);
        assert_eq!(
            (message.person, message.platform_time),
            (person("4000"), 1_527_459_824_000)
        );
    }

    // --- Page feed -----------------------------------------------------------------------------

    #[test]
    fn a_visitor_comment_and_a_reply() {
        let body = feed(json!({
            "item": "comment", "verb": "add",
            "comment_id": "5_6", "post_id": "1000_5", "parent_id": "1000_5",
            "from": { "id": "2000", "name": "Anna" },
            "created_time": 1_700_000_100, "message": "När öppnar badet?"
        }));
        let all = parse(body.clone());
        assert_eq!(all[0].raw, body["entry"][0]["changes"][0]);
        let Item::Message(comment) = &all[0].item else {
            panic!()
        };
        assert_eq!(comment.kind, MessageKind::Comment);
        assert_eq!(comment.change, Change::Created);
        assert_eq!(comment.direction, Direction::Inbound);
        assert_eq!(
            comment.person,
            Person {
                platform_id: "2000".into(),
                name: Some("Anna".into())
            }
        );
        assert_eq!(comment.post_id.as_deref(), Some("1000_5"));
        assert_eq!(
            comment.parent_id, None,
            "a top-level comment's parent is the post"
        );
        assert_eq!(comment.platform_time, 1_700_000_100_000);
        assert_eq!(comment.revision, "");

        let reply = only_message(feed(json!({
            "item": "comment", "verb": "add", "comment_id": "5_7", "post_id": "1000_5", "parent_id": "5_6",
            "sender_id": 1000, "sender_name": "Kommunen", "message": "I juni"
        })));
        assert_eq!(reply.parent_id.as_deref(), Some("5_6"));
        assert_eq!(reply.direction, Direction::Outbound, "the page answering");
        assert_eq!(
            reply.person,
            Person {
                platform_id: "1000".into(),
                name: Some("Kommunen".into())
            }
        );
        assert_eq!(
            reply.platform_time, 1_700_000_000_000,
            "no created_time: the entry's time"
        );
    }

    #[test]
    fn edits_reported_at_one_time_are_told_apart_by_their_wording() {
        let edit = |text: &str| {
            only_message(feed(json!({
                "item": "comment", "verb": "edited", "comment_id": "5_6", "post_id": "1000_5",
                "sender_id": 2000, "created_time": 1_700_000_200, "message": text
            })))
            .revision
        };
        assert_ne!(edit("Fint väder"), edit("Jag ska döda dig"));
        assert_eq!(
            edit("Fint väder"),
            edit("Fint väder"),
            "a redelivery stays one"
        );
    }

    #[test]
    fn comment_verbs_and_revisions() {
        let with_verb = |verb: &str| {
            only_message(feed(json!({
                "item": "comment", "verb": verb, "comment_id": "5_6", "post_id": "1000_5",
                "sender_id": 2000, "created_time": 1_700_000_200
            })))
        };
        for (verb, change) in [
            ("edited", Change::Edited),
            ("edit", Change::Edited),
            ("hide", Change::Hidden),
            ("unhide", Change::Unhidden),
            ("remove", Change::Removed),
        ] {
            let comment = with_verb(verb);
            assert_eq!(comment.change, change, "{verb}");
            // An edit's key also carries its wording (see `key_edit_by_wording`).
            assert!(comment.revision.starts_with("1700000200000"), "{verb}");
        }
        let reason = reason_of(only(feed(
            json!({ "item": "comment", "verb": "block", "comment_id": "5_6" }),
        )));
        assert_eq!(reason, "feed comment verb `block` is not handled");
    }

    #[test]
    fn comment_media_and_unknown_authors() {
        let comment = only_message(feed(json!({
            "item": "comment", "verb": "remove", "comment_id": "5_6", "post_id": "1000_5",
            "photo": "https://x/p.jpg", "video": "https://x/v.mp4"
        })));
        assert_eq!(comment.person, person(UNKNOWN_PERSON_ID));
        assert_eq!(comment.direction, Direction::Inbound);
        let kinds: Vec<&str> = comment
            .attachments
            .iter()
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(kinds, ["image", "video"]);
    }

    #[test]
    fn posts_by_the_page_and_by_visitors() {
        let own = only(feed(
            json!({ "item": "status", "verb": "add", "post_id": "1000_5", "from": { "id": 1000, "name": "Kommunen" }, "message": "Badet öppnar" }),
        ));
        assert_eq!(
            own,
            Item::Post {
                platform_id: "1000_5".into(),
                author: Some(Person {
                    platform_id: "1000".into(),
                    name: Some("Kommunen".into())
                }),
                text: Some("Badet öppnar".into()),
                platform_time: 1_700_000_000_000,
                removed: false,
            }
        );
        let anonymous = only(feed(
            json!({ "item": "post", "verb": "edited", "post_id": "1000_5", "message": "Ändrat" }),
        ));
        assert!(matches!(
            anonymous,
            Item::Post {
                author: None,
                removed: false,
                ..
            }
        ));

        let visitor = only_message(feed(json!({
            "item": "photo", "verb": "add", "post_id": "1000_8", "link": "https://x/p.jpg",
            "from": { "id": "2000", "name": "Anna" }, "message": "Trasig lampa", "created_time": 1_700_000_300
        })));
        assert_eq!(visitor.kind, MessageKind::VisitorPost);
        assert_eq!(visitor.platform_id, "1000_8");
        assert_eq!(visitor.post_id.as_deref(), Some("1000_8"));
        assert_eq!(visitor.direction, Direction::Inbound);
        assert_eq!(visitor.attachments[0].kind, "image");

        let hidden = only_message(feed(
            json!({ "item": "post", "verb": "hide", "post_id": "1000_8", "sender_id": 2000 }),
        ));
        assert_eq!(
            (hidden.kind, hidden.change),
            (MessageKind::VisitorPost, Change::Hidden)
        );
        let own_hidden = only(feed(
            json!({ "item": "post", "verb": "hide", "post_id": "1000_5", "sender_id": 1000 }),
        ));
        assert!(reason_of(own_hidden).contains("page's own post"));
    }

    #[test]
    fn removed_posts_are_posts_whoever_wrote_them() {
        for author in [json!(1000), json!(2000)] {
            let removed = only(feed(
                json!({ "item": "post", "verb": "remove", "post_id": "1000_5", "sender_id": author, "message": "x" }),
            ));
            assert!(
                matches!(
                    removed,
                    Item::Post {
                        removed: true,
                        text: None,
                        ..
                    }
                ),
                "{removed:?}"
            );
        }
    }

    #[test]
    fn feed_reactions_on_comments_and_posts() {
        let on_post = only(feed(json!({
            "item": "reaction", "verb": "add", "post_id": "1000_5", "parent_id": "1000_4",
            "reaction_type": "love", "from": { "id": "2000", "name": "Anna" }, "created_time": 1_700_000_400
        })));
        assert_eq!(
            on_post,
            Item::Reaction {
                target_id: "1000_5".into(),
                person: Person {
                    platform_id: "2000".into(),
                    name: Some("Anna".into())
                },
                reaction: "love".into(),
                removed: false,
                platform_time: 1_700_000_400_000,
            }
        );
        let on_comment = only(feed(
            json!({ "item": "reaction", "verb": "remove", "post_id": "1000_5", "comment_id": "5_6", "reaction_type": "like" }),
        ));
        assert!(
            matches!(on_comment, Item::Reaction { ref target_id, removed: true, ref person, .. }
            if target_id == "5_6" && person.platform_id == UNKNOWN_PERSON_ID)
        );
    }

    #[test]
    fn unknown_feed_items_and_fields() {
        assert_eq!(
            reason_of(only(feed(json!({ "item": "album", "verb": "add" })))),
            "feed item `album` is not handled"
        );
        assert_eq!(
            reason_of(only(feed(json!({ "verb": "add" })))),
            "feed change without `item`"
        );
        let body = json!({ "object": "page", "entry": [{ "id": 1, "changes": [
            { "field": "foo", "value": { "item": "bar" } },
            { "field": "feed" },
            { "value": {} },
            null
        ]}]});
        let reasons: Vec<String> = parse(body)
            .into_iter()
            .map(|inbound| reason_of(inbound.item))
            .collect();
        assert_eq!(
            reasons,
            [
                "feed field `foo` is not handled",
                "change `feed` has no `value` object",
                "change without `field`",
                "change without `field`",
            ]
        );
    }

    #[test]
    fn page_mentions() {
        let body = json!({ "object": "page", "entry": [{ "id": "1000", "time": 1_700_000_000, "changes": [{ "field": "mention", "value": {
            "item": "comment", "verb": "add", "message": "Fråga @Kommunen", "post_id": "9_5", "comment_id": "5_6", "created_time": 1_700_000_500
        }}]}]});
        let mention = only_message(body);
        assert_eq!(mention.kind, MessageKind::Mention);
        assert_eq!(mention.platform_id, "5_6");
        assert_eq!(mention.post_id.as_deref(), Some("9_5"));
        assert_eq!(mention.person, person(UNKNOWN_PERSON_ID));
        assert_eq!(mention.text.as_deref(), Some("Fråga @Kommunen"));
        assert_eq!(mention.platform_time, 1_700_000_500_000);
    }

    // --- Instagram -----------------------------------------------------------------------------

    #[test]
    fn instagram_comments() {
        let comment = only_message(instagram(
            "comments",
            json!({
                "id": "17", "text": "Snyggt!", "parent_id": "16",
                "from": { "id": "4000", "username": "anna" }, "media": { "id": "99", "media_product_type": "FEED" }
            }),
        ));
        assert_eq!(comment.kind, MessageKind::Comment);
        assert_eq!(
            comment.person,
            Person {
                platform_id: "4000".into(),
                name: Some("anna".into())
            }
        );
        assert_eq!(comment.post_id.as_deref(), Some("99"));
        assert_eq!(comment.parent_id.as_deref(), Some("16"));
        assert_eq!(comment.text.as_deref(), Some("Snyggt!"));
        assert_eq!(comment.platform_time, 1_700_000_000_000);
        assert_eq!(comment.direction, Direction::Inbound);

        let own = only_message(instagram(
            "live_comments",
            json!({ "id": "18", "from": { "id": "3000", "username": "kommunen" } }),
        ));
        assert_eq!(own.direction, Direction::Outbound);
        assert_eq!(own.post_id, None);

        let bare = only_message(instagram("comments", json!({ "id": "19", "text": "?" })));
        assert_eq!(bare.person, person(UNKNOWN_PERSON_ID));
        assert_eq!(
            reason_of(only(instagram("comments", json!({ "text": "?" })))),
            "Instagram comment without `id`"
        );
    }

    #[test]
    fn instagram_mentions() {
        let in_comment = only_message(instagram(
            "mentions",
            json!({ "comment_id": 17, "media_id": "99" }),
        ));
        assert_eq!(in_comment.kind, MessageKind::Mention);
        assert_eq!(in_comment.platform_id, "17");
        assert_eq!(in_comment.post_id.as_deref(), Some("99"));
        assert_eq!(in_comment.text, None);
        let in_caption = only_message(instagram("mentions", json!({ "media_id": "99" })));
        assert_eq!(in_caption.platform_id, "99");
    }

    // --- Robustness ----------------------------------------------------------------------------

    /// Every JSON pointer inside a value.
    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    pointers(
                        child,
                        format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    pointers(child, format!("{at}/{index}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    #[test]
    fn never_panics_whatever_a_field_holds() {
        let bodies = [
            from_user(
                json!({ "message": { "mid": "m", "is_echo": true, "text": "x", "reply_to": { "mid": "r" }, "quick_reply": { "payload": "p" },
                "sticker_id": 1, "attachments": [{ "type": "image", "payload": { "url": "u", "sticker_id": 1 } }] } }),
            ),
            from_user(
                json!({ "message_edit": { "mid": "m", "num_edit": 1, "text": "t" }, "postback": { "payload": "p", "title": "t", "mid": "m" } }),
            ),
            from_user(json!({
                "reaction": { "mid": "m", "action": "react", "emoji": "e" },
                "read": { "watermark": 1, "mid": "m" },
                "delivery": { "mids": ["m"], "watermark": 1 }
            })),
            feed(
                json!({ "item": "comment", "verb": "add", "comment_id": "c", "post_id": "p", "parent_id": "q", "from": { "id": 1, "name": "n" },
                "sender_id": 2, "sender_name": "s", "created_time": 1, "message": "m", "photo": "u", "video": "v" }),
            ),
            feed(
                json!({ "item": "photo", "verb": "add", "post_id": "p", "from": { "id": 2 }, "link": "l", "message": "m" }),
            ),
            feed(
                json!({ "item": "reaction", "verb": "add", "post_id": "p", "comment_id": "c", "reaction_type": "like", "from": { "id": 2 } }),
            ),
            json!({ "object": "page", "entry": [{ "id": 1, "time": 1, "changes": [{
                "field": "mention",
                "value": { "verb": "add", "comment_id": "c", "post_id": "p", "from": { "id": 1 } }
            }] }] }),
            instagram(
                "comments",
                json!({ "id": "1", "text": "t", "from": { "id": "2", "username": "u" }, "media": { "id": "3" }, "parent_id": "4" }),
            ),
            instagram("mentions", json!({ "comment_id": "1", "media_id": "2" })),
            instagram(
                "messages",
                json!({ "sender": { "id": "2" }, "recipient": { "id": "3000" }, "message": { "mid": "m" } }),
            ),
        ];
        let replacements = [
            json!(null),
            json!(true),
            json!(-1),
            json!(1.5),
            json!(1e300),
            json!(""),
            json!("x"),
            json!([]),
            json!({}),
            json!([null]),
        ];
        for body in bodies {
            let mut paths = Vec::new();
            pointers(&body, String::new(), &mut paths);
            for path in &paths {
                for replacement in &replacements {
                    let mut mutated = body.clone();
                    match mutated.pointer_mut(path) {
                        Some(slot) => *slot = replacement.clone(),
                        None => continue,
                    }
                    // Errors are fine, panics are not; and whatever comes out must serialise.
                    if let Ok(items) = parse_webhook(&mutated) {
                        serde_json::to_string(&items).expect("serialisable");
                    }
                }
            }
        }
    }

    // --- Recorded payloads ---------------------------------------------------------------------

    /// Real payload shapes kept next to the project (see its README). `unknown-*` files are
    /// meant to be unrecognised; every other file must be fully understood.
    #[test]
    fn parses_every_recorded_meta_payload() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/meta"
        ));
        if !dir.is_dir() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("fixture folder {} is missing on CI", dir.display());
            }
            eprintln!("skipped: fixture folder {} is missing", dir.display());
            return;
        }
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .expect("readable fixture folder")
            .map(|entry| entry.expect("readable folder entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no .json files in {}", dir.display());

        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let items = parse_webhook(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!items.is_empty(), "{name} yielded nothing");
            if !name.starts_with("unknown-") {
                for inbound in &items {
                    assert!(
                        !matches!(inbound.item, Item::Unrecognised { .. }),
                        "{name}: {:?}",
                        inbound.item
                    );
                }
            }
        }
    }
}
