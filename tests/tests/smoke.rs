use doorstep_tests::{Phone, Relay, test_clock};
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::{EventKind, NewHousehold, NewWish, Role, Status, WishId};

#[test]
fn smoke() {
    let clock = test_clock(1_700_000_000_000);
    let mut relay = Relay::new(clock.clone());
    let mut a = Phone::new("wang", Role::Worker, &["lg/ys/xk"], clock.clone());
    let mut b = Phone::new("li", Role::Worker, &["lg/ys/xk"], clock.clone());
    let mut sup = Phone::new("chen", Role::Supervisor, &["lg"], clock.clone());
    let home = a.store.create_household(&a.author, &a.community(), &NewHousehold { address: "3 Lane 5".into(), ..Default::default() }).unwrap();
    let wish = a.store.create_wish(&a.author, &NewWish { household: home, text: "给李大爷一台轮椅".into(), category: Category::MobilityAid, urgency: Urgency::High, photos: vec![] }).unwrap();
    a.store.append_event(&a.author, wish, &EventInput::new(EventKind::Submit)).unwrap();
    let r = a.sync(&mut relay);
    println!("a: {r:?}");
    let r = sup.sync(&mut relay);
    println!("sup: {r:?}");
    sup.store.append_event(&sup.author, wish, &EventInput::new(EventKind::Approve)).unwrap();
    let r = sup.sync(&mut relay);
    println!("sup: {r:?}");
    let r = b.sync(&mut relay);
    println!("b: {r:?}");
    let w = b.store.record(WishId::record(&wish)).unwrap();
    match w { sync_core::Record::Wish(w) => assert_eq!(w.state.status, Status::Approved), _ => panic!() }
    let r = a.sync(&mut relay);
    println!("a: {r:?}");
    assert_eq!(a.store.pending_changes(&doorstep_tests::relay_peer()).unwrap(), 0);
    let r = a.sync(&mut relay);
    assert_eq!(r.received, 0); assert_eq!(r.sent, 0);
}
