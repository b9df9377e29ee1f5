//! The district the wall, points and photo tests share: users, a partner
//! unit, and cards taken through their workflow on both stores.

use doorstep_tests::pictures::picture;
use doorstep_tests::{Phone, household};
use server::store::RelayStore;
use sync_core::doc::EventInput;
use sync_core::model::{Category, NewWish, Photo, Urgency};
use sync_core::store::WallCard;
use sync_core::workflow::Reader;
use sync_core::{EventKind, HouseholdId, Role, Status, WishId};

use super::both::{Both, SHUIJING, XIKENG, actor, both, scopes, unit, user, wish_events};

/// Users on both stores: a worker with a phone in each street, the
/// street's supervisor, a volunteer, three members of the water bureau
/// (县水务局) and a volunteer who took nothing on.
pub(crate) fn with_people(both: &mut Both, phones: &[&Phone]) {
    let users: [(&str, Role, &[&str]); 8] = [
        ("wang", Role::Worker, &[XIKENG]),
        ("zhou", Role::Worker, &[SHUIJING]),
        ("chen", Role::Supervisor, &["longgang"]),
        ("xiaoli", Role::Volunteer, &["longgang/yuanshan"]),
        ("zhangwei", Role::Volunteer, &["longgang/yuanshan"]),
        ("liuyang", Role::Volunteer, &["longgang/yuanshan"]),
        ("gone", Role::Volunteer, &["longgang/yuanshan"]),
        ("idle", Role::Volunteer, &["longgang"]),
    ];
    for (name, role, list) in users {
        both.run("insert a user", |s| {
            s.insert_user(&user(name), role, &scopes(list), "a hash", 1)
        });
    }
    for phone in phones {
        both.run("register a phone", |s| {
            s.register_device(
                &phone.author.user,
                phone.device(),
                "a phone",
                "phone",
                Some(phone.key),
                1,
            )
        });
    }
}

/// A wish card for `home` with the given fields (and a photo taken on the
/// phone, if `photo_seed`), submitted.
pub(crate) fn submitted(
    phone: &mut Phone,
    home: HouseholdId,
    text: &str,
    category: Category,
    urgency: Urgency,
    photo_seed: Option<u32>,
) -> (WishId, Option<Photo>) {
    let author = phone.author.clone();
    let id = phone
        .store
        .create_wish(
            &author,
            &NewWish {
                household: home,
                text: text.into(),
                category,
                urgency,
                photos: vec![],
            },
        )
        .unwrap();
    let photo = photo_seed.map(|seed| {
        phone
            .store
            .add_photo(&author, id, &picture(320, 240, seed))
            .unwrap()
    });
    phone
        .store
        .append_event(&author, id, &EventInput::new(EventKind::Submit))
        .unwrap();
    (id, photo)
}

/// Each card's `seen` must be its store's last event (the event ids are
/// each store's own); checked, and then left out of the comparison.
pub(crate) fn wall_of(
    s: &dyn RelayStore,
    reader: &Reader,
    list: &[&str],
    limit: u32,
) -> Vec<WallCard> {
    s.wall(reader, &scopes(list), limit)
        .unwrap()
        .into_iter()
        .map(|card| unseen(s, card))
        .collect()
}

pub(crate) fn unseen(s: &dyn RelayStore, mut card: WallCard) -> WallCard {
    assert_eq!(
        card.seen,
        wish_events(s, card.id).last().copied(),
        "a card names its last event"
    );
    card.seen = None;
    card
}

/// The district of the wall tests: cards in two streets, approved,
/// claimed, lit up and confirmed by a volunteer and by the water bureau's
/// members, a claim that lost, and photos on the cards.
pub(crate) struct District {
    pub(crate) both: Both,
    pub(crate) wheelchair: WishId,
    pub(crate) glasses: WishId,
    pub(crate) walker: WishId,
    pub(crate) rice: WishId,
    pub(crate) heater: WishId,
    pub(crate) far: WishId,
    pub(crate) draft: WishId,
    pub(crate) radio: WishId,
    /// Taken on wang's phone for the rice card.
    pub(crate) rice_photo: Photo,
    /// Taken on wang's phone for the card not yet approved.
    pub(crate) draft_photo: Photo,
    /// Taken by xiaoli when she lit the wheelchair up.
    pub(crate) lit_photo: Photo,
}

pub(crate) fn district(label: &str) -> Option<District> {
    let mut both = both(label)?;
    let clock = both.time.clock();
    let mut wang = Phone::new("wang", Role::Worker, &[XIKENG], clock.clone());
    let mut zhou = Phone::new("zhou", Role::Worker, &[SHUIJING], clock);
    with_people(&mut both, &[&wang, &zhou]);
    let now = both.time.tick();
    both.run("a unit", |s| s.put_unit(&unit("shuiwu"), "县水务局", now));
    for name in ["zhangwei", "liuyang"] {
        both.run("a member", |s| {
            s.set_profile(&user(name), None, None, Some(Some(&unit("shuiwu"))))
        });
    }

    both.time.tick();
    let home = household(&mut wang, "西坑村三巷5号");
    let other = household(&mut wang, "西坑村七巷2号");
    let card = |phone: &mut Phone, home, text, category, urgency, photo| {
        both.time.tick();
        submitted(phone, home, text, category, urgency, photo)
    };
    use Category::*;
    use Urgency::*;
    let (wheelchair, _) = card(
        &mut wang,
        home,
        "给欧阳奶奶配一台轮椅",
        MobilityAid,
        High,
        None,
    );
    let (glasses, _) = card(&mut wang, home, "一副老花镜", Other, Normal, None);
    let (walker, _) = card(&mut wang, other, "助行器", MobilityAid, Critical, None);
    let (rice, rice_photo) = card(&mut wang, other, "米和油", Other, Low, Some(1));
    let (heater, _) = card(&mut wang, home, "冬天的电暖器", Other, High, None);
    let (draft, draft_photo) = card(&mut wang, other, "还没审核的心愿", Other, Normal, Some(4));
    let (radio, _) = card(&mut wang, other, "收音机", Other, Normal, None);
    both.time.tick();
    let far_home = household(&mut zhou, "水晶村一巷1号");
    let (far, _) = submitted(&mut zhou, far_home, "布吉的心愿", Other, High, None);
    both.push(&mut wang);
    both.push(&mut zhou);

    let chen = actor("chen", Role::Supervisor);
    let xiaoli = actor("xiaoli", Role::Volunteer);
    let zhangwei = actor("zhangwei", Role::Volunteer);
    let liuyang = actor("liuyang", Role::Volunteer);
    let approve = EventInput::new(EventKind::Approve);
    for id in [far, wheelchair, glasses, walker, rice, radio, heater] {
        assert_eq!(both.event(&chen, id, approve.clone()), Status::Approved);
    }
    let claim = EventInput::new(EventKind::Claim);
    let for_unit = |kind| EventInput {
        unit: Some(unit("shuiwu")),
        ..EventInput::new(kind)
    };
    // xiaoli takes the wheelchair from claim to a five-star confirmation,
    // lit up with a photo.
    let lit_photo = sync_core::photo::process(&picture(320, 240, 2))
        .unwrap()
        .photo;
    both.event(&xiaoli, wheelchair, claim.clone());
    both.event(&xiaoli, wheelchair, EventInput::new(EventKind::CheckIn));
    let fulfil = EventInput {
        photos: vec![lit_photo.clone()],
        ..EventInput::new(EventKind::Fulfil).with_note("已送到")
    };
    assert_eq!(both.event(&xiaoli, wheelchair, fulfil), Status::Fulfilled);
    let confirm = |rating| EventInput {
        rating: Some(rating),
        ..EventInput::new(EventKind::Confirm)
    };
    assert_eq!(
        both.event(&actor("wang", Role::Worker), wheelchair, confirm(5)),
        Status::Confirmed
    );
    // zhangwei does the glasses for the water bureau: three stars.
    both.event(&zhangwei, glasses, for_unit(EventKind::Claim));
    both.event(&zhangwei, glasses, for_unit(EventKind::Fulfil));
    both.event(&chen, glasses, confirm(3));
    // The walker: xiaoli's claim wins, zhangwei's (from the card as it
    // was before hers) loses.
    both.event(&xiaoli, walker, claim.clone());
    let lost = both.event_seen(&zhangwei, walker, 1, for_unit(EventKind::Claim));
    assert_eq!(lost, Status::Claimed);
    // The radio: liuyang claims it for the unit, so zhangwei holds it too.
    both.event(&liuyang, radio, for_unit(EventKind::Claim));
    both.event(&liuyang, radio, for_unit(EventKind::CheckIn));
    Some(District {
        both,
        wheelchair,
        glasses,
        walker,
        rice,
        heater,
        far,
        draft,
        radio,
        rice_photo: rice_photo.unwrap(),
        draft_photo: draft_photo.unwrap(),
        lit_photo,
    })
}
