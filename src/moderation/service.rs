//! What the rest of tavla holds of moderation: triage (rules and the trained model), routines,
//! staffed hours and thresholds, loaded once from the settings.

use super::cases::{opening, StaffedHours};
use super::model::Model;
use super::routines::Routines;
use super::triage::Engine;
use crate::settings::Settings;
use crate::store::moderation::CaseOpening;
use crate::store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub struct Moderation {
    pub engine: Engine,
    /// The routines loaded now: new cases follow them.
    pub routines: Routines,
    /// Earlier versions that open cases still follow, read from the store once each.
    earlier: Mutex<HashMap<String, Arc<Routines>>>,
    pub staffed: StaffedHours,
    pub case_threshold: String,
    pub dm_case_threshold: String,
    /// An on-call receiver is configured: S4/S5 cases get an alert to send.
    pub on_call: bool,
}

impl Moderation {
    pub fn load(settings: &Settings) -> anyhow::Result<Moderation> {
        for (name, level) in [
            ("case_threshold", &settings.case_threshold),
            ("dm_case_threshold", &settings.dm_case_threshold),
        ] {
            if super::triage::Severity::parse(level).is_none() {
                anyhow::bail!("{name} must be one of S0..S5, not {level:?}");
            }
        }
        Ok(Moderation {
            engine: load_engine(settings)?,
            routines: Routines::load(&settings.routines_file)?,
            earlier: Mutex::new(HashMap::new()),
            staffed: StaffedHours::parse(
                &settings.staffed_days,
                &settings.staffed_from,
                &settings.staffed_to,
            )
            .and_then(|h| {
                h.closing(
                    settings.staffed_holidays_closed,
                    &settings.staffed_closed_days,
                )
            })
            .map_err(|e| anyhow::anyhow!("staffed hours: {e}"))?,
            case_threshold: settings.case_threshold.clone(),
            dm_case_threshold: settings.dm_case_threshold.clone(),
            on_call: !settings.moderation_alert_url.is_blank(),
        })
    }

    /// How a case opens now, under the loaded routines: with an on-call alert to send when it
    /// is urgent (S4/S5) and a receiver is configured.
    pub fn opening(
        &self,
        level: &str,
        categories: Vec<String>,
        source: &str,
    ) -> Option<CaseOpening> {
        opening(&self.routines, level, categories, source).map(|mut o| {
            o.alert_on_call = self.on_call;
            o
        })
    }
}

/// The rules, and the trained model that `moderation_model` names, if any.
pub fn load_engine(settings: &Settings) -> anyhow::Result<Engine> {
    let engine = Engine::load(&settings.moderation_dir)?;
    let Some(path) = model_path(settings)? else {
        return Ok(engine);
    };
    let model = Model::load(&path)?;
    tracing::info!(
        version = %model.version,
        path = %path.display(),
        "triage adds the trained model to its rules"
    );
    Ok(engine.with_model(Arc::new(model)))
}

/// The model file `moderation_model` names: None for "none" or when "newest" finds none.
pub fn model_path(settings: &Settings) -> anyhow::Result<Option<PathBuf>> {
    match settings.moderation_model.trim() {
        "" | "none" => Ok(None),
        "newest" => Model::newest_in(&settings.data_dir),
        path => Ok(Some(PathBuf::from(path))),
    }
}

impl Moderation {
    /// Records the loaded routines' version in the store (at start), refusing changed routines
    /// that kept their version.
    pub async fn remember_routines(&self, store: &Store) -> anyhow::Result<()> {
        let document = serde_json::to_string(&self.routines)?;
        // The same routines read back (with today's defaults for what an older document left
        // out, such as who may take each step) are the same version.
        let same = |known: &str| {
            serde_json::from_str::<Routines>(known).is_ok_and(|known| known == self.routines)
        };
        store
            .remember_routines(&self.routines.version, &document, same)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The routines a case follows: those of the version it was opened (or last raised) under.
    /// A case opened before tavla recorded routine versions (migration 0010) names a version no
    /// store holds: it follows the routines loaded now, the nearest there is, rather than
    /// failing every view of it after an upgrade.
    pub async fn routines_for(
        &self,
        store: &Store,
        version: &str,
    ) -> anyhow::Result<Arc<Routines>> {
        if version == self.routines.version {
            return Ok(Arc::new(self.routines.clone()));
        }
        if let Some(known) = self
            .earlier
            .lock()
            .ok()
            .and_then(|m| m.get(version).cloned())
        {
            return Ok(known);
        }
        let routines: Arc<Routines> = match store.routines_document(version).await? {
            Some(document) => Arc::new(serde_json::from_str(&document)?),
            None => {
                tracing::warn!(
                    version,
                    current = %self.routines.version,
                    "a case names routines the store never recorded (opened before versions were kept); it follows the current ones"
                );
                Arc::new(self.routines.clone())
            }
        };
        if let Ok(mut map) = self.earlier.lock() {
            map.insert(version.to_string(), routines.clone());
        }
        Ok(routines)
    }
}
