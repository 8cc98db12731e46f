//! The reply window as the store checks it inside a reply's transaction, so a reply is refused
//! by the same rule whichever route it takes. The rules themselves are the platform's: see
//! `platform::ReplyRules` and each adapter's `reply_rules` (Meta: 24 hours, 7 days with the
//! HUMAN_AGENT tag). The names here are kept for callers written before the adapters.

pub use crate::platform::meta::{HUMAN_AGENT, HUMAN_AGENT_MS, STANDARD_MS};
pub use crate::platform::{ReplyRules, ReplyWindow, Verdict};
