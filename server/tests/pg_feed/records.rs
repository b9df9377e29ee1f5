//! One relay's view of the records API: placeholders, rollbacks, scopes.

use std::time::Duration;

use server::store::postgres::testing::TestDatabase;
use server::store::postgres::{RecordWrite, WakeOptions, lock_record, store_record};
use sync_core::{CommunityPath, RecordId, ScopePath};

use crate::feeds::{Feed, two_relays, write_of};

fn in_community(id: RecordId, community: &str) -> RecordWrite {
    RecordWrite {
        community: CommunityPath::new(community).unwrap(),
        ..write_of(id, b"doc".to_vec())
    }
}

#[tokio::test]
async fn a_rolled_back_write_leaves_no_record_no_position_and_no_gap() {
    let Some(db) = TestDatabase::create("records_rollback").await else {
        return;
    };
    let relays = two_relays(&db, 2, [WakeOptions::default(); 2]).await;
    let store = relays.relay(0);
    let first = relays
        .write(0, RecordId::random(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(first, 1);

    let id = RecordId::random();
    let mut client = store.client().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let locked = lock_record(&tx, id).await.unwrap();
    assert!(locked.current().is_none(), "a new record");
    // Another transaction sees neither the placeholder nor a position.
    assert_eq!(store.load_record(id).await.unwrap(), None);
    assert_eq!(
        store.feed_after(0, None, 10).await.unwrap().records.len(),
        1
    );
    let seq = store_record(&tx, locked, &write_of(id, b"x".to_vec()))
        .await
        .unwrap();
    assert_eq!(seq, 2);
    tx.rollback().await.unwrap();

    assert_eq!(store.load_record(id).await.unwrap(), None);
    assert_eq!(
        store.feed_head().await.unwrap(),
        1,
        "the position went back"
    );
    let rows: i64 = client
        .query_one("SELECT count(*) FROM records", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "the placeholder went with the transaction");
    let next = relays.write(1, id, Duration::ZERO).await.unwrap();
    assert_eq!(next, 2, "the next write takes the position back: no gap");
    let stored = store.load_record(id).await.unwrap().unwrap();
    assert_eq!((stored.seq, stored.doc), (2, b".".to_vec()));
}

#[tokio::test]
async fn a_second_writer_of_a_new_record_waits_and_reads_the_first_ones_write() {
    let Some(db) = TestDatabase::create("records_new_race").await else {
        return;
    };
    let relays = two_relays(&db, 2, [WakeOptions::default(); 2]).await;
    let id = RecordId::random();
    let mut first = relays.relay(0).client().await.unwrap();
    let tx = first.transaction().await.unwrap();
    let locked = lock_record(&tx, id).await.unwrap();
    // The second relay's lock of the same new id waits for the first.
    let second = tokio::spawn({
        let relays = relays.clone();
        async move {
            let mut client = relays.relay(1).client().await.unwrap();
            let tx = client.transaction().await.unwrap();
            let locked = lock_record(&tx, id).await.unwrap();
            let seen = locked.current().cloned();
            tx.rollback().await.unwrap();
            seen
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!second.is_finished(), "the second lock waits");
    store_record(&tx, locked, &write_of(id, b"first".to_vec()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let seen = second
        .await
        .unwrap()
        .expect("the second writer read the first one's write");
    assert_eq!(seen.doc, b"first");
}

#[tokio::test]
async fn the_feed_reads_a_scope_s_communities_streets_and_district() {
    let Some(db) = TestDatabase::create("records_scopes").await else {
        return;
    };
    let relays = two_relays(&db, 2, [WakeOptions::default(); 2]).await;
    let store = relays.relay(0);
    let communities = [
        "longgang/yuanshan/xikeng",
        "longgang/yuanshan/hehua",
        "longgang/buji/mumianwan",
        "futian/xiangmihu/zhuyuan",
        // Shares a prefix with longgang/yuanshan, but is not in it.
        "longgang/yuanshan2/xikeng",
    ];
    let mut seqs = Vec::new();
    for community in communities {
        let id = RecordId::random();
        let mut client = store.client().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let locked = lock_record(&tx, id).await.unwrap();
        seqs.push(
            store_record(&tx, locked, &in_community(id, community))
                .await
                .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    let read = |scopes: &[&str]| {
        let scopes: Vec<ScopePath> = scopes.iter().map(|s| ScopePath::new(*s).unwrap()).collect();
        async move {
            let page = store.feed_after(0, Some(&scopes), 10).await.unwrap();
            assert_eq!(page.next, 5, "a page that is not full ends at the head");
            page.records
                .iter()
                .map(|r| r.community.as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(read(&["longgang/yuanshan/hehua"]).await, [communities[1]]);
    assert_eq!(read(&["longgang/yuanshan"]).await, communities[..2]);
    assert_eq!(
        read(&["longgang"]).await,
        [
            communities[0],
            communities[1],
            communities[2],
            communities[4]
        ]
    );
    assert_eq!(
        read(&["futian", "longgang/buji"]).await,
        [communities[2], communities[3]]
    );
    assert!(read(&[]).await.is_empty());
    assert_eq!(
        store.feed_after(0, None, 10).await.unwrap().records.len(),
        5
    );

    // Pages in position order, and a full page ends at its last record.
    let page = store.feed_after(1, None, 2).await.unwrap();
    assert!(page.more);
    assert_eq!(
        page.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(page.next, 3);
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
}
