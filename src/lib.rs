//! tavla: an inbox and moderation service for a municipality's social-media channels.
#![forbid(unsafe_code)]

pub mod access;
pub mod app;
pub mod cli;
pub mod demo;
pub mod described;
pub mod faq;
pub mod http;
pub mod inbox;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod moderation;
pub mod ops;
pub mod outbound;
pub mod platform;
pub mod posts;
pub mod privacy;
pub mod reports;
pub mod search;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod text;
