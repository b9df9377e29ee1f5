"""A district restores its relay from a backup, with phones driven through
mobile-ffi from Python: work done after the backup lives on the phones
only, and after the restore one sync of each phone gives it all back to
the relay, a supervisor's approval and dispatch included, and every phone
agrees with the relay.

Environment: DOORSTEP_BIN (the relay binary) and DOORSTEP_BINDINGS (the
directory holding doorstep.py and libmobile_ffi.so).
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from phones import XIKENG, Phones, d, exchange, run  # noqa: E402
from test_photos import textured  # noqa: E402
from relay import Api  # noqa: E402


class RelayRestore(Phones, unittest.TestCase):
    USERS = (
        ("wang", "worker", XIKENG),
        ("li", "worker", XIKENG),
        ("zhao", "worker", XIKENG),
        ("chen", "supervisor", "longgang"),
    )

    def cards(self, phone):
        return {w.id: (w.text, w.status, w.urgency) for w in phone.wishes(d.WishFilter(limit=500))}

    def test_after_a_restore_every_phone_gives_back_what_the_relay_lost(self):
        wang, li = self.phone("wang"), self.phone("li")
        home = self.household(wang)
        first = self.wish(wang, home, text="给李大爷一台轮椅")
        wang.submit_wish(first)
        second = self.wish(wang, home, text="修好三巷的路灯")
        wang.submit_wish(second)
        run(wang.sync())
        run(li.sync())

        backup = os.path.join(self.dir.name, "backup.sqlite")
        self.relay.backup(backup)

        # After the backup: a new card, an edit, a supervisor's approval
        # and dispatch, and an edit that travels phone to phone.
        third = self.wish(wang, home, text="帮王奶奶修漏水的屋顶")
        wang.submit_wish(third)
        wang.update_wish(first, d.WishPatch(text="给李大爷一台轻便轮椅"))
        run(wang.sync())
        chen = Api(self.relay, "chen")
        chen.review(second, "approve")
        chen.assign(second, "志愿者小刘")
        run(li.sync())
        wang.update_wish(third, d.WishPatch(urgency=d.Urgency.CRITICAL))
        exchange(wang, li)  # wang's phone is then left at home, unsynced
        before = self.cards(li)
        self.assertEqual(before[second][1], d.Status.CLAIMED)

        self.relay.stop()
        self.relay.restore(backup)
        self.relay.start()

        report = run(li.sync())
        self.assertTrue(report.reconciled)
        self.assertEqual(report.rejected, [])
        self.assertEqual(li.pending_changes(), 0)
        report = run(wang.sync())
        self.assertTrue(report.reconciled)
        self.assertEqual(report.rejected, [])
        fresh = self.phone("zhao")
        run(fresh.sync())
        for phone in (wang, li, fresh):
            self.assertEqual(self.cards(phone), before)
        dispatched = Api(self.relay, "chen").call("GET", f"/v1/wishes/{second}")
        self.assertEqual((dispatched["status"], dispatched["claimant"]), ("claimed", "志愿者小刘"))


class PhotosThroughARestore(Phones, unittest.TestCase):
    USERS = (("wang", "worker", XIKENG), ("chen", "supervisor", "longgang"))

    def card_with_photo(self, phone, seed):
        card = self.wish(phone, self.household(phone), text=f"照片 {seed}")
        phone.submit_wish(card)
        photo = run(phone.add_photo(card, textured(1200, 900, seed=seed)))
        run(phone.sync())
        self.assertEqual(run(phone.sync_photos()).uploaded, 1)
        return card, photo

    def test_a_restore_on_a_new_machine_brings_photos_back_and_the_phone_resends_the_rest(self):
        wang = self.phone("wang")
        before = self.card_with_photo(wang, seed=21)
        backup = os.path.join(self.dir.name, "photos-backup.sqlite")
        self.relay.backup(backup)
        after = self.card_with_photo(wang, seed=22)

        # The relay's machine is lost: only the backup (and the phone) remain.
        self.relay.stop()
        for suffix in ("", ".key", ".feed", "-wal", "-shm"):
            if os.path.exists(self.relay.db + suffix):
                os.remove(self.relay.db + suffix)
        shutil.rmtree(self.relay.db + ".photos")
        self.relay.restore(backup)
        self.relay.start()

        self.assertTrue(run(wang.sync()).reconciled)
        report = run(wang.sync_photos())
        self.assertEqual(report.uploaded, 2, "both photos asked about again")
        self.assertEqual(report.bytes_sent, after[1].bytes, "only the lost one sent again")
        chen = Api(self.relay, "chen")
        for card, photo in (before, after):
            status, body = chen.raw(f"/v1/records/{card}/photos/{photo.sha256}")
            self.assertEqual((status, len(body)), (200, photo.bytes), card)


if __name__ == "__main__":
    unittest.main(verbosity=2)
