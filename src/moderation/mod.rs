//! Moderation: triage of what arrives, cases that walk documented routines, evidence first.

pub mod advice;
pub mod cases;
pub mod eval;
pub mod heat;
pub mod holidays;
pub mod learning;
pub mod lexicon;
pub mod model;
pub mod routines;
pub mod service;
pub mod triage;
