//! What the rest of tavla holds of moderation: routines, staffed hours and thresholds, loaded
//! once from the settings.

use super::cases::StaffedHours;
use super::routines::{Routines, LEVELS};
use super::triage::Engine;
use crate::settings::Settings;

pub struct Moderation {
    pub engine: Engine,
    pub routines: Routines,
    pub staffed: StaffedHours,
    pub case_threshold: String,
    pub dm_case_threshold: String,
}

impl Moderation {
    pub fn load(settings: &Settings) -> anyhow::Result<Moderation> {
        for (name, level) in [
            ("case_threshold", &settings.case_threshold),
            ("dm_case_threshold", &settings.dm_case_threshold),
        ] {
            if !LEVELS.contains(&level.as_str()) {
                anyhow::bail!("{name} must be one of S0..S5, not {level:?}");
            }
        }
        Ok(Moderation {
            engine: Engine::load(&settings.moderation_dir)?,
            routines: Routines::load(&settings.routines_file)?,
            staffed: StaffedHours::parse(
                &settings.staffed_days,
                &settings.staffed_from,
                &settings.staffed_to,
            )
            .map_err(|e| anyhow::anyhow!("staffed hours: {e}"))?,
            case_threshold: settings.case_threshold.clone(),
            dm_case_threshold: settings.dm_case_threshold.clone(),
        })
    }
}
