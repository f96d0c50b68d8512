"""What every check of the conformance suite shares: the report (one line per check, secrets
masked), the simulator and exporter processes, and a reader for the Prometheus text format.

Nothing here talks to anything but 127.0.0.1: the simulator and the exporter listen on
loopback, and the SDK's metadata endpoint is pointed at the simulator before any client exists.
"""

import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

# The SDK and the exporter must reach 127.0.0.1 directly, whatever proxy the environment names.
for _name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# The SDK reads these; none may send it elsewhere than the simulator.
for _name in list(os.environ):
    if _name.startswith("HUAWEICLOUD_SDK_"):
        os.environ.pop(_name)

# The demo credentials the simulator accepts (SimCredentials::default()). Not secret, but masked
# like real ones so that the masking itself is exercised on every failure line.
ACCESS_KEY = "DEMOACCESSKEY"
SECRET_KEY = "demo-secret-key"
STATIC_TOKEN = "demo-token"
IAM_DOMAIN, IAM_USER, IAM_PASSWORD = "demo-domain", "demo", "demo-password"
REGION = "cn-north-4"


class Report:
    """One line per check: `ok   name` or `FAIL name: detail`; secrets never appear."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self._secrets = set()
        for value in (ACCESS_KEY, SECRET_KEY, STATIC_TOKEN, IAM_PASSWORD):
            self.secret(value)

    def secret(self, *values):
        for value in values:
            if isinstance(value, str) and len(value) >= 4:
                self._secrets.add(value)

    def mask(self, text):
        text = str(text)
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, "***")
        # Signatures are credentials too: never print one.
        return re.sub(r"Signature=[0-9a-f]+", "Signature=…", text)

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            line = f"FAIL {name}" + (f": {detail}" if detail else "")
            print(self.mask(line)[:2000], flush=True)
        return ok

    def section(self, title):
        print(f"\n== {title}", flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(method, url, headers=None, body=None, timeout=15):
    """(status, headers, body bytes) of one request to loopback; never raises on HTTP errors."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Simulator:
    """`codearts-sim` as a child process, listening on a free loopback port."""

    def __init__(self, bin_dir, *args):
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [os.path.join(bin_dir, "codearts-sim"), "--listen", "127.0.0.1:0", "--latency", "0ms", *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.endpoint = self._process.stdout.readline().strip()
        if not self.endpoint.startswith("http://"):
            raise RuntimeError(f"codearts-sim did not start: {self._stderr()}")
        self.host = self.endpoint[len("http://"):]

    def _stderr(self):
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def get_json(self, path, headers=None):
        status, _, body = http("GET", self.endpoint + path, headers)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        return json.loads(body)

    def recorded(self):
        return self.get_json("/-/requests")

    def forget_recorded(self):
        http("DELETE", self.endpoint + "/-/requests")

    def scenarios(self):
        return self.get_json("/-/scenarios")

    def stop(self):
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class ExporterFailed(Exception):
    """The exporter exited (typically: it refused its config); the message is its last words."""


class Exporter:
    """The exporter binary with a config, on a free loopback port; ready when `/healthz` is."""

    def __init__(self, bin_dir, config_yaml, workdir):
        self.port = free_port()
        config = os.path.join(workdir, f"exporter-{self.port}.yml")
        with open(config, "w") as f:
            f.write(config_yaml)
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [
                os.path.join(bin_dir, "codearts-repo-exporter"),
                "--config.file", config,
                "--web.listen-address", f"127.0.0.1:{self.port}",
                "--log.level", "warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ExporterFailed(self.output())
            try:
                status, _, _ = http("GET", f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ExporterFailed("not ready within 30 s: " + self.output())

    def output(self):
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-5:])

    def scrape(self):
        status, _, body = http(
            "GET",
            f"http://127.0.0.1:{self.port}/metrics",
            {"X-Prometheus-Scrape-Timeout-Seconds": "20"},
            timeout=30,
        )
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return parse_exposition(body.decode())

    def ready(self):
        status, _, body = http("GET", f"http://127.0.0.1:{self.port}/readyz")
        return status, body.decode(errors="replace")

    def stop(self):
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$")


def parse_exposition(text):
    """[(name, {label: value}, float)] of a Prometheus text-format body, escapes undone."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ValueError(f"not a sample line: {line!r}")
        name, labels, value = match.group(1), match.group(2), match.group(3)
        samples.append((name, _parse_labels(labels[1:-1] if labels else ""), float(value)))
    return samples


def _parse_labels(text):
    labels, i = {}, 0
    while i < len(text):
        equals = text.index("=", i)
        name = text[i:equals].strip().lstrip(",").strip()
        i = equals + 2  # past ="
        value = []
        while text[i] != '"':
            if text[i] == "\\":
                i += 1
                value.append({"n": "\n", "\\": "\\", '"': '"'}.get(text[i], "\\" + text[i]))
            else:
                value.append(text[i])
            i += 1
        labels[name] = "".join(value)
        i += 1
        while i < len(text) and text[i] in ", ":
            i += 1
    return labels


def series(samples, name, repository_id):
    """The samples of family `name` for one repository."""
    rid = str(repository_id)
    return [(labels, value) for n, labels, value in samples if n == name and labels.get("repository_id") == rid]
