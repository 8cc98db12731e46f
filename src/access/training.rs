//! Training gates: which modules exist, how long a completion stays valid, and which modules each
//! capability requires. Loaded from `config/training.toml` (the built-in copy when absent).
//! The gate fails closed: every capability must be listed under `[requirements]` (an empty list
//! says, deliberately, that it needs no training), and a file that leaves one out is refused at
//! start, so a capability added to the code is never granted untrained by omission.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Capability, Role, Roles};

const BUILT_IN: &str = include_str!("../../config/training.toml");
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Module {
    pub id: String,
    pub title_sv: String,
    pub title_en: String,
    /// 0: never expires.
    pub valid_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrainingConfig {
    pub expiring_soon_days: i64,
    #[serde(rename = "module")]
    pub modules: Vec<Module>,
    /// Absent as a whole, it is refused by `parse` with the first capability it lacks named.
    #[serde(default)]
    pub requirements: HashMap<Capability, Vec<String>>,
}

/// One recorded completion of a module (a stored row: the store defines it, training judges it).
pub use crate::store::access::Completion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleState {
    Done,
    ExpiringSoon,
    Expired,
    Missing,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleStatus {
    pub id: String,
    pub title_sv: String,
    pub title_en: String,
    pub state: ModuleState,
    pub completed_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub signed_off_by: Option<String>,
}

/// What a staff member may do now, and for each capability their role grants but training does
/// not yet allow, the modules still missing.
#[derive(Debug, Clone, Serialize)]
pub struct Effective {
    pub capabilities: Vec<Capability>,
    pub missing: BTreeMap<String, Vec<String>>,
    pub modules: Vec<ModuleStatus>,
}

impl Effective {
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    pub fn missing_for(&self, capability: Capability) -> &[String] {
        self.missing
            .get(capability.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// For each of the roles, what it gives and what of that the training allows now: the
    /// console's "what each role gives" and an administrator's view of a person.
    pub fn per_role(&self, roles: &Roles) -> Vec<RoleGives> {
        roles
            .iter()
            .map(|role| {
                let gives = role.capabilities().to_vec();
                let usable = gives.iter().copied().filter(|c| self.has(*c)).collect();
                let mut missing: Vec<String> = gives
                    .iter()
                    .flat_map(|c| self.missing_for(*c).iter().cloned())
                    .collect();
                missing.sort();
                missing.dedup();
                RoleGives {
                    role,
                    capabilities: gives,
                    usable,
                    missing_training: missing,
                }
            })
            .collect()
    }
}

/// One role of a person: the capabilities it gives, those its training allows now, and the
/// modules still missing (or expired) for the rest.
#[derive(Debug, Clone, Serialize)]
pub struct RoleGives {
    pub role: Role,
    pub capabilities: Vec<Capability>,
    pub usable: Vec<Capability>,
    pub missing_training: Vec<String>,
}

impl TrainingConfig {
    pub fn load(path: &Path) -> anyhow::Result<TrainingConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BUILT_IN.to_string(),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        };
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn built_in() -> TrainingConfig {
        Self::parse(BUILT_IN).expect("the built-in training config is valid")
    }

    pub fn parse(text: &str) -> anyhow::Result<TrainingConfig> {
        let config: TrainingConfig = toml::from_str(text)?;
        if let Some(unlisted) = Capability::ALL
            .into_iter()
            .find(|c| !config.requirements.contains_key(c))
        {
            let name = unlisted.as_str();
            anyhow::bail!(
                "[requirements] does not list the capability {name} ({}); every capability must be \
                 listed, so none is granted without training by omission: add `{name} = [\"gdpr\"]` \
                 with the modules it needs, or `{name} = []` if it deliberately needs no training",
                unlisted.describe()
            );
        }
        for (capability, modules) in &config.requirements {
            for m in modules {
                if !config.modules.iter().any(|known| &known.id == m) {
                    anyhow::bail!(
                        "the requirements for {} name the module {m:?}, which no [[module]] defines",
                        capability.as_str()
                    );
                }
            }
        }
        Ok(config)
    }

    pub fn module(&self, id: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.id == id)
    }

    /// The state of every module for one person at `now`.
    pub fn statuses(&self, completions: &[Completion], now: i64) -> Vec<ModuleStatus> {
        self.modules
            .iter()
            .map(|module| {
                // The latest completion counts.
                let latest = completions
                    .iter()
                    .filter(|c| c.module == module.id)
                    .max_by_key(|c| c.completed_at);
                let expires_at = latest.and_then(|c| {
                    (module.valid_days > 0).then(|| c.completed_at + module.valid_days * DAY_MS)
                });
                let state = match (latest, expires_at) {
                    (None, _) => ModuleState::Missing,
                    (Some(_), Some(e)) if e <= now => ModuleState::Expired,
                    (Some(_), Some(e)) if e - now <= self.expiring_soon_days * DAY_MS => {
                        ModuleState::ExpiringSoon
                    }
                    (Some(_), _) => ModuleState::Done,
                };
                ModuleStatus {
                    id: module.id.clone(),
                    title_sv: module.title_sv.clone(),
                    title_en: module.title_en.clone(),
                    state,
                    completed_at: latest.map(|c| c.completed_at),
                    expires_at,
                    signed_off_by: latest.map(|c| c.signed_off_by.clone()),
                }
            })
            .collect()
    }

    /// A capability is effective when one of the roles grants it and every module it requires
    /// is valid: the requirements are the capability's, whichever role grants it.
    pub fn effective(&self, roles: &Roles, completions: &[Completion], now: i64) -> Effective {
        let modules = self.statuses(completions, now);
        let valid = |id: &str| {
            modules.iter().any(|m| {
                m.id == id && matches!(m.state, ModuleState::Done | ModuleState::ExpiringSoon)
            })
        };
        let mut capabilities = Vec::new();
        let mut missing = BTreeMap::new();
        for capability in &roles.capabilities() {
            // `parse` refuses a config without the capability; should one be built otherwise,
            // the capability is withheld rather than granted untrained.
            let lacking: Vec<String> = match self.requirements.get(capability) {
                Some(required) => required.iter().filter(|m| !valid(m)).cloned().collect(),
                None => vec![format!(
                    "(config/training.toml lists no requirements for {})",
                    capability.as_str()
                )],
            };
            if lacking.is_empty() {
                capabilities.push(*capability);
            } else {
                missing.insert(capability.as_str().to_string(), lacking);
            }
        }
        Effective {
            capabilities,
            missing,
            modules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(module: &str, at: i64) -> Completion {
        Completion {
            module: module.into(),
            completed_at: at,
            signed_off_by: "trainer".into(),
        }
    }

    #[test]
    fn role_and_training_are_both_needed() {
        let config = TrainingConfig::built_in();
        let now = 1_800_000_000_000;
        let untrained = config.effective(&Roles::one(Role::Agent), &[], now);
        assert!(untrained.capabilities.is_empty());
        assert!(untrained
            .missing_for(Capability::ReadDms)
            .contains(&"gdpr".to_string()));

        let read_only: Vec<_> = ["social-media-basics", "gdpr", "contact-centre-1"]
            .iter()
            .map(|m| done(m, now - DAY_MS))
            .collect();
        let partly = config.effective(&Roles::one(Role::Agent), &read_only, now);
        assert!(partly.has(Capability::ReadDms));
        assert!(!partly.has(Capability::AnswerDms));
        assert!(partly
            .missing_for(Capability::AnswerDms)
            .contains(&"contact-centre-2".to_string()));

        // The same training does not give a communicator DMs: the role decides first.
        let communicator = config.effective(&Roles::one(Role::Communicator), &read_only, now);
        assert!(!communicator.has(Capability::ReadDms));
        assert!(communicator.has(Capability::ReadComments));
    }

    #[test]
    fn an_expired_module_removes_the_capability() {
        let config = TrainingConfig::built_in();
        let now = 1_800_000_000_000;
        let gdpr_days = config.module("gdpr").unwrap().valid_days;
        let completions = vec![
            done("social-media-basics", now - DAY_MS),
            done("contact-centre-1", now - DAY_MS),
            done("gdpr", now - (gdpr_days + 1) * DAY_MS),
        ];
        let e = config.effective(&Roles::one(Role::Agent), &completions, now);
        assert!(!e.has(Capability::ReadDms));
        let gdpr = e.modules.iter().find(|m| m.id == "gdpr").unwrap();
        assert_eq!(gdpr.state, ModuleState::Expired);

        let soon = vec![done("gdpr", now - (gdpr_days - 5) * DAY_MS)];
        let s = config.statuses(&soon, now);
        assert_eq!(
            s.iter().find(|m| m.id == "gdpr").unwrap().state,
            ModuleState::ExpiringSoon
        );
    }

    const ONE_MODULE: &str = "expiring_soon_days = 1\n[[module]]\nid = \"a\"\ntitle_sv = \"A\"\ntitle_en = \"A\"\nvalid_days = 0\n";

    /// Requirements for every capability but `left_out`, each needing module "a".
    fn requirements_without(left_out: Option<Capability>) -> String {
        let mut text = format!("{ONE_MODULE}[requirements]\n");
        for c in Capability::ALL.into_iter().filter(|c| Some(*c) != left_out) {
            text.push_str(&format!("{} = [\"a\"]\n", c.as_str()));
        }
        text
    }

    #[test]
    fn the_shipped_config_lists_every_capability() {
        let config = TrainingConfig::built_in();
        for capability in Capability::ALL {
            assert!(
                config.requirements.contains_key(&capability),
                "config/training.toml lists no requirements for {}",
                capability.as_str()
            );
        }
    }

    #[test]
    fn a_capability_left_out_of_requirements_refuses_to_load() {
        for left_out in Capability::ALL {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("training.toml");
            std::fs::write(&path, requirements_without(Some(left_out))).unwrap();
            let error = TrainingConfig::load(&path).unwrap_err().to_string();
            let name = left_out.as_str();
            assert!(error.contains(&path.display().to_string()), "{error}");
            assert!(error.contains(&format!("capability {name} ")), "{error}");
            assert!(error.contains(&format!("`{name} = []`")), "{error}");
        }
        // No [requirements] at all is the same omission, for every capability.
        let error = TrainingConfig::parse(ONE_MODULE).unwrap_err().to_string();
        assert!(error.contains("does not list the capability"), "{error}");
        // Listed, even as empty, it loads; an empty list grants without training, deliberately.
        let text = requirements_without(None).replace("ingest = [\"a\"]", "ingest = []");
        let config = TrainingConfig::parse(&text).unwrap();
        let admin = config.effective(&Roles::one(Role::Admin), &[], 0);
        assert_eq!(admin.capabilities, vec![Capability::Ingest]);
    }

    #[test]
    fn a_capability_without_requirements_is_withheld() {
        let mut config = TrainingConfig::built_in();
        config.requirements.remove(&Capability::ManageStaff);
        let admin = config.effective(&Roles::one(Role::Admin), &[], 0);
        assert!(!admin.has(Capability::ManageStaff));
        assert!(!admin.missing_for(Capability::ManageStaff).is_empty());
    }

    #[test]
    fn unknown_modules_in_requirements_are_refused() {
        let text = requirements_without(None).replace("read_dms = [\"a\"]", "read_dms = [\"b\"]");
        assert!(TrainingConfig::parse(&text)
            .unwrap_err()
            .to_string()
            .contains("\"b\""));
    }
}
