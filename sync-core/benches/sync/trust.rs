//! Scenarios 6 and 7: what changes that certify themselves cost, and what a
//! phone pays to reconcile with a relay restored from a backup.

use std::time::{Duration, Instant};

use automerge::ChangeHash;
use sync_core::keys::DeviceKey;
use sync_core::sync::Message;
use sync_core::{DeviceId, Role, Store};

use super::{
    Checks, DISTRICT, Phone, RECORDS, Res, Table, edit_100, fingerprint, kb, load_average, ms,
    relay_peer, seed_relay, stepping_clock, sync_with,
};

/// Signatures made and checked to time one of each.
const SIGNATURES: usize = 10_000;

fn micros(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

pub(super) fn run_trust_scenarios(
    dir: &std::path::Path,
    table: &mut Table,
    checks: &mut Checks,
) -> Res<()> {
    // ---- 6a. one signature, one check --------------------------------------------
    println!();
    println!(
        "6. Signatures: {SIGNATURES} changes signed and checked; load average {}",
        load_average()
    );
    let key = DeviceKey::generate(DeviceId::random())?;
    let public = key.public();
    let hashes: Vec<ChangeHash> = (0..SIGNATURES)
        .map(|i| {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            h[8..16].copy_from_slice(&(i as u64 ^ 0x9E37_79B9_7F4A_7C15).to_le_bytes());
            ChangeHash(h)
        })
        .collect();
    let started = Instant::now();
    let sigs: Vec<_> = hashes.iter().map(|h| key.sign_change(h)).collect();
    let sign_us = micros(started.elapsed(), SIGNATURES);
    let started = Instant::now();
    let verified = hashes
        .iter()
        .zip(&sigs)
        .filter(|(h, s)| public.verifies(h, s))
        .count();
    let verify_us = micros(started.elapsed(), SIGNATURES);
    checks.check(verified == SIGNATURES, || {
        format!("only {verified} of {SIGNATURES} signatures verified")
    });
    println!("  sign {sign_us:.1} µs, check {verify_us:.1} µs per change");
    table.add(
        "6a. sign one change (phone)",
        format!("{sign_us:.1} µs"),
        "",
        None,
    );
    table.add(
        "6a. check one change's signature (relay)",
        format!("{verify_us:.1} µs"),
        "",
        None,
    );

    // ---- 6b, 6c. their share of a sync; their bytes -----------------------------
    let clock = stepping_clock();
    let live = dir.join("trust-relay.sqlite3");
    let mut relay = Store::open(&live)?.with_clock(clock.clone());
    let district = seed_relay(&mut relay, &clock)?;
    let mut phone = Phone::open(&dir.join("trust-phone.sqlite3"), "li", Role::Worker, &clock)?;
    let first = sync_with(&mut phone, &mut relay)?;
    checks.check(first.clean(), || "the trust scenarios' first sync".into());
    // The backup of scenario 7, taken before the phone's new work.
    let backup = dir.join("trust-backup.sqlite3");
    relay
        .connection()
        .execute("VACUUM INTO ?1", [backup.to_string_lossy().as_ref()])?;

    let started = Instant::now();
    edit_100(&mut phone, &district, 500)?;
    let editing = started.elapsed();
    let (request, _) = phone
        .store
        .begin_sync(&relay_peer()?, &phone.scopes.clone())?;
    let changes: usize = request.push.iter().map(|u| u.sigs.len()).sum();
    let with = Message::Request(request.clone()).encode()?.len();
    let mut bare = request;
    for update in &mut bare.push {
        update.sigs.clear();
    }
    let without = Message::Request(bare).encode()?.len();
    let per_change = (with - without) as f64 / changes.max(1) as f64;
    let push = sync_with(&mut phone, &mut relay)?;
    checks.check(push.clean() && push.report.accepted == 100, || {
        format!("the 100-edit push: {:?}", push.report)
    });
    let relay_share = changes as f64 * verify_us / (push.relay.as_secs_f64() * 1e6) * 100.0;
    let phone_cpu = editing + push.wall.saturating_sub(push.relay);
    let phone_share = changes as f64 * sign_us / (phone_cpu.as_secs_f64() * 1e6) * 100.0;
    println!(
        "  a phone pushes 100 edits ({changes} changes) to a relay of {RECORDS}: {} (editing {})",
        push.summary(),
        ms(editing)
    );
    println!(
        "  checking them is {relay_share:.1}% of the relay's time; signing them {phone_share:.1}% of the phone's; {per_change:.1} B per change on the wire ({with} B with, {without} B without)"
    );
    table.add(
        "6b. checking signatures: share of the relay's sync time",
        format!("{relay_share:.1}%"),
        "< 5%",
        Some(relay_share < 5.0),
    );
    table.add(
        "6b. signing: share of the phone's edit + sync time",
        format!("{phone_share:.1}%"),
        "< 5%",
        Some(phone_share < 5.0),
    );
    table.add(
        "6c. bytes a signature adds per change (zstd)",
        format!("{per_change:.1} B"),
        "≤ 80 B",
        Some(per_change <= 80.0),
    );

    // ---- 7. reconciling with a restored relay ------------------------------------
    println!();
    println!(
        "7. The relay is restored from a backup taken before those 100 edits: the phone (scope {DISTRICT}, {RECORDS} records) reconciles; load average {}",
        load_average()
    );
    drop(relay);
    let mut restored = Store::open(&backup)?.with_clock(clock.clone());
    restored.new_feed_epoch()?;
    let on_relay = fingerprint(&restored)?;
    let lacking = fingerprint(&phone.store)?
        .into_iter()
        .filter(|(id, h)| on_relay.get(id) != Some(h))
        .count();
    let reconcile = sync_with(&mut phone, &mut restored)?;
    println!(
        "  {} ({lacking} records the relay lacked)",
        reconcile.summary()
    );
    checks.check(reconcile.report.reconciled, || {
        "the phone did not reconcile".into()
    });
    checks.check(reconcile.clean(), || {
        format!("reconciliation: {:?}", reconcile.report)
    });
    checks.check(
        fingerprint(&restored)? == fingerprint(&phone.store)?,
        || "after reconciling, the relay and the phone differ".into(),
    );
    table.add(
        "7. reconcile 10,000 records after a restore: bytes",
        format!(
            "{} ({} up + {} down)",
            kb(reconcile.bytes()),
            kb(reconcile.up),
            kb(reconcile.down)
        ),
        "O(records)",
        None,
    );
    table.add("7. … round trips", reconcile.rounds.to_string(), "", None);
    table.add(
        "7. … wall time (relay and phone)",
        ms(reconcile.wall),
        "",
        None,
    );
    Ok(())
}
