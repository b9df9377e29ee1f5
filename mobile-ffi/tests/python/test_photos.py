"""Photos through the bindings, against a real relay: a phone takes a
photo from a camera's file (turned upright, no EXIF, no GPS), the card syncs
before the photo and another phone sees it pending until it arrives, an
upload cut at 60% resumes and sends little more than the photo, and a user
outside the card's community never sees it.

Needs Pillow (the EXIF reader and decoder) on PYTHONPATH."""

import io
import os
import random
import unittest

from PIL import Image

from cutter import CuttingProxy
from phones import BEIKENG, XIKENG, Phones, d, run
from relay import Api

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "..", "..", "..", "sync-core", "tests", "fixtures", "rotated-gps.jpg")
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def camera_file():
    with open(FIXTURE, "rb") as f:
        return f.read()


def reddish(pixel):
    r, g, b = pixel[:3]
    return r > 160 and g < 90 and b < 90


def metadata(jpeg):
    """What an EXIF reader finds: every EXIF tag, and the GPS IFD."""
    image = Image.open(io.BytesIO(jpeg))
    exif = image.getexif()
    return dict(exif), dict(exif.get_ifd(GPS_IFD)), image


def textured(width, height, seed=7):
    """A camera-sized picture with detail, as a JPEG."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    tiles = Image.new("RGB", (width // 16, height // 16))
    tiles.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                   for _ in range((width // 16) * (height // 16))])
    image.paste(tiles.resize((width, height), Image.Resampling.BILINEAR))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


class Photos(Phones, unittest.TestCase):
    USERS = (("wang", "worker", XIKENG), ("zhao", "worker", XIKENG),
             ("sun", "worker", BEIKENG), ("chen", "supervisor", "longgang/yuanshan"))

    def card(self, store):
        card = self.wish(store, self.household(store), text="楼道扶手断了")
        store.submit_wish(card)
        return card

    def test_the_camera_file_is_what_the_test_says(self):
        # The negative control of the checks below: the EXIF reader does
        # find the fixture's GPS position and orientation.
        exif, gps, image = metadata(camera_file())
        self.assertEqual(exif[ORIENTATION], 6)
        self.assertIn(2, gps, "a GPS latitude")
        self.assertEqual(image.size, (400, 300), "stored on its side")

    def test_a_photo_is_upright_and_carries_no_exif_on_phone_and_relay(self):
        wang = self.phone("wang")
        card = self.card(wang)
        photo = run(wang.add_photo(card, camera_file()))
        self.assertEqual((photo.width, photo.height, photo.mime), (300, 400, "image/jpeg"))
        self.assertEqual(wang.wish(card).photos, [photo])
        run(wang.sync())
        self.assertEqual(wang.photos_to_upload(), 1)
        report = run(wang.sync_photos())
        self.assertEqual((report.uploaded, report.still_queued), (1, 0))
        self.assertEqual(wang.photos_to_upload(), 0)

        chen = Api(self.relay, "chen")
        copies = {
            "phone": run(wang.photo(card, photo.sha256, False)).bytes,
            "phone thumbnail": run(wang.photo(card, photo.sha256, True)).bytes,
            "relay": chen.raw(f"/v1/records/{card}/photos/{photo.sha256}")[1],
            "relay thumbnail": chen.raw(f"/v1/records/{card}/photos/{photo.sha256}/thumb")[1],
        }
        self.assertEqual(copies["phone"], copies["relay"])
        for name, jpeg in copies.items():
            exif, gps, image = metadata(jpeg)
            self.assertEqual(exif, {}, f"{name} carries EXIF")
            self.assertEqual(gps, {}, f"{name} carries GPS")
            width, height = image.size
            self.assertLess(width, height, f"{name} is on its side")
            self.assertTrue(reddish(image.convert("RGB").getpixel((width // 2, height // 40))),
                            f"{name}: the red band is not on top")

    def test_the_card_syncs_first_and_its_photo_follows_on_every_phone(self):
        wang, zhao = self.phone("wang"), self.phone("zhao")
        card = self.card(wang)
        # A picture of its own: the class's other tests send the fixture.
        photo = run(wang.add_photo(card, textured(800, 600, seed=11)))
        run(wang.sync())  # the card goes, the photo stays behind
        run(zhao.sync())
        self.assertEqual([p.sha256 for p in zhao.wish(card).photos], [photo.sha256])

        seen = run(zhao.photo(card, photo.sha256, True))
        self.assertIsInstance(seen, d.PhotoFetch.PENDING)
        self.assertEqual(seen.from_device, "wang's phone (wang)")
        chen = Api(self.relay, "chen")
        detail = chen.call("GET", f"/v1/wishes/{card}")
        self.assertEqual(detail["photo_states"][0]["state"], "pending")
        # Still pending at zhao's next photo sync: kept, tried again.
        self.assertEqual(run(zhao.sync_photos()).still_pending, 1)
        self.assertEqual(run(zhao.sync_photos()).still_pending, 1)

        self.assertEqual(run(wang.sync_photos()).uploaded, 1)
        report = run(zhao.sync_photos())
        self.assertEqual((report.fetched, report.still_pending), (1, 0))
        # Now on zhao's phone itself: no relay needed.
        self.relay.stop()
        try:
            thumb = run(zhao.photo(card, photo.sha256, True))
            self.assertIsInstance(thumb, d.PhotoFetch.READY)
            self.assertEqual(Image.open(io.BytesIO(thumb.bytes)).size, (320, 240))
        finally:
            self.relay.start()
        self.assertEqual(chen.call("GET", f"/v1/wishes/{card}")["photo_states"][0]["state"],
                         "stored")

    def test_an_upload_cut_at_60_percent_resumes_and_sends_at_most_a_tenth_more(self):
        proxy = CuttingProxy(self.relay.port)
        try:
            store = d.FieldStore(self.path(), None)
            store.set_sync_options(d.SyncOptions(
                request_timeout_ms=20_000, connect_timeout_ms=5_000, max_retries=2,
                backoff_ms=50))
            run(store.login(proxy.url, "wang", "doorstep-test-pw", "wang's phone"))
            card = self.card(store)
            photo = run(store.add_photo(card, textured(4000, 3000)))
            self.assertGreater(photo.bytes, 100_000, "a photo worth resuming")
            run(store.sync())

            proxy.arm(cut_after=int(photo.bytes * 0.6))
            report = run(store.sync_photos())
            self.assertEqual(proxy.cuts, 1, "the upload was cut")
            self.assertEqual(report.uploaded, 1)
            self.assertLessEqual(proxy.sent, 1.1 * photo.bytes,
                                 f"{proxy.sent} bytes sent for a {photo.bytes}-byte photo")
            self.assertGreater(proxy.sent, photo.bytes, "the retry sent the rest")
            chen = Api(self.relay, "chen")
            status, held = chen.raw(f"/v1/records/{card}/photos/{photo.sha256}")
            self.assertEqual(status, 200)
            self.assertEqual(len(held), photo.bytes)
            self.assertEqual(held, run(store.photo(card, photo.sha256, False)).bytes)
        finally:
            proxy.close()

    def test_a_user_outside_the_cards_community_never_sees_its_photo(self):
        wang = self.phone("wang")
        card = self.card(wang)
        photo = run(wang.add_photo(card, camera_file()))
        run(wang.sync())
        run(wang.sync_photos())
        sun = Api(self.relay, "sun")
        for path in (f"/v1/records/{card}/photos/{photo.sha256}",
                     f"/v1/records/{card}/photos/{photo.sha256}/thumb"):
            status, _ = sun.raw(path)
            self.assertEqual(status, 404, path)

    def test_a_picture_that_is_no_photo_is_refused_with_a_clear_error(self):
        wang = self.phone("wang")
        card = self.card(wang)
        with self.assertRaises(d.DoorstepError.InvalidInput) as refused:
            run(wang.add_photo(card, b"GIF89a\x01\x00\x01\x00"))
        self.assertIn("photo", str(refused.exception))
        self.assertEqual(wang.wish(card).photos, [])


if __name__ == "__main__":
    unittest.main()
