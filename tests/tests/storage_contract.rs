//! The SQLite store keeps the sync engine's storage contract
//! (`doorstep_tests::storage`), and a store that breaks it is caught.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod broken;

use doorstep_tests::storage::{Subject, check};
use sync_core::Store;

#[test]
fn the_sqlite_store_keeps_the_contract() {
    check(&mut || Box::new(Store::open_in_memory().unwrap()));
}

#[test]
fn a_store_whose_feed_ignores_scopes_breaks_it() {
    let caught = std::panic::catch_unwind(|| {
        check(&mut || {
            Box::new(broken::IgnoresScopes(Store::open_in_memory().unwrap())) as Box<dyn Subject>
        });
    });
    let message = caught.expect_err("the contract catches a feed that ignores scopes");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| message.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(text.contains("only the reader's community"), "{text}");
}
