//! Who may do what. Roles grant capabilities; every route asks for the capability it needs.
//! (Training gates and channel scopes narrow these further: see the staff-access work.)

pub mod hashing;
pub mod id_token;
pub mod oidc;
pub mod training;

use serde::{Deserialize, Serialize};

use crate::model::ConversationKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// Follow-up reports: aggregate figures per channel, FAQ and moderation (no staff ranking).
    SeeReports,
    /// Answer a person's request: export all data about them, erase what the law allows (the DPO).
    HandlePrivacyRequests,
    /// Run retention (gallring) and place or lift legal holds (the archivist's rules, applied).
    ManageRetention,
    /// Show one masked personal identity number, phone number or e-mail address, audited.
    RevealPersonalData,
}

impl Capability {
    pub const ALL: [Capability; 14] = [
        Capability::ReadDms,
        Capability::AnswerDms,
        Capability::ReadComments,
        Capability::AnswerComments,
        Capability::SeeFaq,
        Capability::Moderate,
        Capability::ManageStaff,
        Capability::ManageChannels,
        Capability::ReadAudit,
        Capability::Ingest,
        Capability::SeeReports,
        Capability::HandlePrivacyRequests,
        Capability::ManageRetention,
        Capability::RevealPersonalData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::ReadDms => "read_dms",
            Capability::AnswerDms => "answer_dms",
            Capability::ReadComments => "read_comments",
            Capability::AnswerComments => "answer_comments",
            Capability::SeeFaq => "see_faq",
            Capability::Moderate => "moderate",
            Capability::ManageStaff => "manage_staff",
            Capability::ManageChannels => "manage_channels",
            Capability::ReadAudit => "read_audit",
            Capability::Ingest => "ingest",
            Capability::SeeReports => "see_reports",
            Capability::HandlePrivacyRequests => "handle_privacy_requests",
            Capability::ManageRetention => "manage_retention",
            Capability::RevealPersonalData => "reveal_personal_data",
        }
    }

    /// In words, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Capability::ReadDms => "reading direct messages",
            Capability::AnswerDms => "answering direct messages",
            Capability::ReadComments => "reading comments",
            Capability::AnswerComments => "answering comments",
            Capability::SeeFaq => "seeing FAQ signals",
            Capability::Moderate => "moderating",
            Capability::ManageStaff => "managing staff",
            Capability::ManageChannels => "managing channels",
            Capability::ReadAudit => "reading the audit trail",
            Capability::Ingest => "submitting messages",
            Capability::SeeReports => "seeing follow-up reports",
            Capability::HandlePrivacyRequests => "handling a person's requests about their data",
            Capability::ManageRetention => "running retention and legal holds",
            Capability::RevealPersonalData => "revealing masked personal data",
        }
    }
}

/// A staff role. agent: reads and answers direct messages. communicator: reads and answers
/// comment threads (and sees FAQ signals). moderator: reads comment threads and moderates. admin:
/// manages staff and the channel registry, reads the audit trail, submits messages through the
/// ingest API. auditor: reads the audit trail only. integration: a service account's role for an
/// integration: submits messages through the ingest API and reads nothing (only service accounts
/// hold it; a service account is never admin). A person may hold several roles (`roles`); a
/// service account holds exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Communicator,
    Moderator,
    Admin,
    Auditor,
    // A service account's role for an integration: it submits messages and reads nothing.
    Integration,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Agent,
        Role::Communicator,
        Role::Moderator,
        Role::Admin,
        Role::Auditor,
        Role::Integration,
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
            Role::Integration => "integration",
        }
    }

    /// Whether an account of this kind may hold the role. Administrators are people, accountable
    /// by name, so no service account administers; the integration role is for service accounts
    /// only, so no person's account passes for an integration. A service account may be given a
    /// reading role deliberately (and then needs its training signed off like anyone).
    pub fn fits(self, kind: AccountKind) -> bool {
        match kind {
            AccountKind::Person => self != Role::Integration,
            AccountKind::Service => self != Role::Admin,
        }
    }

    /// What each role is for (DESIGN.md §1): agents answer DMs, communicators follow comments and
    /// FAQ signals, moderators handle what must come down, administrators run the registry,
    /// auditors read the trail.
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability::*;
        match self {
            Role::Agent => &[ReadDms, AnswerDms, RevealPersonalData],
            Role::Communicator => &[ReadComments, AnswerComments, SeeFaq, SeeReports],
            Role::Moderator => &[ReadComments, Moderate, RevealPersonalData],
            Role::Admin => &[
                ManageStaff,
                ManageChannels,
                ReadAudit,
                Ingest,
                SeeReports,
                ManageRetention,
            ],
            // The auditor is also the data-protection officer (DESIGN.md §1).
            Role::Auditor => &[
                ReadAudit,
                SeeReports,
                HandlePrivacyRequests,
                RevealPersonalData,
            ],
            Role::Integration => &[Ingest],
        }
    }

    pub fn can(self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }
}

/// The roles a person holds, one or more (issue 19: in a small municipality one person is both
/// communicator and moderator). What they may do is the union of the roles' capabilities, each
/// still gated by the training it requires (src/access/training.rs), so a second role never
/// lends its training to the first. Kept in `Role::ALL`'s order without repeats, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    /// One or more roles; None for none.
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Option<Roles> {
        let given: Vec<Role> = roles.into_iter().collect();
        let ordered: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| given.contains(r))
            .collect();
        (!ordered.is_empty()).then_some(Roles(ordered))
    }

    pub fn one(role: Role) -> Roles {
        Roles(vec![role])
    }

    /// Stored names; None when one is unknown or there are none.
    pub fn parse_all<S: AsRef<str>>(names: &[S]) -> Option<Roles> {
        let roles: Option<Vec<Role>> = names.iter().map(|n| Role::parse(n.as_ref())).collect();
        Roles::new(roles?)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first role: what `staff.role` keeps for readers written before several roles.
    pub fn primary(&self) -> Role {
        self.0[0]
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(Role::as_str).collect()
    }

    /// The union of the roles' capabilities, in `Capability::ALL`'s order.
    pub fn capabilities(&self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| self.can(*c))
            .collect()
    }

    pub fn can(&self, capability: Capability) -> bool {
        self.iter().any(|r| r.can(capability))
    }

    /// For refusals: "your role (agent)" or "your roles (communicator and moderator)".
    pub fn describe(&self) -> String {
        let names = self.names();
        match names.as_slice() {
            [one] => format!("your role ({one})"),
            [init @ .., last] => format!("your roles ({} and {last})", init.join(", ")),
            [] => "your roles (none)".to_string(),
        }
    }

    /// Whether an account of this kind may hold these roles together: each must fit the kind,
    /// and a service account holds exactly one (an integration's account is given only what
    /// its work needs, and never mixes the integration role with a person's).
    pub fn fit(&self, kind: AccountKind) -> Result<(), &'static str> {
        if let Some(unfit) = self.iter().find(|r| !r.fits(kind)) {
            return Err(match (kind, unfit) {
                (AccountKind::Person, _) => "the integration role is for service accounts (POST /api/v1/service-accounts); a person's account cannot pass for an integration",
                (AccountKind::Service, _) => "a service account cannot be an administrator: administrators are people, accountable by name; give it the role its work needs (integration to submit messages)",
            });
        }
        if kind == AccountKind::Service && self.len() > 1 {
            return Err("a service account holds one role, the one its integration needs; give it a single role");
        }
        Ok(())
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

/// Who holds an account: a person, who signs in and is accountable by name, or a service
/// account for an integration, which has no password and is audited under its own name
/// (`service:<name>`, never a person's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    Person,
    Service,
}

impl AccountKind {
    /// Service accounts' usernames carry this prefix, so the audit trail tells them from people.
    pub const SERVICE_PREFIX: &'static str = "service:";

    pub fn parse(s: &str) -> Option<AccountKind> {
        match s {
            "person" => Some(AccountKind::Person),
            "service" => Some(AccountKind::Service),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Person => "person",
            AccountKind::Service => "service",
        }
    }
}

/// The conversation kinds ("dm", "comments") readable with these capabilities.
pub fn readable_kinds(capabilities: &[Capability]) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    if capabilities.contains(&Capability::ReadDms) {
        kinds.push(ConversationKind::Dm.as_str());
    }
    if capabilities.contains(&Capability::ReadComments) {
        kinds.push(ConversationKind::Comments.as_str());
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

/// The longest username: as staff creation allows. Longer ones are refused before anything is
/// stored, so an anonymous caller cannot write megabytes into the failure table or the audit trail.
pub const MAX_USERNAME_CHARS: usize = 64;

/// The longest password checked: argon2's cost grows with the input, and no passphrase needs more.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2's working memory (about 19 MiB with the default parameters), kept by a hash slot and
/// reused for every check it runs. Allocated afresh for each check, the freed blocks stayed with
/// the allocator: 200 sign-ins through two slots still left the process at 520 MB.
#[derive(Default)]
pub struct HashMemory(Vec<argon2::Block>);

impl HashMemory {
    fn blocks(&mut self, count: usize) -> &mut [argon2::Block] {
        if self.0.len() < count {
            self.0.resize(count, argon2::Block::default());
        }
        &mut self.0[..count]
    }
}

/// argon2id with the library's defaults (memory-hard; OWASP's recommendation).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    hash_password_in(password, &mut HashMemory::default())
}

/// Hashes a password in the given working memory, as a PHC string (`$argon2id$v=19$m=…`).
pub fn hash_password_in(password: &str, memory: &mut HashMemory) -> anyhow::Result<String> {
    use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("could not hash the password: {e}");
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let params = argon2::Params::default();
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon2::Argon2::default()
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            memory.blocks(params.block_count()),
        )
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::default().ident(),
        version: Some(argon2::Version::default().into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Checks a password against a stored argon2 hash. Without a hash (no such account, or no
/// password set) a fixed dummy hash is checked, so the time taken does not tell them apart.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    verify_password_in(password, hash, &mut HashMemory::default())
}

/// `verify_password` in the given working memory.
pub fn verify_password_in(password: &str, hash: Option<&str>, memory: &mut HashMemory) -> bool {
    use argon2::password_hash::PasswordHash;
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(hash.unwrap_or(dummy)) else {
        return false;
    };
    let ok = matches(password, &parsed, memory).unwrap_or(false);
    ok && hash.is_some()
}

/// Recomputes the hash with the stored algorithm, version, parameters and salt, and compares in
/// constant time (`Output`'s equality), as argon2's own verifier does.
fn matches(
    password: &str,
    stored: &argon2::password_hash::PasswordHash<'_>,
    memory: &mut HashMemory,
) -> Result<bool, argon2::password_hash::Error> {
    use argon2::password_hash::Output;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Ok(false);
    };
    let algorithm = argon2::Algorithm::try_from(stored.algorithm)?;
    let version = stored
        .version
        .map(argon2::Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = argon2::Params::try_from(stored)?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    argon2::Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            memory.blocks(blocks),
        )
        .map_err(argon2::password_hash::Error::from)?;
    Ok(Output::new(&out)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store describes `kind` without importing this module; the names must agree.
    #[test]
    fn the_described_account_kinds_are_these() {
        assert_eq!(
            crate::store::access::ACCOUNT_KINDS,
            [AccountKind::Person.as_str(), AccountKind::Service.as_str()]
        );
    }

    #[test]
    fn agents_read_dms_and_not_comments() {
        assert_eq!(readable_kinds(Role::Agent.capabilities()), vec!["dm"]);
        assert_eq!(
            readable_kinds(Role::Communicator.capabilities()),
            vec!["comments"]
        );
        assert!(readable_kinds(Role::Auditor.capabilities()).is_empty());
        assert!(!Role::Agent.can(Capability::ManageChannels));
    }

    #[test]
    fn integrations_only_ingest_and_administrators_are_people() {
        assert_eq!(Role::Integration.capabilities(), &[Capability::Ingest]);
        assert!(readable_kinds(Role::Integration.capabilities()).is_empty());
        assert!(!Role::Integration.fits(AccountKind::Person));
        assert!(!Role::Admin.fits(AccountKind::Service));
        assert!(Role::Agent.fits(AccountKind::Service));
        assert!(Role::Admin.fits(AccountKind::Person));
    }

    #[test]
    fn the_store_orders_roles_as_access_does() {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, crate::store::staff::ROLE_ORDER);
    }

    #[test]
    fn several_roles_give_the_union_and_are_named_in_order() {
        let both = Roles::new([Role::Moderator, Role::Communicator, Role::Moderator]).unwrap();
        assert_eq!(both.names(), vec!["communicator", "moderator"]);
        assert_eq!(both.primary(), Role::Communicator);
        assert!(both.can(Capability::Moderate) && both.can(Capability::SeeFaq));
        assert!(!both.can(Capability::ReadDms));
        assert_eq!(both.describe(), "your roles (communicator and moderator)");
        assert_eq!(Roles::one(Role::Agent).describe(), "your role (agent)");
        assert!(Roles::new([]).is_none());
        assert!(Roles::parse_all(&["agent", "nobody"]).is_none());
        assert!(both.fit(AccountKind::Person).is_ok());
        assert!(both.fit(AccountKind::Service).is_err());
        assert!(Roles::one(Role::Integration)
            .fit(AccountKind::Service)
            .is_ok());
        let mixed = Roles::new([Role::Integration, Role::Agent]).unwrap();
        assert!(mixed.fit(AccountKind::Service).is_err());
        assert!(mixed.fit(AccountKind::Person).is_err());
    }

    #[test]
    fn hashes_in_reused_memory_agree_with_argon2s_own() {
        use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
        let mut memory = HashMemory::default();
        let ours = hash_password_in("ett långt lösenord", &mut memory).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password("ett långt lösenord".as_bytes(), &parsed)
            .is_ok());
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = argon2::Argon2::default()
            .hash_password("ett långt lösenord".as_bytes(), &salt)
            .unwrap()
            .to_string();
        for stored in [&ours, &theirs] {
            assert!(verify_password_in(
                "ett långt lösenord",
                Some(stored),
                &mut memory
            ));
            assert!(!verify_password_in(
                "ett annat lösenord",
                Some(stored),
                &mut memory
            ));
        }
        assert!(!verify_password_in(
            "not a real password",
            None,
            &mut memory
        ));
        assert!(!verify_password_in("x", Some("not a hash"), &mut memory));
    }
}
