//! Who may do what. Roles grant capabilities; every route asks for the capability it needs.
//! (Training gates and channel scopes narrow these further: see the staff-access work.)

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    ReadDms,
    AnswerDms,
    ReadComments,
    AnswerComments,
    SeeFaq,
    Moderate,
    ManageStaff,
    ManageChannels,
    ReadAudit,
    /// Submit messages through `POST /api/v1/messages` (integrations, migrations).
    Ingest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Communicator,
    Moderator,
    Admin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Agent,
        Role::Communicator,
        Role::Moderator,
        Role::Admin,
        Role::Auditor,
    ];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Communicator => "communicator",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    /// What each role is for (DESIGN.md §1): agents answer DMs, communicators follow comments and
    /// FAQ signals, moderators handle what must come down, administrators run the registry,
    /// auditors read the trail.
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability::*;
        match self {
            Role::Agent => &[ReadDms, AnswerDms],
            Role::Communicator => &[ReadComments, AnswerComments, SeeFaq],
            Role::Moderator => &[ReadComments, Moderate],
            Role::Admin => &[ManageStaff, ManageChannels, ReadAudit, Ingest],
            Role::Auditor => &[ReadAudit],
        }
    }

    pub fn can(self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }
}

/// The conversation kinds ("dm", "comments") a role may read.
pub fn readable_kinds(role: Role) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    if role.can(Capability::ReadDms) {
        kinds.push("dm");
    }
    if role.can(Capability::ReadComments) {
        kinds.push("comments");
    }
    kinds
}

/// The capability needed to read or answer a conversation of a kind.
pub fn read_capability(kind: &str) -> Capability {
    if kind == "dm" {
        Capability::ReadDms
    } else {
        Capability::ReadComments
    }
}

pub fn answer_capability(kind: &str) -> Capability {
    if kind == "dm" {
        Capability::AnswerDms
    } else {
        Capability::AnswerComments
    }
}

/// A fresh random secret (API tokens), 32 bytes as hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("tavla_{}", hex::encode(bytes))
}

/// argon2id with the library's defaults (memory-hard; OWASP's recommendation).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_read_dms_and_not_comments() {
        assert_eq!(readable_kinds(Role::Agent), vec!["dm"]);
        assert_eq!(readable_kinds(Role::Communicator), vec!["comments"]);
        assert!(readable_kinds(Role::Auditor).is_empty());
        assert!(!Role::Agent.can(Capability::ManageChannels));
    }
}
