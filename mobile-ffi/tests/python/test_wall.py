"""The wish wall with real bindings: volunteers claim on the relay's wall
API, the worker's phone (mobile-ffi, from Python) records the resident's
confirmation, the points follow the workflow; a volunteer's own phone
receives only the wall's wishes and may not write households."""

import json
import os
import unittest
import urllib.error

from phones import XIKENG, Phones, d, run
from relay import Api

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "..", "..", "..", "sync-core", "tests", "fixtures", "rotated-gps.jpg")
ADDRESS = "西坑村七巷88号"
CONTACT = "欧阳秀兰"
CONTACT_PHONE = "13912345678"


def refused(call):
    """The relay's JSON refusal of `call`: (status, body)."""
    try:
        call()
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
    raise AssertionError("the relay accepted it")


class WishWall(Phones, unittest.TestCase):
    USERS = (
        ("wang", "worker", XIKENG),
        ("chen", "supervisor", "longgang"),
        ("hu", "volunteer", "longgang"),
        ("ma", "volunteer", "longgang"),
    )

    def approved_card(self, wang, text):
        home = self.household(wang, address=ADDRESS, head_name=CONTACT, phone=CONTACT_PHONE)
        card = self.wish(wang, home, text=text)
        wang.submit_wish(card)
        run(wang.sync())
        Api(self.relay, "chen").review(card, "approve")
        return home, card

    def points(self, volunteer):
        return volunteer.call("GET", "/v1/wall")["points"]

    def test_the_workers_phone_confirms_and_the_points_follow_the_claim(self):
        wang = self.phone("wang")
        _, card = self.approved_card(wang, "给欧阳奶奶一台轮椅")
        chen, hu, ma = Api(self.relay, "chen"), Api(self.relay, "hu"), Api(self.relay, "ma")
        wall = ma.call("GET", "/v1/wall")
        seen = next(w["seen"] for w in wall["wishes"] if w["id"] == card)

        hu.call("POST", f"/v1/wall/{card}/claim", {"seen": seen})
        status, body = refused(lambda: ma.call("POST", f"/v1/wall/{card}/claim", {"seen": seen}))
        self.assertEqual((status, body["error"]), (409, "claim_lost"))
        hu.call("POST", f"/v1/wall/{card}/check-in", {})
        hu.call("POST", f"/v1/wall/{card}/fulfil", {"note": "已送到"})

        run(wang.sync())
        lit = wang.wish(card)
        self.assertEqual((lit.status, lit.holder_user), (d.Status.FULFILLED, "hu"))
        self.assertIsNotNone(lit.checked_in_at)
        self.assertIn(d.EventKind.CHECK_IN, [e.kind for e in lit.events])
        self.assertEqual(self.points(hu), 0, "no points before the resident confirms")
        self.assertEqual(wang.confirm_wish(card, 5, "很满意"), d.Status.CONFIRMED)
        run(wang.sync())
        self.assertEqual(self.points(hu), 20)
        run(wang.sync())
        self.assertEqual(self.points(hu), 20, "awarded once")
        boards = chen.call("GET", "/v1/points/leaderboards")
        self.assertEqual(boards["volunteers"], [{"who": "hu", "points": 20, "wishes": 1}])

        conflict = chen.call("GET", "/v1/conflicts")[0]
        chen.call("POST", f"/v1/conflicts/{conflict['event_id']}/resolve", {"reverse": True})
        self.assertEqual(self.points(hu), 0)
        self.assertEqual(chen.call("GET", "/v1/points/leaderboards")["volunteers"], [])
        run(wang.sync())
        now = wang.wish(card)
        self.assertEqual((now.status, now.holder_user), (d.Status.CLAIMED, "ma"))

    def test_a_volunteers_phone_gets_the_wall_only_and_may_not_write_households(self):
        wang = self.phone("wang")
        home, card = self.approved_card(wang, "修好楼道的灯")
        waiting = self.wish(wang, home, text="还没审核的心愿")
        wang.submit_wish(waiting)
        run(wang.sync())

        hu = self.phone("hu")
        run(hu.sync())
        self.assertEqual([w.id for w in hu.wishes(d.WishFilter())], [card])
        self.assertEqual(hu.households(d.HouseholdFilter()), [])
        with self.assertRaises(d.DoorstepError.NotFound):
            hu.household(home)

        made = hu.create_household(d.NewHousehold(community=XIKENG, address="志愿者建的住户"))
        self.assertEqual(hu.claim_wish(card), d.Status.CLAIMED)
        report = run(hu.sync())
        self.assertEqual([(r.record_id, r.code) for r in report.rejected], [(made, d.RejectCode.ROLE)])
        self.assertEqual(report.accepted, 1, "the claim went through")
        kept = hu.rejected_edits()
        self.assertEqual([r.record_id for r in kept], [made])
        self.assertIn("volunteer", kept[0].reason)
        run(wang.sync())
        with self.assertRaises(d.DoorstepError.NotFound):
            wang.household(made)
        self.assertEqual(wang.wish(card).holder_user, "hu")

        # Lit up with a photo taken on the volunteer's phone: it joins the
        # card with the fulfilment and goes up in the photo queue.
        with open(FIXTURE, "rb") as f:
            picture = f.read()
        photo = run(hu.fulfil_wish_with_photo(card, "灯修好了", picture))
        self.assertEqual(hu.wish(card).status, d.Status.FULFILLED)
        report = run(hu.sync())
        self.assertEqual(report.rejected, [])
        self.assertEqual(run(hu.sync_photos()).uploaded, 1)
        run(wang.sync())
        self.assertEqual([p.sha256 for p in wang.wish(card).photos], [photo.sha256])
        chen = Api(self.relay, "chen")
        status, _ = chen.raw(f"/v1/records/{card}/photos/{photo.sha256}/thumb")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
