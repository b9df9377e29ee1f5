// Drives mobile-ffi from Kotlin on the JVM through the generated bindings,
// against a real `doorstep` relay on a free loopback port. Run by
// scripts/test-ffi; arguments: the relay binary, a scratch dir, and the
// camera fixture (sync-core/tests/fixtures/rotated-gps.jpg).

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.SecureRandom
import java.util.UUID
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import uniffi.doorstep.*

const val XIKENG = "longgang/yuanshan/xikeng"
const val DONGKENG = "longgang/yuanshan/dongkeng"
const val PASSWORD = "doorstep-test-pw"

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

fun <T> expectEqual(expected: T, actual: T, what: String) =
    check(expected == actual) { "$what: expected $expected, got $actual" }

inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

/** A real relay, restartable on the same port. */
class Relay(private val binary: String, dir: File) {
    val db = File(dir, "relay.sqlite").path
    private val log = File(dir, "relay-kotlin.log")
    var port = 0
    private var process: Process? = null
    val url get() = "http://127.0.0.1:$port"

    fun cli(vararg args: String) {
        val p = ProcessBuilder(binary, *args).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor() == 0) { "doorstep ${args.joinToString(" ")} failed: $out" }
    }

    fun addUser(name: String, role: String, scope: String) =
        cli("user", "add", "--db", db, "--username", name, "--role", role, "--scope", scope, "--password", PASSWORD)

    fun revoke(deviceId: String) = cli("device", "revoke", "--db", db, deviceId)

    fun start() {
        val p = ProcessBuilder(binary, "serve", "--db", db, "--listen", "127.0.0.1:$port")
            .redirectError(ProcessBuilder.Redirect.appendTo(log))
            .start()
        process = p
        val lines = p.inputStream.bufferedReader()
        while (true) {
            val line = lines.readLine() ?: throw IllegalStateException("the relay exited before listening")
            val found = Regex("""listening on http://127\.0\.0\.1:(\d+)""").find(line)
            if (found != null) {
                port = found.groupValues[1].toInt()
                return
            }
        }
    }

    fun stop() {
        process?.let {
            it.destroy()
            it.waitFor()
        }
        process = null
    }
}

/** The relay's JSON API, as a supervisor's browser uses it. */
class Supervisor(private val relay: Relay, username: String) {
    private val http = HttpClient.newHttpClient()
    private val token: String

    init {
        val answer = post(
            "/v1/auth/login",
            """{"username":"$username","password":"$PASSWORD","device_id":"${UUID.randomUUID()}","device_name":"dashboard"}""",
            null,
        )
        token = Regex(""""access_token"\s*:\s*"([^"]+)"""").find(answer)!!.groupValues[1]
    }

    fun post(path: String, json: String, bearer: String? = token): String {
        val request = HttpRequest.newBuilder(URI.create(relay.url + path))
            .header("content-type", "application/json")
            .apply { if (bearer != null) header("authorization", "Bearer $bearer") }
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "POST $path: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    fun get(path: String): String {
        val request = HttpRequest.newBuilder(URI.create(relay.url + path))
            .header("authorization", "Bearer $token").GET().build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "GET $path: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    fun approve(wishId: String) = post("/v1/wishes/$wishId/review", """{"decision":"approve"}""")
}

class Recorder : ChangeListener {
    val changes = CopyOnWriteArrayList<RecordsChanged>()
    override fun recordsChanged(change: RecordsChanged) {
        changes.add(change)
    }
    fun ids(origin: ChangeOrigin) = changes.filter { it.origin == origin }.flatMap { it.recordIds }.toSet()
}

class Test(private val relay: Relay, private val dir: File) {
    private var phones = 0

    fun path() = File(dir, "kt-phone-${++phones}.db").path

    fun phone(user: String, path: String = path(), key: ByteArray? = null): FieldStore {
        val store = FieldStore(path, key)
        store.setSyncOptions(SyncOptions(requestTimeoutMs = 20_000uL, connectTimeoutMs = 5_000uL, maxRetries = 2u, backoffMs = 50uL))
        val account = runBlocking { store.login(relay.url, user, PASSWORD, "$user's phone") }
        expectEqual(user, account.username, "logged-in user")
        return store
    }

    fun household(store: FieldStore, address: String = "西坑村三巷5号", headName: String = "", community: String = XIKENG) =
        store.createHousehold(NewHousehold(community = community, address = address, headName = headName))

    fun wish(store: FieldStore, household: String, text: String) =
        store.createWish(NewWish(householdId = household, text = text, category = Category.MOBILITY_AID, urgency = Urgency.HIGH))

    fun sync(store: FieldStore) = runBlocking { store.sync() }

    fun exchange(first: FieldStore, second: FieldStore) {
        var message: ByteArray? = first.peerSyncStart()
        var to = second
        var rounds = 0
        while (message != null) {
            message = to.peerSyncReceive(message)
            to = if (to === second) first else second
            check(++rounds < 100) { "phone-to-phone sync does not end" }
        }
    }

    fun offlineRecordsReachTheCommunityAndNoOneElse() {
        val wang = phone("wang")
        val li = phone("li")
        val zhao = phone("zhao")
        val heard = Recorder()
        li.setChangeListener(heard)
        relay.stop()
        val home: String
        val visit: String
        val card: String
        try {
            home = household(wang, headName = "李秀英")
            visit = wang.recordVisit(NewVisit(householdId = home, notes = "独居老人", needs = "轮椅"))
            card = wish(wang, home, "给李大爷一台轮椅")
            expectEqual(Status.SUBMITTED, wang.submitWish(card), "status after submit")
            expectEqual(3uL, wang.pendingChanges(), "pending while offline")
            val offline = expectThrows<DoorstepException.Offline>("sync without a relay") { sync(wang) }
            check(offline.message!!.contains("Nothing was lost")) { "offline message: ${offline.message}" }
            expectEqual(3uL, wang.pendingChanges(), "pending after a failed sync")
        } finally {
            relay.start()
        }
        val report = sync(wang)
        expectEqual(3uL, report.accepted, "records accepted")
        expectEqual(0uL, wang.pendingChanges(), "pending after sync")

        sync(li)
        expectEqual(Status.SUBMITTED, li.wish(card).status, "second phone sees the card")
        expectEqual(listOf(visit), li.visits(home).map { it.id }, "second phone sees the visit")
        check(li.wishes(WishFilter(text = "轮椅")).any { it.id == card }) { "search finds the card" }
        check(card in heard.ids(ChangeOrigin.RELAY)) { "the listener heard of the card" }

        sync(zhao)
        expectThrows<DoorstepException.NotFound>("third phone, another community") { zhao.wish(card) }
        check(zhao.households(HouseholdFilter(community = XIKENG)).isEmpty()) { "third phone sees no household" }
        println("ok - offline records reach the community and no one else")
    }

    fun concurrentEditsOfDifferentFieldsBothSurvive() {
        val wang = phone("wang")
        val li = phone("li")
        val home = household(wang, address = "西坑村四巷2号", headName = "王桂兰")
        sync(wang)
        sync(li)
        wang.updateHousehold(home, HouseholdPatch(headName = "王桂兰（户主）"))
        li.updateHousehold(home, HouseholdPatch(phone = "13800000000"))
        sync(wang)
        sync(li)
        sync(wang)
        for (p in listOf(wang, li)) {
            val h = p.household(home)
            expectEqual("王桂兰（户主）" to "13800000000", h.headName to h.phone, "both edits")
        }
        println("ok - concurrent edits of different fields both survive")
    }

    fun approvalAndConcurrentClaims() {
        val wang = phone("wang")
        val li = phone("li")
        val card = wish(wang, household(wang), "修好三巷路灯")
        wang.submitWish(card)
        sync(wang)
        Supervisor(relay, "chen").approve(card)
        expectEqual(Status.SUBMITTED, wang.wish(card).status, "before sync")
        sync(wang)
        expectEqual(Status.APPROVED, wang.wish(card).status, "the phone sees the approval after sync")
        sync(li)
        expectEqual(Status.CLAIMED, wang.claimWish(card), "wang claims")
        expectEqual(Status.CLAIMED, li.claimWish(card), "li claims")
        sync(wang)
        sync(li)
        sync(wang)
        val mine = wang.wish(card)
        val theirs = li.wish(card)
        expectEqual(mine.claimant, theirs.claimant, "same claimant on both phones")
        check(mine.claimant in setOf("wang", "li")) { "claimant ${mine.claimant}" }
        expectEqual(1, mine.conflicts.size, "one conflict")
        expectEqual(mine.conflicts, theirs.conflicts, "same conflict on both phones")
        expectEqual(EventKind.CLAIM, mine.conflicts[0].eventKind, "the losing event")
        check(mine.conflicts[0].actor != mine.claimant) { "the loser is the other worker" }
        println("ok - a supervisor's approval and concurrent claims")
    }

    fun revokedDevice() {
        val wang = phone("wang")
        relay.revoke(wang.deviceId())
        expectThrows<DoorstepException.DeviceRevoked>("sync of a revoked phone") { sync(wang) }
        println("ok - a revoked device gets DeviceRevoked")
    }

    fun phoneToPhoneThenRelay() {
        val a = phone("wang")
        val b = phone("li")
        val homeA = household(a, address = "南街1号")
        val cardA = wish(a, homeA, "需要助听器")
        val homeB = household(b, address = "南街2号")
        exchange(a, b)
        expectEqual("需要助听器", b.wish(cardA).text, "b has a's card")
        expectEqual("南街2号", a.household(homeB).address, "a has b's household")
        a.updateHousehold(homeB, HouseholdPatch(notes = "a 补充"))
        exchange(b, a)
        for (p in listOf(a, b, a, b)) sync(p)
        for (p in listOf(a, b)) {
            expectEqual(0uL, p.pendingChanges(), "nothing pending")
            check(p.rejectedEdits().isEmpty()) { "nothing refused" }
        }
        expectEqual(a.household(homeB), b.household(homeB), "same household")
        expectEqual(a.wish(cardA), b.wish(cardA), "same card")
        val onRelay = Supervisor(relay, "chen").get("/v1/wishes?household=$homeA")
        check(Regex(""""total"\s*:\s*1\b""").containsMatchIn(onRelay)) { "one card on the relay: $onRelay" }
        println("ok - phone to phone, then the relay, without duplicates")
    }

    fun photoGoesUprightAndBareToTheOtherPhone(camera: File) {
        val wang = phone("wang")
        val li = phone("li")
        val card = wish(wang, household(wang), "楼道扶手断了")
        wang.submitWish(card)
        val photo = runBlocking { wang.addPhoto(card, camera.readBytes()) }
        expectEqual(300u to 400u, photo.width to photo.height, "turned upright")
        sync(wang)
        sync(li)
        val before = runBlocking { li.photo(card, photo.sha256, true) }
        check(before is PhotoFetch.Pending) { "pending on li's phone before the upload: $before" }
        expectEqual(1u, runBlocking { wang.syncPhotos() }.uploaded, "uploaded")
        expectEqual(1u, runBlocking { li.syncPhotos() }.fetched, "fetched once it arrived")
        for (thumbnail in listOf(true, false)) {
            val got = runBlocking { li.photo(card, photo.sha256, thumbnail) }
            check(got is PhotoFetch.Ready) { "li's copy (thumbnail: $thumbnail): $got" }
            val bytes = (got as PhotoFetch.Ready).bytes
            check(bytes[0] == 0xFF.toByte() && bytes[1] == 0xD8.toByte()) { "a JPEG" }
            val text = String(bytes, Charsets.ISO_8859_1)
            check(!text.contains("Exif\u0000\u0000")) { "EXIF left in li's copy (thumbnail: $thumbnail)" }
        }
        println("ok - a photo goes upright and without EXIF to the other phone")
    }

    fun encryptionAtRest() {
        check(encryptionAvailable()) { "this build has SQLCipher" }
        val name = "李秀英独居".repeat(4)
        val key = ByteArray(32).also { SecureRandom().nextBytes(it) }
        val path = path()
        phone("wang", path, key).use { household(it, headName = name) }
        val raw = listOf("", "-wal").map { File(path + it) }.filter { it.exists() }.flatMap { it.readBytes().toList() }.toByteArray()
        check(!String(raw, Charsets.ISO_8859_1).startsWith("SQLite format 3")) { "the file has a plain SQLite header" }
        val needle = name.toByteArray(Charsets.UTF_8)
        check((0..raw.size - needle.size).none { i -> needle.indices.all { raw[i + it] == needle[it] } }) { "the name is readable in the file" }
        expectThrows<DoorstepException.WrongKey>("the wrong key") { FieldStore(path, ByteArray(32)) }
        expectThrows<DoorstepException.WrongKey>("no key") { FieldStore(path, null) }
        FieldStore(path, key).use { store ->
            expectEqual(listOf(name), store.households(HouseholdFilter()).map { it.headName }, "the right key reads it")
        }
        println("ok - encryption at rest")
    }
}

fun main(args: Array<String>) {
    val dir = File(args[1]).also { it.mkdirs() }
    val relay = Relay(args[0], dir)
    relay.addUser("wang", "worker", XIKENG)
    relay.addUser("li", "worker", XIKENG)
    relay.addUser("zhao", "worker", DONGKENG)
    relay.addUser("chen", "supervisor", "longgang")
    relay.start()
    try {
        val t = Test(relay, dir)
        t.offlineRecordsReachTheCommunityAndNoOneElse()
        t.concurrentEditsOfDifferentFieldsBothSurvive()
        t.approvalAndConcurrentClaims()
        t.phoneToPhoneThenRelay()
        t.photoGoesUprightAndBareToTheOtherPhone(File(args[2]))
        t.encryptionAtRest()
        t.revokedDevice()
    } finally {
        relay.stop()
    }
    println("all Kotlin binding tests passed")
}
