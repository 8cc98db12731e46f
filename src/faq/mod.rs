//! FAQ signals: which questions come again and again (DESIGN §1). The pure core: question
//! detection, features, online clustering and its evaluation; the store and API wire it up.
pub mod cluster;
pub mod eval;
pub mod features;
pub mod question;
pub mod signals;
