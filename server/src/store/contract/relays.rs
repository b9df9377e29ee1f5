//! Two relays over one PostgreSQL database: what one counts or uses, the
//! other sees at once (the login throttle, a refresh token used once).

use sync_core::DeviceId;

use super::{DAY, RelayStore, name, with_users};
use crate::error::AppError;
use crate::store::postgres::testing::TestDatabase;
use crate::store::postgres::{PgEngine, PgOptions};

/// Two relays (two `PgEngine`s) over one fresh database, or `None` when the
/// PostgreSQL tests skip.
fn two_relays(label: &str) -> Option<(PgEngine, PgEngine, TestDatabase)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDatabase::create(label))?;
    drop(runtime);
    let open = || {
        let mut options = PgOptions::new(db.config().clone());
        options.pool_size = 2;
        PgEngine::open(options).unwrap()
    };
    Some((open(), open(), db))
}

#[test]
fn postgres_relays_share_the_login_throttle() {
    use crate::login::{LoginThrottle, ThrottlePolicy};
    let Some((mut a, mut b, _db)) = two_relays("contract_shared_throttle") else {
        return;
    };
    let policy = ThrottlePolicy::default();
    let (on_a, on_b) = (LoginThrottle::new(policy), LoginThrottle::new(policy));
    let now = 1_700_000_000_000;
    // Three wrong passwords at each relay: six, one beyond the free five.
    for _ in 0..3 {
        on_a.failed(&mut a, "wang", now).unwrap();
        on_b.failed(&mut b, "Wang ", now).unwrap();
    }
    let wait = policy.first_wait;
    assert_eq!(on_a.check(&a, "wang", now).unwrap(), Err(wait));
    assert_eq!(on_b.check(&b, "wang", now).unwrap(), Err(wait));
    on_b.succeeded(&mut b, "wang").unwrap();
    assert_eq!(on_a.check(&a, "wang", now).unwrap(), Ok(()));
}

#[test]
fn postgres_relays_use_a_refresh_token_once() {
    let Some((mut a, b, _db)) = two_relays("contract_token_once") else {
        return;
    };
    with_users(&mut a);
    let phone = DeviceId::random();
    a.register_device(&name("wang"), phone, "phone", "phone", None, 0)
        .unwrap();
    let relays = [std::sync::Mutex::new(a), std::sync::Mutex::new(b)];
    for round in 0..20 {
        let token = relays[0]
            .lock()
            .unwrap()
            .issue_refresh(phone, DAY, round)
            .unwrap();
        let barrier = std::sync::Barrier::new(2);
        let answers: Vec<_> = std::thread::scope(|s| {
            let tries: Vec<_> = relays
                .iter()
                .map(|relay| {
                    let (token, barrier) = (&token, &barrier);
                    s.spawn(move || {
                        let mut relay = relay.lock().unwrap();
                        barrier.wait();
                        relay.rotate_refresh(token, DAY, round).map(|(_, _, t)| t)
                    })
                })
                .collect();
            tries.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let used: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
        assert_eq!(used.len(), 1, "round {round}: {answers:?}");
        // The other saw it replayed, which ended the chain: the next token
        // of it is no good either.
        let next = relays[0]
            .lock()
            .unwrap()
            .rotate_refresh(used[0], DAY, round);
        assert!(
            matches!(next, Err(AppError::InvalidToken(_))),
            "round {round}: {next:?}"
        );
    }
}
