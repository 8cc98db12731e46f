//! The normalised message format of `POST /api/v1/messages` and `tavla import` (one per line):
//! for channels without webhooks and for moving history over from another tool.
//!
//! ```json
//! {"platform": "facebook", "channel": "PAGE_ID", "kind": "dm", "direction": "inbound",
//!  "id": "platform-message-id", "author": {"id": "person-id", "name": "Anna"},
//!  "text": "Hej!", "time": "2026-11-02T09:15:00+01:00", "post_id": null, "parent_id": null,
//!  "attachments": [{"kind": "image", "url": "https://…", "name": "bild.jpg"}]}
//! ```

use serde::Deserialize;
use utoipa::ToSchema;

use crate::model::{
    Attachment, Change, ChannelRef, Direction, Inbound, Item, MessageItem, MessageKind, Person,
    Platform, MAX_PLATFORM_ID as MAX_ID,
};

/// One message in tavla's normalised format, for channels without webhooks and for moving
/// history over from another tool (the same format as one line of `tavla import`). Unknown fields
/// are refused. A comment, visitor post or mention needs `post_id`.
// The rule across fields (`post_id` unless `dm`) is laid on in the HTTP description
// (`http::messages`), where the description's tools live.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "platform": "facebook", "channel": "104857600123456", "kind": "dm",
    "direction": "inbound", "id": "m_abc123", "author": {"id": "7001002003", "name": "Anna"},
    "text": "Hej!", "time": "2026-11-02T09:15:00+01:00", "post_id": null, "parent_id": null,
    "attachments": [{"kind": "image", "url": "https://example.org/bild.jpg", "name": "bild.jpg"}]
}))]
pub struct NormalisedMessage {
    // Text, not `Platform`, so that an unknown platform is answered in words (`into_inbound`);
    // the description states the platforms accepted.
    #[schema(value_type = Platform)]
    pub platform: String,
    /// The page or account id on the platform. If no approved channel has it, the message is
    /// quarantined.
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    pub channel: String,
    pub kind: MessageKind,
    #[serde(default = "inbound")]
    #[schema(default = "inbound")]
    pub direction: Direction,
    /// The platform's id of the message: the idempotency key (a message sent twice is stored
    /// once).
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    pub id: String,
    pub author: NormalisedAuthor,
    #[serde(default)]
    pub text: Option<String>,
    #[schema(schema_with = time_schema)]
    pub time: Time,
    /// The post a comment was written under (platform id). Required unless kind is `dm`.
    #[serde(default)]
    #[schema(max_length = 256)]
    pub post_id: Option<String>,
    /// The comment or message this one answers (platform id).
    #[serde(default)]
    #[schema(max_length = 256)]
    pub parent_id: Option<String>,
    #[serde(default)]
    #[schema(default = json!([]))]
    pub attachments: Vec<Attachment>,
}

/// `time`: milliseconds (at most [`LAST_MS`]) or RFC 3339 text, as [`Time`] reads it.
fn time_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    OneOfBuilder::new()
        .description(Some(
            "When the message was written: milliseconds since the Unix epoch (at most \
             253402300799999, the end of the year 9999), or RFC 3339 text with an offset.",
        ))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .maximum(Some(LAST_MS)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .build()
        .into()
}

fn inbound() -> Direction {
    Direction::Inbound
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NormalisedAuthor {
    /// The person's id on the platform.
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// RFC 3339 text or milliseconds since the epoch.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Time {
    Millis(i64),
    Text(String),
}

/// The last millisecond of the year 9999, the latest time RFC 3339 can write.
const LAST_MS: i64 = 253_402_300_799_999;

impl NormalisedMessage {
    /// Checks the message and turns it into an arrival. The error says what to fix.
    pub fn into_inbound(self, raw: serde_json::Value) -> Result<Inbound, String> {
        let platform = Platform::parse(&self.platform).ok_or_else(|| {
            format!(
                "platform must be facebook, instagram or linkedin, not {:?}",
                self.platform
            )
        })?;
        let optional = [("post_id", &self.post_id), ("parent_id", &self.parent_id)];
        for (field, value) in optional {
            if value.as_ref().is_some_and(|v| v.chars().count() > MAX_ID) {
                return Err(format!("{field} is longer than {MAX_ID} characters"));
            }
        }
        for (field, value) in [
            ("channel", &self.channel),
            ("id", &self.id),
            ("author.id", &self.author.id),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{field} must not be empty"));
            }
            if value.chars().count() > MAX_ID {
                return Err(format!("{field} is longer than {MAX_ID} characters"));
            }
        }
        if !self.kind.is_direct() && self.post_id.is_none() {
            return Err("a comment needs post_id: the post it was written under".into());
        }
        let platform_time = match self.time {
            Time::Millis(ms) => ms,
            Time::Text(text) => chrono::DateTime::parse_from_rfc3339(&text)
                .map_err(|_| {
                    format!("time must be RFC 3339 (2026-11-02T09:15:00+01:00), not {text:?}")
                })?
                .timestamp_millis(),
        };
        // Times are compared and added to (service levels, retention) in Rust and in SQL: a
        // time near i64::MAX would overflow there, so the years end where RFC 3339's do.
        if platform_time > LAST_MS {
            return Err(format!(
                "time {platform_time} is after the year 9999; give milliseconds since 1970 (at most {LAST_MS})"
            ));
        }
        Ok(Inbound {
            channel: ChannelRef {
                platform,
                platform_id: self.channel,
            },
            item: Item::Message(MessageItem {
                change: Change::Created,
                kind: self.kind,
                direction: self.direction,
                platform_id: self.id,
                person: Person {
                    platform_id: self.author.id,
                    name: self.author.name,
                },
                post_id: self.post_id,
                parent_id: self.parent_id,
                text: self.text,
                attachments: self.attachments,
                platform_time,
                revision: String::new(),
                extra: None,
            }),
            raw,
        })
    }
}

/// Parses one JSON value as a normalised message.
pub fn parse(value: serde_json::Value) -> Result<Inbound, String> {
    let message: NormalisedMessage =
        serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    message.into_inbound(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dm_with_rfc3339_time() {
        let v = serde_json::json!({
            "platform": "facebook", "channel": "p1", "kind": "dm", "id": "m1",
            "author": {"id": "u1", "name": "Anna"}, "text": "Hej", "time": "2026-11-02T09:15:00+01:00"
        });
        let inbound = parse(v).unwrap();
        let Item::Message(m) = inbound.item else {
            panic!("not a message")
        };
        assert_eq!(m.platform_time, 1_793_607_300_000);
        assert_eq!(m.direction, Direction::Inbound);
    }

    #[test]
    fn errors_say_what_to_fix() {
        let no_post = serde_json::json!({
            "platform": "facebook", "channel": "p1", "kind": "comment", "id": "c1",
            "author": {"id": "u1"}, "time": 0
        });
        assert!(parse(no_post).unwrap_err().contains("post_id"));
        let bad_platform = serde_json::json!({
            "platform": "myspace", "channel": "p1", "kind": "dm", "id": "m1",
            "author": {"id": "u1"}, "time": 0
        });
        assert!(parse(bad_platform).unwrap_err().contains("platform"));
        let extra_field = serde_json::json!({
            "platform": "facebook", "channel": "p1", "kind": "dm", "id": "m1",
            "author": {"id": "u1"}, "time": 0, "role": "admin"
        });
        assert!(parse(extra_field).unwrap_err().contains("role"));
        // Found by schemathesis: a time near i64::MAX was taken, and the queue's service level
        // (the time plus the kind's hours) overflowed for every reader of the queue.
        let far = |time: i64| {
            serde_json::json!({
                "platform": "facebook", "channel": "p1", "kind": "dm", "id": "m1",
                "author": {"id": "u1"}, "time": time
            })
        };
        assert!(parse(far(i64::MAX)).unwrap_err().contains("year 9999"));
        assert!(parse(far(LAST_MS)).is_ok());
    }
}
