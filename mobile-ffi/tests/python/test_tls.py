"""A phone syncing over HTTPS with a relay that serves TLS itself
(`--tls-cert`/`--tls-key`), its certificate issued by the district's own
authority, which the phone is told to trust; driven through mobile-ffi from
Python. A phone that does not trust the certificate syncs nothing and loses
nothing.

Environment: DOORSTEP_BIN (the relay binary) and DOORSTEP_BINDINGS (the
directory holding doorstep.py and libmobile_ffi.so).
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from phones import XIKENG, Phones, d, run  # noqa: E402
from relay import PASSWORD, Api, Certificates, Relay  # noqa: E402


class OverHttps(Phones, unittest.TestCase):
    USERS = (
        ("wang", "worker", XIKENG),
        ("chen", "supervisor", "longgang"),
    )

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.certificates = Certificates(cls.dir.name)
        cls.relay = Relay(os.environ["DOORSTEP_BIN"], cls.dir.name, tls=cls.certificates)
        for user, role, scope in cls.USERS:
            cls.relay.add_user(user, role, scope)
        cls.relay.start()
        cls.phones = 0

    def options(self, pem):
        return d.SyncOptions(request_timeout_ms=20_000, connect_timeout_ms=5_000,
                             max_retries=1, backoff_ms=50, trusted_certificate_pem=pem)

    def test_a_phone_trusting_the_districts_authority_syncs(self):
        self.assertTrue(self.relay.url.startswith("https://"))
        phone = d.FieldStore(self.path(), None)
        phone.set_sync_options(self.options(self.certificates.ca_pem()))
        account = run(phone.login(self.relay.url, "wang", PASSWORD, "wang's phone"))
        self.assertEqual(account.username, "wang")
        home = self.household(phone, head_name="李秀英")
        card = self.wish(phone, home)
        phone.submit_wish(card)
        report = run(phone.sync())
        self.assertEqual(report.rejected, [])
        self.assertEqual(phone.pending_changes(), 0)
        chen = Api(self.relay, "chen")
        self.assertEqual(chen.call("GET", f"/v1/wishes/{card}")["status"], "submitted")

    def test_a_phone_that_does_not_trust_the_certificate_keeps_its_work(self):
        trusting = d.FieldStore(self.path(), None)
        trusting.set_sync_options(self.options(self.certificates.ca_pem()))
        run(trusting.login(self.relay.url, "wang", PASSWORD, "wang's phone"))
        home = self.household(trusting, head_name="王大妈")
        # The same phone, its trust taken away (say, a certificate the app
        # does not know): the sync fails, and the household waits.
        trusting.set_sync_options(self.options(None))
        with self.assertRaises(d.DoorstepError):
            run(trusting.sync())
        self.assertGreater(trusting.pending_changes(), 0)
        self.assertIsNotNone(trusting.household(home))
        trusting.set_sync_options(self.options(self.certificates.ca_pem()))
        run(trusting.sync())
        self.assertEqual(trusting.pending_changes(), 0)

    def test_a_certificate_that_is_not_pem_is_refused_and_changes_nothing(self):
        phone = d.FieldStore(self.path(), None)
        phone.set_sync_options(self.options(self.certificates.ca_pem()))
        with self.assertRaises(d.DoorstepError.InvalidInput):
            phone.set_sync_options(self.options("not a certificate"))
        account = run(phone.login(self.relay.url, "wang", PASSWORD, "wang's phone"))
        self.assertEqual(account.username, "wang")



if __name__ == "__main__":
    unittest.main()
