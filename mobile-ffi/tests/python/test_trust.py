"""Changes that certify themselves, with phones driven through mobile-ffi
from Python: a phone carries a colleague's work to the relay after the
colleague's phone is gone, and the relay's history names the colleague; a
lost phone's work carried by another phone waits for a supervisor.

Environment: DOORSTEP_BIN (the relay binary) and DOORSTEP_BINDINGS (the
directory holding doorstep.py and libmobile_ffi.so).
"""

import gc
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from phones import XIKENG, Phones, d, exchange, run  # noqa: E402
from relay import Api  # noqa: E402


class CarriedWork(Phones, unittest.TestCase):
    USERS = (
        ("wang", "worker", XIKENG),
        ("li", "worker", XIKENG),
        ("chen", "supervisor", "longgang"),
    )

    def test_a_colleague_delivers_the_work_of_a_phone_that_is_gone(self):
        wang, li = self.phone("wang"), self.phone("li")
        home = self.household(wang, head_name="李秀英")
        card = self.wish(wang, home, text="给李大爷一台轮椅")
        wang.submit_wish(card)
        wang_device = wang.device_id()
        exchange(wang, li)
        del wang  # the phone falls in the river, never having synced
        gc.collect()

        report = run(li.sync())
        self.assertEqual(report.rejected, [])
        self.assertEqual(li.pending_changes(), 0)
        chen = Api(self.relay, "chen")
        self.assertEqual(chen.call("GET", f"/v1/wishes/{card}")["status"], "submitted")
        history = chen.call("GET", f"/v1/wishes/{card}/history")
        self.assertTrue(history)
        self.assertEqual({(e["user"], e["device"]) for e in history}, {("wang", wang_device)})

    def test_a_lost_phones_carried_work_waits_for_a_supervisor(self):
        wang, li = self.phone("wang"), self.phone("li")
        home = self.household(wang, address="可疑的地址")
        exchange(wang, li)
        self.relay.lose(wang.device_id())
        with self.assertRaises(d.DoorstepError.DeviceRevoked):
            run(wang.sync())
        report = run(li.sync())
        self.assertEqual([(r.record_id, r.code) for r in report.rejected],
                         [(home, d.RejectCode.QUARANTINE)])
        chen = Api(self.relay, "chen")
        held = [h for h in chen.call("GET", "/v1/quarantine") if h["record"] == home]
        self.assertEqual(len(held), 1)
        self.assertEqual(held[0]["authors"][0]["user"], "wang")
        self.assertEqual(held[0]["carrier"]["user"], "li")
        chen.call("POST", f"/v1/quarantine/{held[0]['id']}/accept", {})
        self.assertEqual(chen.call("GET", f"/v1/households/{home}")["address"], "可疑的地址")
        run(li.sync())
        self.assertEqual(li.rejected_edits(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
