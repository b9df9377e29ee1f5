"""A worker's phone on mobile-ffi, one command per run, for the field web
app's browser test (dashboard-test/field.test.mjs): the same card edited on
this phone and in the web app. Prints the card as JSON.

    field_phone.py RELAY DB USER PASSWORD sync CARD
    field_phone.py RELAY DB USER PASSWORD urgency CARD VALUE   (offline: no sync)
    field_phone.py RELAY DB USER PASSWORD seed COUNT COMMUNITY (COUNT records, synced)

Environment: DOORSTEP_BINDINGS (the directory with doorstep.py and
libmobile_ffi.so).
"""
import asyncio
import json
import os
import sys

sys.path.insert(0, os.environ["DOORSTEP_BINDINGS"])
import doorstep as d  # noqa: E402


def seed(phone, count, community):
    """`count` records for a benchmark: a household per four, a visit and two
    submitted cards each, then one sync."""
    made = 0
    while made < count:
        home = phone.create_household(d.NewHousehold(
            community=community, address=f"西坑村{made // 4 + 1}号", head_name="测试住户"))
        made += 1
        for n in range(3):
            if made >= count:
                break
            if n == 0:
                phone.record_visit(d.NewVisit(household_id=home, notes="例行走访"))
            else:
                card = phone.create_wish(d.NewWish(
                    household_id=home, text=f"第{made}个心愿：需要一台轮椅",
                    category=d.Category.MOBILITY_AID, urgency=d.Urgency.NORMAL))
                phone.submit_wish(card)
            made += 1
    asyncio.run(phone.sync())


def main(relay, db, user, password, command, card, *rest):
    phone = d.FieldStore(db, None)
    if phone.account() is None:
        asyncio.run(phone.login(relay, user, password, f"{user}'s Android phone"))
    if command == "seed":
        seed(phone, int(card), rest[0])
        print(json.dumps({"pending": phone.pending_changes()}))
        return
    if command == "sync":
        asyncio.run(phone.sync())
    elif command == "urgency":
        phone.update_wish(card, d.WishPatch(urgency=getattr(d.Urgency, rest[0].upper())))
    else:
        raise SystemExit(f"unknown command {command}")
    wish = phone.wish(card)
    print(json.dumps({
        "text": wish.text,
        "urgency": wish.urgency.name.lower(),
        "status": wish.status.name.lower(),
        "pending": phone.pending_changes(),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:])
