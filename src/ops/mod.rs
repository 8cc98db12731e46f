//! Operating tavla: what an IT department runs beside the service. The configuration check
//! (`tavla config check`, also run by `serve` at start), and backups and restores of the store.

pub mod backup;
pub mod check;
