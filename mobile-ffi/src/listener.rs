//! The callback apps implement to hear about changed records.

use crate::types::RecordsChanged;

/// Told when records change: after an edit on this phone, after each round
/// of a sync that brought records, after a phone-to-phone message. Screens
/// refresh from it.
///
/// It is called on the thread that made the change (a sync runs on its own
/// thread): post to the UI thread before touching views. It may call back
/// into the store. It must not throw.
#[uniffi::export(foreign)]
pub trait ChangeListener: Send + Sync {
    /// Records changed.
    fn records_changed(&self, change: RecordsChanged);
}
