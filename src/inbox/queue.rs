//! The queue's own rules: how long a page may be, and what "handed to me" and "handed to my unit"
//! mean for the colleague who asks (the newest handover decides; the store filters by it).

use crate::store::Store;

use super::{InboxError, Refusal};

/// Conversations per page when the reader names no number, and the most they may ask for.
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// The page asked for, within bounds: 1 to `MAX_PAGE` conversations, from offset 0 on.
pub fn page(limit: Option<i64>, offset: Option<i64>) -> (i64, i64) {
    (
        limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
        offset.unwrap_or(0).max(0),
    )
}

/// Whose handovers the reader asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handed {
    /// Handed to the reader by name.
    Me,
    /// Handed to the reader's unit (not to a colleague in it).
    Unit,
}

/// The staff member and the unit to filter by (`QueueFilter::handed_to_staff` / `_unit`). A
/// reader in no unit has nothing handed to their unit: refused, with how to get one.
pub async fn handed_to(
    store: &Store,
    staff_id: i64,
    handed: Option<Handed>,
) -> Result<(Option<i64>, Option<String>), InboxError> {
    match handed {
        None => Ok((None, None)),
        Some(Handed::Me) => Ok((Some(staff_id), None)),
        Some(Handed::Unit) => match store.staff_unit(staff_id).await? {
            Some(unit) => Ok((None, Some(unit))),
            None => Err(Refusal::NoUnit.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_stay_within_bounds() {
        assert_eq!(page(None, None), (DEFAULT_PAGE, 0));
        assert_eq!(page(Some(0), Some(-5)), (1, 0));
        assert_eq!(page(Some(MAX_PAGE), Some(10)), (MAX_PAGE, 10));
        assert_eq!(page(Some(MAX_PAGE + 1), None), (MAX_PAGE, 0));
    }
}
