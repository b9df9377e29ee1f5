"""A district restores its relay from a backup, with phones driven through
mobile-ffi from Python: work done after the backup lives on the phones
only, and after the restore one sync of each phone gives it all back to
the relay, a supervisor's approval and dispatch included, and every phone
agrees with the relay.

Environment: DOORSTEP_BIN (the relay binary) and DOORSTEP_BINDINGS (the
directory holding doorstep.py and libmobile_ffi.so).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from phones import XIKENG, Phones, d, exchange, run  # noqa: E402
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
