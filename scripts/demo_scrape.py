#!/usr/bin/env python3
"""Runs the exporter's `--demo` and scrapes /metrics until every demo repository shows up.

The image checks (image.sh) end here, for the amd64 image run by buildah and the arm64 image's
binary under qemu-aarch64, and so does the release check (check-release.sh):
a binary that starts, serves /metrics, and shows `codearts_repo_statistics_up` for each of the
simulator's repositories — not a subset, not a timeout.

    scripts/demo_scrape.py --expect-repositories sim [--same-as FILE] [--write-list FILE] \
        -- qemu-aarch64 -L ROOTFS ROOTFS/usr/local/bin/codearts-repo-exporter

The command gets `--demo --web.listen-address=127.0.0.1:PORT` appended. `--expect-repositories
sim` counts, from the answers of this checkout's simulator, the repositories `--demo` watches (its
six configured ones and what discovery lists); a number is taken as given. `--same-as` compares the repository list
with one written earlier by `--write-list` (the amd64 binary's, say).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
UP_METRIC = "codearts_repo_statistics_up"
BUILD_INFO_METRIC = "codearts_repo_exporter_build_info"
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


class ScrapeError(Exception):
    """The demo did not show what it must; the message says what was seen."""


@dataclass
class DemoResult:
    repositories: dict[str, str]  # repository_id -> repository name
    up: int
    down: int
    build_info: dict[str, str]
    seconds: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def samples(body: str, name: str) -> list[tuple[dict[str, str], str]]:
    """(labels, value) of every sample of one metric in a text exposition."""
    found = []
    for line in body.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            labels = {m["key"]: m["value"] for m in LABEL.finditer(match["labels"] or "")}
            found.append((labels, match["value"]))
    return found


DEMO_STATIC_REPOSITORIES = 6  # src/demo.rs: the catalogue's first six are listed in its config


def simulator_repository_count() -> int:
    """How many repositories `--demo` watches, from the simulator's own answers: the first six
    of its catalogue (in creation order) are in the demo's config, and discovery adds every
    listed repository outside a deleted project. The list is paged as the exporter pages it
    (`order_by=created_at&sort=asc`, 100 a page, until an empty page; the API sends no total),
    archived and unarchived, to see the catalogue whole. Builds the simulator if needed."""
    subprocess.run(["cargo", "build", "--quiet", "--locked", "--bin", "codearts-sim"],
                   cwd=REPO_ROOT, check=True)
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    simulator = subprocess.Popen(
        [str(target_dir / "debug" / "codearts-sim"), "--answers", "varied", "--inject-failures"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        endpoint = (simulator.stdout.readline() if simulator.stdout else "").strip()
        unarchived = list_repositories(endpoint, archived=False)
        archived = list_repositories(endpoint, archived=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ScrapeError(f"cannot list the simulator's repositories: {err}") from err
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    # The simulator numbers its catalogue in creation order (the list entries carry no date).
    catalogue = sorted(unarchived + archived, key=lambda entry: int(entry["id"]))
    watched = {entry["id"] for entry in catalogue[:DEMO_STATIC_REPOSITORIES]}
    watched |= {entry["id"] for entry in unarchived if not entry.get("project_is_delete")}
    if len(watched) <= DEMO_STATIC_REPOSITORIES:
        raise ScrapeError(f"the simulator lists too few repositories: {len(catalogue)}")
    return len(watched)


def list_repositories(endpoint: str, archived: bool) -> list[dict[str, Any]]:
    """Every entry of `GET /v4/user/repositories`, page by page until an empty page."""
    entries: list[dict[str, Any]] = []
    while True:
        query = f"order_by=created_at&sort=asc&limit=100&offset={len(entries)}"
        if archived:
            query += "&archived=true"
        request = urllib.request.Request(f"{endpoint}/v4/user/repositories?{query}",
                                         headers={"X-Auth-Token": "demo-token"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            page = json.load(answer)
        if not page:
            return entries
        entries.extend(page)


def children_of(pid: int) -> list[str]:
    """The child processes of `pid`, whichever of its threads started them: a Go program such
    as buildah forks from any thread, and /proc lists a child under the thread that forked it."""
    found: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(task.read_text().split())
        except OSError:
            continue
    return found


def innermost_process(pid: int) -> int:
    """The last of a chain of only children that starts at `pid`: the exporter itself when the
    command runs it through a wrapper (`buildah run` starts it under buildah-chroot-exec and
    answers SIGTERM with SIGKILL; the exporter must get the SIGTERM to show its clean stop)."""
    while True:
        children = children_of(pid)
        if len(children) != 1:
            return pid
        pid = int(children[0])


def run_demo(command: Sequence[str], expected: int, timeout: float = 60.0,
             **popen: Any) -> DemoResult:
    """Starts `command --demo` on a free loopback port, scrapes until `expected` repositories
    show, then stops it with SIGTERM and requires a clean exit. `popen` goes to subprocess.Popen
    (environment, working directory, a preexec_fn dropping privileges)."""
    port = free_port()
    argv = [*command, "--demo", f"--web.listen-address=127.0.0.1:{port}"]
    started = time.monotonic()
    # A file, not a pipe: nobody reads the log while scraping, and a full pipe would stall it.
    log_file = tempfile.TemporaryFile()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                               stderr=subprocess.STDOUT, **popen)
    body = ""
    repositories: dict[str, str] = {}
    try:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                    body = answer.read().decode()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
                continue
            repositories = {labels.get("repository_id", "?"): labels.get("repository", "?")
                            for labels, _ in samples(body, UP_METRIC)}
            if len(repositories) >= expected:
                break
            time.sleep(0.5)
    finally:
        seconds = time.monotonic() - started
        if process.poll() is None:
            os.kill(innermost_process(process.pid), signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.seek(0)
        log = log_file.read().decode(errors="replace").strip()
        log_file.close()
    if process.returncode != 0:
        raise ScrapeError(f"`{' '.join(argv)}` exited with {process.returncode} "
                          f"(a clean SIGTERM stop exits 0); its output:\n{log}")
    if len(repositories) != expected:
        raise ScrapeError(f"/metrics showed {UP_METRIC} for {len(repositories)} repositories in "
                          f"{seconds:.0f} s, the demo has {expected}; the exporter's output:\n{log}")
    up = sum(1 for _, value in samples(body, UP_METRIC) if value == "1")
    info = samples(body, BUILD_INFO_METRIC)
    return DemoResult(repositories, up, len(repositories) - up, info[0][0] if info else {}, seconds)


def listing(repositories: dict[str, str]) -> str:
    return "".join(f"{rid} {name}\n" for rid, name in sorted(repositories.items()))


def describe(result: DemoResult) -> str:
    info = ", ".join(f'{k}="{v}"' for k, v in sorted(result.build_info.items()))
    return (f"{len(result.repositories)} repositories in /metrics after {result.seconds:.1f} s "
            f"({result.up} up, {result.down} failing as the simulator injects); "
            f"{BUILD_INFO_METRIC}{{{info}}}")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expect-repositories", default="sim",
                        help="a number, or `sim` to ask the simulator (default)")
    parser.add_argument("--same-as", type=Path, help="a list written by --write-list to compare with")
    parser.add_argument("--write-list", type=Path, help="write the repositories seen, one a line")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    parser.add_argument("--expect-version", help=f"the version label {BUILD_INFO_METRIC} must show")
    parser.add_argument("--expect-revision", help=f"the revision label {BUILD_INFO_METRIC} must show")
    parser.add_argument("command", nargs="+", help="the exporter command, without --demo")
    args = parser.parse_args(argv)
    if args.same_as and not args.same_as.exists():
        parser.error(f"--same-as {args.same_as}: no such file")

    expected = (simulator_repository_count() if args.expect_repositories == "sim"
                else int(args.expect_repositories))
    try:
        result = run_demo(args.command, expected, args.timeout)
    except ScrapeError as err:
        print(f"demo scrape: FAILED: {err}", file=sys.stderr)
        return 1
    print(f"demo scrape: {describe(result)}")
    for label, wanted in (("version", args.expect_version), ("revision", args.expect_revision)):
        if wanted and result.build_info.get(label) != wanted:
            print(f"demo scrape: FAILED: {BUILD_INFO_METRIC} shows {label} "
                  f"{result.build_info.get(label)!r}, not {wanted!r}", file=sys.stderr)
            return 1
    seen = listing(result.repositories)
    if args.write_list:
        args.write_list.parent.mkdir(parents=True, exist_ok=True)
        args.write_list.write_text(seen)
    if args.same_as:
        reference = args.same_as.read_text()
        if reference != seen:
            print(f"demo scrape: FAILED: the repositories differ from {args.same_as}:\n"
                  f"--- {args.same_as}\n{reference}--- this run\n{seen}", file=sys.stderr)
            return 1
        print(f"demo scrape: the same {len(result.repositories)} repositories as {args.same_as}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
