"""A real `doorstep` relay for binding tests and benchmarks: started on a
free loopback port, stopped and started again on the same port (the phones
keep its URL), plus the supervisor's JSON API."""

import json
import os
import re
import signal
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid

PASSWORD = "doorstep-test-pw"


class Certificates:
    """A district's own certificate authority and the relay's certificate
    it issued (for 127.0.0.1), made with the openssl command as a district's
    IT person would."""

    def __init__(self, workdir):
        self.ca = os.path.join(workdir, "district-ca.crt")
        self.cert = os.path.join(workdir, "relay.crt")
        self.key = os.path.join(workdir, "relay.key")
        ca_key = os.path.join(workdir, "district-ca.key")
        request = os.path.join(workdir, "relay.csr")
        extensions = os.path.join(workdir, "relay.ext")
        with open(extensions, "w") as f:
            f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                    "basicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectKeyIdentifier = hash\n"
                    "authorityKeyIdentifier = keyid\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for command in (
            ["req", "-x509", *ec, "-keyout", ca_key, "-out", self.ca, "-days", "2",
             "-subj", "/CN=Doorstep test district CA"],
            ["req", *ec, "-keyout", self.key, "-out", request, "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", ca_key,
             "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", extensions],
        ):
            subprocess.run(["openssl", *command], check=True, capture_output=True)

    def ca_pem(self):
        with open(self.ca) as f:
            return f.read()


class Relay:
    def __init__(self, binary, workdir, tls=None):
        """`tls`: a Certificates to serve HTTPS with."""
        self.binary = binary
        self.tls = tls
        # What this side's HTTP calls trust: the district's authority.
        self.ssl = ssl.create_default_context(cafile=tls.ca) if tls else None
        self.db = os.path.join(workdir, "relay.sqlite")
        self.config = os.path.join(workdir, "doorstep.toml")
        with open(self.config, "w") as f:
            f.write("")
        self.log = open(os.path.join(workdir, "relay.log"), "ab")
        self.port = 0
        self.proc = None

    @property
    def url(self):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def cli(self, *args):
        subprocess.run([self.binary, *args], check=True, capture_output=True, stdin=subprocess.DEVNULL)

    def add_user(self, username, role, scope):
        self.cli("user", "add", "--db", self.db, "--username", username, "--role", role,
                 "--scope", scope, "--password", PASSWORD)

    def revoke(self, device_id):
        self.cli("device", "revoke", "--db", self.db, device_id)

    def lose(self, device_id):
        """`doorstep device lost`: the phone was stolen."""
        self.cli("device", "lost", "--db", self.db, device_id)

    def backup(self, path):
        """`doorstep backup`, while the relay serves."""
        self.cli("backup", "--db", self.db, path)

    def restore(self, path):
        """`doorstep restore` over the relay's database (stop it first)."""
        self.cli("restore", path, "--db", self.db, "--force")

    def start(self):
        """Starts the relay (on the port it had before, once it has one)."""
        tls = ["--tls-cert", self.tls.cert, "--tls-key", self.tls.key] if self.tls else []
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--db", self.db, "--listen", f"127.0.0.1:{self.port}",
             "--config", self.config, *tls],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, text=True)
        for line in self.proc.stdout:
            found = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                return
        raise RuntimeError(f"the relay exited with {self.proc.wait()} before listening")

    def limit_size(self, max_db_mb):
        """Sets (or, with None, lifts) the database's size limit in the
        settings file and tells the running relay (SIGHUP)."""
        with open(self.config, "w") as f:
            f.write("" if max_db_mb is None else f"max_db_mb = {max_db_mb}\n")
        self.proc.send_signal(signal.SIGHUP)

    def health(self):
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=10, context=self.ssl) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
            self.proc.stdout.close()
            self.proc = None


class Api:
    """The relay's JSON API, as a supervisor's browser uses it."""

    def __init__(self, relay, username):
        self.relay = relay
        answer = self.call("POST", "/v1/auth/login", {
            "username": username, "password": PASSWORD,
            "device_id": str(uuid.uuid4()), "device_name": "dashboard"})
        self.token = answer["access_token"]

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            self.relay.url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"content-type": "application/json"})
        if getattr(self, "token", None):
            request.add_header("authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30, context=self.relay.ssl) as response:
            return json.load(response)

    def raw(self, path):
        """`GET path` → (status, body bytes), errors included."""
        request = urllib.request.Request(self.relay.url + path)
        request.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.relay.ssl) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def review(self, wish_id, decision, reason=None):
        body = {"decision": decision}
        if reason:
            body["reason"] = reason
        return self.call("POST", f"/v1/wishes/{wish_id}/review", body)

    def wishes(self, query=""):
        return self.call("GET", f"/v1/wishes?{query}")

    def assign(self, wish_id, claimant):
        return self.call("POST", f"/v1/wishes/{wish_id}/assign", {"claimant": claimant})
