//! Points (积分): what a confirmed fulfilment earns, by the district's rules.
//!
//! Points are a deterministic fold of the workflow, the same on every
//! replica: a wish earns points once, when the resident's confirmation
//! closes it, for whoever holds it then by the fold (a volunteer, the
//! partner unit they claimed for, or both). A claim race resolved the other
//! way changes the holder, and so takes the points back. There is no
//! separate ledger to keep in step: the ledger is read from the cards.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Category, Urgency, WishCard};
use crate::workflow::{Folded, Status};

/// A district's points rules, from its settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PointsRules {
    /// Points for a wish of an urgency not listed in `by_urgency`.
    pub base: u32,
    /// Points by the wish's urgency.
    pub by_urgency: BTreeMap<Urgency, u32>,
    /// Extra points by the wish's category (none for others).
    pub by_category: BTreeMap<Category, u32>,
    /// Extra points when the resident's rating is at least `bonus_rating`.
    pub bonus: u32,
    /// The lowest rating that earns the bonus (1–5).
    pub bonus_rating: u8,
}

impl Default for PointsRules {
    fn default() -> Self {
        Self {
            base: 10,
            by_urgency: BTreeMap::from([
                (Urgency::Low, 5),
                (Urgency::Normal, 10),
                (Urgency::High, 15),
                (Urgency::Critical, 20),
            ]),
            by_category: BTreeMap::new(),
            bonus: 5,
            bonus_rating: 5,
        }
    }
}

impl PointsRules {
    /// The points a confirmed wish of this urgency and category, rated
    /// `rating`, earns.
    pub fn points(&self, urgency: Urgency, category: Category, rating: Option<u8>) -> u32 {
        let base = self.by_urgency.get(&urgency).copied().unwrap_or(self.base);
        let extra = self.by_category.get(&category).copied().unwrap_or(0);
        let bonus = if rating.is_some_and(|r| r >= self.bonus_rating) {
            self.bonus
        } else {
            0
        };
        base.saturating_add(extra).saturating_add(bonus)
    }

    /// What a card earns as folded: points once it is confirmed and held
    /// by someone with an account (a volunteer, a unit), none otherwise.
    pub fn earned(&self, card: &WishCard) -> Option<u32> {
        self.earned_by(card.urgency, card.category, &card.state)
    }

    /// [`PointsRules::earned`], from a card's urgency, category and fold.
    pub fn earned_by(&self, urgency: Urgency, category: Category, state: &Folded) -> Option<u32> {
        let holder = state.holder.as_ref()?;
        (state.status == Status::Confirmed && !holder.is_free_text())
            .then(|| self.points(urgency, category, state.rating))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::workflow::Holder;

    #[test]
    fn urgency_sets_the_points_category_and_a_high_rating_add() {
        let mut rules = PointsRules::default();
        rules.by_category.insert(Category::MobilityAid, 3);
        assert_eq!(rules.points(Urgency::High, Category::Other, Some(4)), 15);
        assert_eq!(rules.points(Urgency::High, Category::Other, Some(5)), 20);
        assert_eq!(rules.points(Urgency::Low, Category::MobilityAid, None), 8);
    }

    #[test]
    fn only_a_confirmed_wish_held_by_an_account_earns() {
        let rules = PointsRules::default();
        let mut state = Folded {
            status: Status::Fulfilled,
            holder: Some(Holder {
                user: Some(UserId::new("li").unwrap()),
                ..Holder::default()
            }),
            rating: Some(5),
            ..Folded::default()
        };
        assert_eq!(
            rules.earned_by(Urgency::Normal, Category::Other, &state),
            None
        );
        state.status = Status::Confirmed;
        assert_eq!(
            rules.earned_by(Urgency::Normal, Category::Other, &state),
            Some(15)
        );
        state.holder = Some(Holder {
            name: Some("李师傅".into()),
            ..Holder::default()
        });
        assert_eq!(
            rules.earned_by(Urgency::Normal, Category::Other, &state),
            None
        );
    }

    #[test]
    fn rules_read_from_settings_text() {
        let rules: PointsRules =
            toml_like(r#"{"base": 8, "by_urgency": {"critical": 30}, "bonus": 2}"#);
        assert_eq!(
            rules.points(Urgency::Critical, Category::Other, Some(5)),
            32
        );
        assert_eq!(rules.points(Urgency::Low, Category::Other, None), 8);
    }

    fn toml_like(json: &str) -> PointsRules {
        serde_json::from_str(json).unwrap()
    }
}
