"""A relay whose storage is full, with a phone driven through mobile-ffi
from Python: the phone gets a retryable error that says nothing was lost,
keeps every record pending, and delivers them all once space returns.

Environment: DOORSTEP_BIN (the relay binary) and DOORSTEP_BINDINGS (the
directory holding doorstep.py and libmobile_ffi.so).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from phones import ERR, XIKENG, Phones, run  # noqa: E402


class RelayFull(Phones, unittest.TestCase):
    USERS = (("wang", "worker", XIKENG),)

    def wait_health(self, status):
        deadline = time.monotonic() + 30
        while True:
            got, body = self.relay.health()
            if got == status:
                return body
            self.assertLess(time.monotonic(), deadline, f"/healthz stays {got}: {body}")
            time.sleep(0.05)

    def test_a_full_relay_is_a_retryable_error_and_nothing_is_lost(self):
        wang = self.phone("wang")
        self.household(wang)
        run(wang.sync())
        self.relay.limit_size(0)
        self.assertEqual(self.wait_health(503)["reason"], "storage_full")
        notes = "独居老人，需要定期探访。" * 150
        homes = [self.household(wang, address=f"西坑村{i}号", notes=notes) for i in range(20)]
        with self.assertRaises(ERR.RelayUnavailable) as full:
            run(wang.sync())
        self.assertIn("Nothing on this phone was lost", str(full.exception))
        self.assertEqual(wang.pending_changes(), 20)

        self.relay.limit_size(None)
        self.assertEqual(self.wait_health(200)["status"], "ok")
        report = run(wang.sync())
        self.assertEqual(report.rejected, [])
        self.assertEqual(wang.pending_changes(), 0)
        fresh = self.phone("wang")
        run(fresh.sync())
        for home in homes:
            self.assertEqual(fresh.household(home).notes, notes)


if __name__ == "__main__":
    unittest.main(verbosity=2)
