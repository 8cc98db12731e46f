//! The normalised shape of everything that arrives, whatever the source (Meta webhooks, the ingest API,
//! an import file). The store only ever sees these types, so that every way in is handled one way.

use serde::{Deserialize, Serialize};

/// The platform a channel lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Facebook,
    Instagram,
    Linkedin,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Facebook, Platform::Instagram, Platform::Linkedin];
    /// The stored spellings, for "must be one of" answers.
    pub const NAMES: [&'static str; 3] = [
        Platform::Facebook.as_str(),
        Platform::Instagram.as_str(),
        Platform::Linkedin.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Linkedin => "linkedin",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Every state a message can be in, as stored (`messages.state`): shown to everyone who may read
/// it, or hidden, removed or deleted by moderation (shown to moderators only).
pub const MESSAGE_STATES: [&str; 4] = ["visible", "hidden", "removed", "deleted"];

/// `dm`: a direct-message conversation with one person (one per person and channel).
/// `comments`: the comment thread under one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Dm,
    Comments,
}

impl ConversationKind {
    pub const ALL: [ConversationKind; 2] = [ConversationKind::Dm, ConversationKind::Comments];
    pub const NAMES: [&'static str; 2] = [
        ConversationKind::Dm.as_str(),
        ConversationKind::Comments.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Dm => "dm",
            ConversationKind::Comments => "comments",
        }
    }

    pub fn parse(s: &str) -> Option<ConversationKind> {
        ConversationKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The conversation a message of this kind belongs to.
    pub fn of(kind: MessageKind) -> ConversationKind {
        if kind.is_direct() {
            ConversationKind::Dm
        } else {
            ConversationKind::Comments
        }
    }
}

/// `open`: needs attention. `waiting`: waiting for the person or someone else. `resolved`: done
/// (setting it releases any claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    Open,
    Waiting,
    Resolved,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 3] = [
        ConversationStatus::Open,
        ConversationStatus::Waiting,
        ConversationStatus::Resolved,
    ];
    pub const NAMES: [&'static str; 3] = [
        ConversationStatus::Open.as_str(),
        ConversationStatus::Waiting.as_str(),
        ConversationStatus::Resolved.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Waiting => "waiting",
            ConversationStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<ConversationStatus> {
        ConversationStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Which registered account an item belongs to: the page or Instagram account id on the platform.
/// Longest platform id accepted (in bytes) from any source; real ids are far shorter, and the
/// store keeps ids in indexed columns, so a hostile one must not reach it.
pub const MAX_PLATFORM_ID: usize = 256;

/// Which account an item belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelRef {
    pub platform: Platform,
    /// Page or account id on the platform.
    pub platform_id: String,
}

/// A person or account on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    pub platform_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
}

/// A direct message, a comment, a visitor's post on the page, or a mention of the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Dm,
    Comment,
    VisitorPost,
    Mention,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Dm => "dm",
            MessageKind::Comment => "comment",
            MessageKind::VisitorPost => "visitor_post",
            MessageKind::Mention => "mention",
        }
    }

    /// DMs form one conversation per person; everything else is part of a thread under a post.
    pub fn is_direct(self) -> bool {
        matches!(self, MessageKind::Dm)
    }
}

/// `inbound`: from the public to the municipality. `outbound`: from the municipality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// A file, image or other attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    /// image, video, audio, file, sticker, fallback, unsupported_type, ...
    pub kind: String,
    /// Where the platform serves it (often short-lived). Omitted when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// File name or title, when known. Omitted when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What happened to a message.
// A message first seen through an edit, hide or removal is still stored as that message
// (DESIGN.md §2): the change says which state it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Edited,
    Hidden,
    Unhidden,
    Removed,
    Deleted,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Edited => "edited",
            Change::Hidden => "hidden",
            Change::Unhidden => "unhidden",
            Change::Removed => "removed",
            Change::Deleted => "deleted",
        }
    }
}

/// A message, comment, visitor post or mention, or a change to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = MessageArrival)]
pub struct MessageItem {
    pub change: Change,
    pub kind: MessageKind,
    pub direction: Direction,
    /// The platform's id of the message or comment (`mid`, `comment_id`, ...).
    pub platform_id: String,
    /// For DMs: the person the page talks with (never the page). For comments: the comment's author.
    pub person: Person,
    /// The post a comment belongs to (platform id), when the platform says.
    #[schema(required = true)]
    pub post_id: Option<String>,
    /// The comment or message this one answers (platform id).
    #[schema(required = true)]
    pub parent_id: Option<String>,
    #[schema(required = true)]
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Milliseconds since the Unix epoch.
    // As the platform reports the event.
    pub platform_time: i64,
    /// Distinguishes revisions of the same change (idempotency key); empty for `created`.
    // An edit counter or a timestamp, as the platform gives one.
    pub revision: String,
    /// Extra platform facts (quick-reply payload, sticker id, postback), or null.
    #[schema(required = true)]
    pub extra: Option<serde_json::Value>,
}

/// Something that arrived for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = ArrivalItem, description = "What arrived, tagged by `type`.")]
pub enum Item {
    #[schema(title = "MessageArrival")]
    Message(MessageItem),
    /// A post by the account itself.
    // Visitors' posts are messages.
    #[schema(title = "PostArrival")]
    Post {
        platform_id: String,
        #[schema(required = true)]
        author: Option<Person>,
        #[schema(required = true)]
        text: Option<String>,
        /// Milliseconds since the Unix epoch.
        platform_time: i64,
        removed: bool,
    },
    /// A reaction added or removed.
    #[schema(title = "ReactionArrival")]
    Reaction {
        /// The message, comment or post reacted to.
        target_id: String,
        person: Person,
        reaction: String,
        // add / remove (Meta says react/unreact for DMs, add/remove for the feed)
        removed: bool,
        /// Milliseconds since the Unix epoch.
        platform_time: i64,
    },
    /// The person read the conversation.
    // Up to a time (watermark) or a message.
    #[schema(title = "ReadArrival")]
    Read {
        person: Person,
        /// Read up to this time. Milliseconds since the Unix epoch.
        #[schema(required = true)]
        watermark: Option<i64>,
        #[schema(required = true)]
        message_id: Option<String>,
        /// Milliseconds since the Unix epoch.
        platform_time: i64,
    },
    /// Outbound messages reached the person.
    #[schema(title = "DeliveryArrival")]
    Delivery {
        person: Person,
        message_ids: Vec<String>,
        /// Delivered up to this time. Milliseconds since the Unix epoch.
        #[schema(required = true)]
        watermark: Option<i64>,
    },
    /// Acknowledged but not understood; kept verbatim.
    // So that nothing acknowledged is lost.
    #[schema(title = "UnrecognisedArrival")]
    Unrecognised { reason: String },
}

/// One normalised item for one channel, with the source's raw JSON kept as evidence.
// The raw JSON also allows re-parsing later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Arrival)]
pub struct Inbound {
    pub channel: ChannelRef,
    pub item: Item,
    /// The raw JSON as received (the Meta event, or the normalised message as submitted).
    pub raw: serde_json::Value,
}
