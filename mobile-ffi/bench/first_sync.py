"""Benchmark: the first sync of a new phone with 10,000 records on the relay,
through the generated Python bindings (so through the FFI, as an app does),
against a real `doorstep` relay. Run by mobile-ffi/bench/run, which builds
everything in release first.

Prints figures; asserts only that the sync brought every record.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.environ["DOORSTEP_BINDINGS"])
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))

import doorstep as d  # noqa: E402
from relay import PASSWORD, Relay  # noqa: E402

COMMUNITY = "longgang/yuanshan/xikeng"
RECORDS = int(os.environ.get("RECORDS", "10000"))
RUNS = int(os.environ.get("RUNS", "3"))


def run(coroutine):
    return asyncio.run(coroutine)


def main():
    with tempfile.TemporaryDirectory() as workdir:
        relay = Relay(os.environ["DOORSTEP_BIN"], workdir)
        relay.add_user("seeder", "worker", COMMUNITY)
        relay.add_user("fresh", "worker", COMMUNITY)
        relay.start()
        try:
            bench(relay, workdir)
        finally:
            relay.stop()


def phone(relay, path, user, key=None):
    store = d.FieldStore(path, key)
    run(store.login(relay.url, user, PASSWORD, "bench"))
    return store


def bench(relay, workdir):
    # A community's worth of records, made the way a worker makes them:
    # households, a visit to each, and wish cards (a quarter submitted).
    seeder = phone(relay, os.path.join(workdir, "seeder.db"), "seeder")
    started = time.perf_counter()
    made = 0
    i = 0
    while made < RECORDS:
        home = seeder.create_household(d.NewHousehold(
            community=COMMUNITY, address=f"西坑村{i // 50 + 1}巷{i % 50 + 1}号", head_name=f"住户{i}",
            members=1 + i % 5, tags=[d.VulnerabilityTag.LIVING_ALONE] if i % 3 == 0 else [],
            notes="独居老人，子女在外地务工，需要定期探访。"))
        made += 1
        if made < RECORDS:
            seeder.record_visit(d.NewVisit(household_id=home, notes="上门走访，身体状况良好。", needs="轮椅"))
            made += 1
        if made < RECORDS:
            card = seeder.create_wish(d.NewWish(
                household_id=home, text=f"给{i}号住户一台轮椅，方便出行", category=d.Category.MOBILITY_AID,
                urgency=d.Urgency.HIGH))
            if i % 4 == 0:
                seeder.submit_wish(card)
            made += 1
        i += 1
    created = time.perf_counter() - started
    started = time.perf_counter()
    pushed = run(seeder.sync())
    push_seconds = time.perf_counter() - started
    assert pushed.accepted == RECORDS, pushed
    print(f"seeding: {RECORDS} records created through the FFI in {created:.1f} s "
          f"({created / RECORDS * 1000:.2f} ms each); pushed in {push_seconds:.1f} s, {pushed.rounds} rounds")

    for encrypted in (True, False):
        times = []
        for n in range(RUNS):
            key = os.urandom(32) if encrypted else None
            fresh = phone(relay, os.path.join(workdir, f"fresh-{encrypted}-{n}.db"), "fresh", key)
            started = time.perf_counter()
            report = run(fresh.sync())
            times.append(time.perf_counter() - started)
            assert report.received == RECORDS and report.complete, report
            started = time.perf_counter()
            again = run(fresh.sync())
            unchanged = time.perf_counter() - started
            assert again.received == 0 and again.rounds == 1, again
            path = os.path.join(workdir, f"fresh-{encrypted}-{n}.db")
            size = sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))
            del fresh
        label = "SQLCipher" if encrypted else "plain SQLite"
        print(f"first sync of {RECORDS} records ({label}): median {statistics.median(times):.2f} s "
              f"of {', '.join(f'{t:.2f}' for t in times)} s; {report.rounds} rounds; "
              f"then an unchanged sync {unchanged * 1000:.0f} ms; database {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
