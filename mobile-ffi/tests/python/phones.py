"""What the binding tests share: the bindings, a relay per test class, and
phones logged in to it.

Environment: DOORSTEP_BIN (the relay binary) and DOORSTEP_BINDINGS (the
directory holding doorstep.py and libmobile_ffi.so, built with SQLCipher).
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.environ["DOORSTEP_BINDINGS"])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import doorstep as d  # noqa: E402
from relay import PASSWORD, Relay  # noqa: E402

XIKENG = "longgang/yuanshan/xikeng"
DONGKENG = "longgang/yuanshan/dongkeng"
BEIKENG = "longgang/yuanshan/beikeng"
ERR = d.DoorstepError


def run(coroutine):
    return asyncio.run(coroutine)


def exchange(first, second):
    """Runs a phone-to-phone sync: `first` starts, the bytes go back and
    forth until one side has nothing more to say."""
    message, to = first.peer_sync_start(), second
    rounds = 0
    while message is not None:
        message = to.peer_sync_receive(message)
        to = first if to is second else second
        rounds += 1
        assert rounds < 100, "phone-to-phone sync does not end"
    return rounds


class Phones:
    """A test class's relay (with the users it names) and its phones."""

    USERS = ()

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.relay = Relay(os.environ["DOORSTEP_BIN"], cls.dir.name)
        for user, role, scope in cls.USERS:
            cls.relay.add_user(user, role, scope)
        cls.relay.start()
        cls.phones = 0

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()
        cls.dir.cleanup()

    def path(self):
        type(self).phones += 1
        return os.path.join(self.dir.name, f"phone-{self.phones}.db")

    def phone(self, user, path=None, key=None):
        store = d.FieldStore(path or self.path(), key)
        store.set_sync_options(d.SyncOptions(
            request_timeout_ms=20_000, connect_timeout_ms=5_000, max_retries=2, backoff_ms=50))
        account = run(store.login(self.relay.url, user, PASSWORD, f"{user}'s phone"))
        self.assertEqual(account.username, user)
        return store

    def household(self, store, community=XIKENG, **fields):
        fields.setdefault("address", "西坑村三巷5号")
        return store.create_household(d.NewHousehold(community=community, **fields))

    def wish(self, store, household, text="给李大爷一台轮椅"):
        return store.create_wish(d.NewWish(
            household_id=household, text=text,
            category=d.Category.MOBILITY_AID, urgency=d.Urgency.HIGH))
