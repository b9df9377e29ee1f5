"""Drives mobile-ffi from Python through the generated bindings, against a
real `doorstep` relay on a free loopback port.

Environment: DOORSTEP_BIN (the relay binary) and DOORSTEP_BINDINGS (the
directory holding doorstep.py and libmobile_ffi.so, built with SQLCipher).
"""

import gc
import os
import subprocess
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from phones import BEIKENG, DONGKENG, ERR, XIKENG, Phones, d, exchange, run  # noqa: E402
from relay import PASSWORD, Api  # noqa: E402


class Recorder(d.ChangeListener):
    def __init__(self):
        self.changes = []

    def records_changed(self, change):
        self.changes.append(change)

    def ids(self, origin):
        return {i for c in self.changes if c.origin == origin for i in c.record_ids}


class DoorstepBindings(Phones, unittest.TestCase):
    USERS = (
        ("wang", "worker", XIKENG),
        ("li", "worker", XIKENG),
        ("zhao", "worker", DONGKENG),
        ("sun", "worker", BEIKENG),
        ("zhou", "worker", BEIKENG),
        ("chen", "supervisor", "longgang"),
    )

    # -- the scenario ------------------------------------------------

    def test_offline_records_reach_the_community_and_no_one_else(self):
        wang, li, zhao = self.phone("wang"), self.phone("li"), self.phone("zhao")
        self.relay.stop()
        try:
            # No relay: the phone keeps working.
            home = self.household(wang, head_name="李秀英", tags=[d.VulnerabilityTag.LIVING_ALONE])
            visit = wang.record_visit(d.NewVisit(household_id=home, notes="独居老人，行动不便", needs="轮椅"))
            card = self.wish(wang, home)
            self.assertEqual(wang.submit_wish(card), d.Status.SUBMITTED)
            self.assertEqual(wang.pending_changes(), 3)
            with self.assertRaises(ERR.Offline) as failure:
                run(wang.sync())
            self.assertIn("Nothing was lost", str(failure.exception))
            self.assertEqual(wang.pending_changes(), 3)
            self.assertEqual(wang.wish(card).status, d.Status.SUBMITTED)
        finally:
            self.relay.start()
        report = run(wang.sync())
        self.assertEqual((report.sent, report.accepted, report.rejected), (3, 3, []))
        self.assertEqual(wang.pending_changes(), 0)

        run(li.sync())
        self.assertEqual(li.wish(card).status, d.Status.SUBMITTED)
        self.assertEqual(li.household(home).head_name, "李秀英")
        self.assertEqual([v.id for v in li.visits(home)], [visit])
        self.assertIn(card, [w.id for w in li.wishes(d.WishFilter(text="轮椅"))])
        self.assertIn(card, [w.id for w in li.wishes(d.WishFilter(status=d.Status.SUBMITTED, community=XIKENG))])
        self.assertNotIn(card, [w.id for w in li.wishes(d.WishFilter(text="路灯"))])

        run(zhao.sync())
        with self.assertRaises(ERR.NotFound):
            zhao.wish(card)
        self.assertEqual([w for w in zhao.wishes(d.WishFilter()) if w.community == XIKENG], [])
        self.assertEqual(zhao.households(d.HouseholdFilter(community=XIKENG)), [])

    def test_concurrent_edits_of_different_fields_both_survive(self):
        wang, li = self.phone("wang"), self.phone("li")
        home = self.household(wang, address="西坑村四巷2号", head_name="王桂兰", members=2)
        run(wang.sync())
        run(li.sync())
        wang.update_household(home, d.HouseholdPatch(head_name="王桂兰（户主）"))
        li.update_household(home, d.HouseholdPatch(phone="13800000000", add_tags=[d.VulnerabilityTag.DISABILITY]))
        run(wang.sync())
        run(li.sync())
        run(wang.sync())
        for phone in (wang, li):
            h = phone.household(home)
            self.assertEqual((h.head_name, h.phone, h.members), ("王桂兰（户主）", "13800000000", 2))
            self.assertEqual(h.tags, [d.VulnerabilityTag.DISABILITY])

    def test_supervisor_approval_and_concurrent_claims(self):
        wang, li = self.phone("wang"), self.phone("li")
        card = self.wish(wang, self.household(wang), text="修好三巷路灯")
        wang.submit_wish(card)
        run(wang.sync())
        with self.assertRaises(ERR.NotAllowed):
            wang.claim_wish(card)  # not approved yet: sync-core's rule, on the phone

        Api(self.relay, "chen").review(card, "approve")
        self.assertEqual(wang.wish(card).status, d.Status.SUBMITTED)
        run(wang.sync())
        self.assertEqual(wang.wish(card).status, d.Status.APPROVED)
        self.assertIn(d.EventKind.APPROVE, [e.kind for e in wang.wish(card).events])
        run(li.sync())

        # Both claim before either syncs.
        self.assertEqual(wang.claim_wish(card), d.Status.CLAIMED)
        self.assertEqual(li.claim_wish(card), d.Status.CLAIMED)
        run(wang.sync())
        report = run(li.sync())
        run(wang.sync())
        self.assertIn(card, report.conflicts)
        mine, theirs = wang.wish(card), li.wish(card)
        self.assertEqual(mine.status, d.Status.CLAIMED)
        self.assertEqual(mine.claimant, theirs.claimant)
        self.assertIn(mine.claimant, ("wang", "li"))
        self.assertEqual(len(mine.conflicts), 1)
        self.assertEqual(mine.conflicts, theirs.conflicts)
        lost = mine.conflicts[0]
        self.assertEqual((lost.event_kind, lost.kind), (d.EventKind.CLAIM, d.ConflictKind.SUPERSEDED))
        self.assertNotEqual(lost.actor, mine.claimant)
        self.assertEqual([w.open_conflicts for w in li.wishes(d.WishFilter(text="修好三巷路灯"))], [1])
        # The winner fulfils; the loser may not.
        winner, loser = (wang, li) if mine.claimant == "wang" else (li, wang)
        with self.assertRaises(ERR.NotAllowed):
            loser.fulfil_wish(card, "装好了")
        self.assertEqual(winner.fulfil_wish(card, "装好了"), d.Status.FULFILLED)
        with self.assertRaises(ERR.InvalidInput):
            winner.confirm_wish(card, 9)
        self.assertEqual(winner.confirm_wish(card, 5, "谢谢"), d.Status.CONFIRMED)

    def test_a_revoked_device_is_told_so(self):
        phone = self.phone("wang")
        self.household(phone)
        self.relay.revoke(phone.device_id())
        with self.assertRaises(ERR.DeviceRevoked):
            run(phone.sync())
        self.assertEqual(phone.pending_changes(), 1)
        with self.assertRaises(ERR.DeviceRevoked):
            run(phone.login(self.relay.url, "wang", PASSWORD, "again"))

    def test_wrong_password_and_no_login(self):
        store = d.FieldStore(self.path())
        with self.assertRaises(ERR.Unauthorized):
            run(store.login(self.relay.url, "wang", "not-the-password", "x"))
        with self.assertRaises(ERR.Unauthorized):
            self.household(store)
        with self.assertRaises(ERR.Unauthorized):
            run(store.sync())
        with self.assertRaises(ERR.InvalidInput):
            run(store.login("relay.example.org", "wang", PASSWORD, "x"))
        # A guesser is slowed down: after a few wrong passwords for one name
        # the relay refuses at once, and the phone says so (no retrying).
        for _ in range(6):
            with self.assertRaises(ERR.Unauthorized) as wrong:
                run(store.login(self.relay.url, "guessed", "not-the-password", "x"))
            self.assertIn("wrong username or password", str(wrong.exception))
        with self.assertRaises(ERR.Unauthorized) as throttled:
            run(store.login(self.relay.url, "guessed", "not-the-password", "x"))
        self.assertIn("too many failed logins", str(throttled.exception))

    # -- phone to phone ------------------------------------------------------

    def test_phone_to_phone_then_relay_without_duplicates(self):
        a, b = self.phone("wang"), self.phone("li")
        home_a = self.household(a, address="东街1号")
        card_a = self.wish(a, home_a, text="需要助听器")
        home_b = self.household(b, address="东街2号")
        card_b = self.wish(b, home_b, text="屋顶漏水")
        exchange(a, b)
        self.assertEqual(b.wish(card_a).text, "需要助听器")
        self.assertEqual(a.household(home_b).address, "东街2号")
        # Later changes go over the same transport, in the other direction;
        # one of them edits the other phone's household.
        a.update_household(home_a, d.HouseholdPatch(notes="补充：子女在外地"))
        a.update_household(home_b, d.HouseholdPatch(phone="13900000000"))
        a.submit_wish(card_a)
        exchange(b, a)
        self.assertEqual(b.household(home_a).notes, "补充：子女在外地")
        self.assertEqual(b.household(home_b).phone, "13900000000")
        self.assertEqual(b.wish(card_a).status, d.Status.SUBMITTED)

        # Then both meet the relay. Each delivers what it holds, signed by
        # whoever made it; nothing arrives twice.
        for phone in (a, b, a, b):
            run(phone.sync())
        for phone in (a, b):
            self.assertEqual(phone.pending_changes(), 0)
            self.assertEqual(phone.rejected_edits(), [])
        for record in (home_a, home_b):
            self.assertEqual(a.household(record), b.household(record))
        for card in (card_a, card_b):
            self.assertEqual(a.wish(card), b.wish(card))
        supervisor = Api(self.relay, "chen")
        for home in (home_a, home_b):
            self.assertEqual(supervisor.wishes(f"household={home}")["total"], 1)
        self.assertEqual(supervisor.call("GET", f"/v1/wishes/{card_a}")["status"], "submitted")
        self.assertEqual(supervisor.call("GET", f"/v1/households/{home_a}")["notes"], "补充：子女在外地")
        self.assertEqual(supervisor.call("GET", f"/v1/households/{home_b}")["phone"], "13900000000")

    # -- what stays on the phone ---------------------------------------------

    def test_a_refused_edit_stays_on_the_phone_with_its_reason(self):
        zhao, li = self.phone("zhao"), self.phone("li")
        outside = self.household(zhao, community=XIKENG, address="不是我的社区")
        mine = self.household(zhao, community=DONGKENG, address="东坑一巷")
        report = run(zhao.sync())
        self.assertEqual(report.accepted, 1)
        self.assertEqual([(r.record_id, r.code) for r in report.rejected], [(outside, d.RejectCode.SCOPE)])
        kept = zhao.rejected_edits()
        self.assertEqual([(r.record_id, r.code) for r in kept], [(outside, d.RejectCode.SCOPE)])
        self.assertTrue(kept[0].reason)
        self.assertEqual(zhao.household(outside).address, "不是我的社区")
        self.assertEqual(zhao.pending_changes(), 0)
        run(li.sync())
        with self.assertRaises(ERR.NotFound):
            li.household(outside)
        zhao.retry_rejected_edit(outside)
        self.assertEqual(zhao.pending_changes(), 1)
        self.assertEqual(zhao.household(mine).community, DONGKENG)

    def test_listener_hears_local_edits_and_synced_records(self):
        wang, li = self.phone("wang"), self.phone("li")
        heard = Recorder()
        wang.set_change_listener(heard)
        home = self.household(wang)
        self.assertIn(home, heard.ids(d.ChangeOrigin.LOCAL))
        card = self.wish(li, self.household(li))
        run(li.sync())
        run(wang.sync())
        self.assertIn(card, heard.ids(d.ChangeOrigin.RELAY))
        wang.set_change_listener(None)
        self.household(wang, address="no one listens")
        self.assertEqual(len([c for c in heard.changes if c.origin == d.ChangeOrigin.LOCAL]), 1)

    def test_killed_mid_sync_loses_nothing(self):
        # In a community of their own, so that other tests' phones do not
        # download these records.
        seeder = self.phone("sun")
        count = 3500  # more than one 2 MB page of records
        for i in range(count):
            self.household(seeder, community=BEIKENG, address=f"北坑{i}号", notes=os.urandom(600).hex())
        run(seeder.sync())
        self.assertEqual(seeder.pending_changes(), 0)
        path = self.path()
        first = self.phone("zhou", path=path)
        del first
        gc.collect()
        # A child process syncs the fresh phone and is killed after the first
        # page is stored: its listener blocks, so the sync cannot finish.
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
            import asyncio, sys, threading
            sys.path.insert(0, {os.environ["DOORSTEP_BINDINGS"]!r})
            import doorstep as d
            class Stall(d.ChangeListener):
                def records_changed(self, change):
                    if change.origin == d.ChangeOrigin.RELAY:
                        print("page", flush=True)
                        threading.Event().wait()
            store = d.FieldStore({path!r})
            store.set_change_listener(Stall())
            asyncio.run(store.sync())
            print("finished", flush=True)
        """)], stdout=subprocess.PIPE, text=True)
        self.assertEqual(child.stdout.readline().strip(), "page")
        child.kill()
        child.wait()
        child.stdout.close()

        def households(phone):
            ids, offset = [], 0
            while page := phone.households(d.HouseholdFilter(community=BEIKENG, limit=500, offset=offset)):
                ids += [h.id for h in page]
                offset += len(page)
            return ids

        phone = d.FieldStore(path)
        self.assertEqual(phone.account().username, "zhou")  # the session survived
        kept = len(households(phone))
        self.assertTrue(0 < kept < count, f"{kept} of {count} households after the kill")
        report = run(phone.sync())
        self.assertTrue(report.complete)
        self.assertEqual(report.rejected, [])
        ids = households(phone)
        self.assertEqual(len(ids), count)
        self.assertEqual(len(set(ids)), count)

    # -- encryption at rest --------------------------------------------------

    def test_encryption_at_rest(self):
        self.assertTrue(d.encryption_available())
        name = "李秀英独居" * 4
        key = os.urandom(32)

        def raw(path):
            data = b""
            for suffix in ("", "-wal"):
                if os.path.exists(path + suffix):
                    with open(path + suffix, "rb") as f:
                        data += f.read()
            return data

        plain_path, secret_path = self.path(), self.path()
        for path, k in ((plain_path, None), (secret_path, key)):
            store = self.phone("wang", path=path, key=k)
            self.household(store, head_name=name)
            del store
            gc.collect()

        # The same check finds the name in a store opened without a key...
        self.assertTrue(raw(plain_path).startswith(b"SQLite format 3\x00"))
        self.assertIn(name.encode(), raw(plain_path))
        # ...and not in the encrypted one.
        self.assertFalse(raw(secret_path).startswith(b"SQLite format 3"))
        self.assertNotIn(name.encode(), raw(secret_path))
        self.assertNotIn("李秀英".encode(), raw(secret_path))

        with self.assertRaises(ERR.WrongKey) as wrong:
            d.FieldStore(secret_path, os.urandom(32))
        self.assertIn("key does not open", str(wrong.exception))
        with self.assertRaises(ERR.WrongKey):
            d.FieldStore(secret_path)
        with self.assertRaises(ERR.InvalidInput):
            d.FieldStore(secret_path, b"too short")
        again = d.FieldStore(secret_path, key)
        self.assertEqual([h.head_name for h in again.households(d.HouseholdFilter())], [name])
        self.assertEqual(again.account().username, "wang")


if __name__ == "__main__":
    unittest.main(verbosity=2)
