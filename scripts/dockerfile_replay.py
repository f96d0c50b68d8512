#!/usr/bin/env python3
"""Replays the Dockerfile without a container engine, and runs what the image would run.

    scripts/dockerfile_replay.py [--platform linux/amd64|linux/arm64] [--build-arg NAME=VALUE]...
                                 [--target-dir DIR] [--expect-repositories N|sim]
                                 [--write-list FILE] [--same-as FILE] [CONTEXT]

There is no Docker engine on the machines that build this project, so hadolint and the tests
that read the Dockerfile are all that would ever look at it; none of them runs its steps. This
script does, as an engine would:

1. The build context is assembled from CONTEXT (default: this checkout) exactly as
   `.dockerignore` allows, with Docker's matching rules: `*`, `?`, `[...]` and `**` patterns,
   `!` re-includes, the last matching line wins, and a match on a directory covers what is in
   it.
2. Every stage the last stage needs is replayed in order: ARG (the build args and buildx's
   TARGETPLATFORM/TARGETARCH/BUILDPLATFORM... for the chosen platform), ENV, WORKDIR, COPY (from
   the context or an earlier stage) and RUN, each RUN through the stage's shell (`/bin/sh -c`)
   in its WORKDIR with the stage's ARG and ENV values and nothing else from the caller's
   environment. A stage runs chrooted in a copy-on-write overlay of this machine's root
   filesystem, which stands in for its Debian 12 base image (rust:*-bookworm): what a RUN
   installs or writes outside the shared target directory is gone when the replay ends.
   A builder stage must run on the build machine's platform (`--platform=$BUILDPLATFORM`), as a
   cross-compiling image build does.
3. The last stage (distroless) is stood in by a read-only root holding only the files it
   COPYs and the C libraries its base image ships. The binary's ELF program headers must ask
   for nothing else. Its ENTRYPOINT then runs `--version` and a `--demo` scrape as the stage's
   USER (never root), in an empty environment, with no shell or other program beside it; a
   foreign-architecture binary runs under qemu-user with that root as its library prefix.

`--target-dir DIR` shares a cargo target directory with the replay, to stay within CI's time:
DIR is bind-mounted at `<WORKDIR>/target` of the stage the last stage copies from, before its
first RUN, as a BuildKit cache mount would be. The Dockerfile's steps and environment are
unchanged (no CARGO_TARGET_DIR is added), the stub and real builds still run, and the sources are
still compiled from the replayed context: cargo rebuilds the workspace's crates, whose files the
Dockerfile touches, and reuses compiled crates.io dependencies only where their fingerprint
(version, features, profile, target, flags) matches. What sharing does not prove is that those
dependencies would compile from nothing; without `--target-dir` the replay starts empty, like an
engine without cache.

Any failure exits non-zero and names the step and the path: a COPY source missing from the
context (and whether .dockerignore excluded it), a RUN's exit code with its output above it, a
library the runtime image lacks. Needs root (mount namespaces, overlayfs, chroot) and Linux.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import posixpath
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_scrape  # noqa: E402  (a sibling script)

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_NAMESPACE = "DOCKERFILE_REPLAY_IN_NAMESPACE"


class ReplayError(Exception):
    """A step of the build failed; the message names the step and the path."""


def say(message: str) -> None:
    print(f"replay: {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# .dockerignore


@dataclass
class IgnorePattern:
    """One .dockerignore line, cleaned as Docker cleans it and compiled as it compiles it."""

    text: str
    exception: bool
    regex: re.Pattern[str]


def _go_clean(path: str) -> str:
    """Go's filepath.Clean for slash-separated paths."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    """Docker's patternmatcher: `*` and `?` stop at `/`; `**` spans directories (`**/` too);
    `[...]` is a class; `\\` escapes the next character."""
    out = ["^"]
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if in_class and ch not in "]\\":
            out.append(ch)  # ranges and ^ keep their meaning inside a class
        elif ch == "*":
            if pattern[i + 1:i + 2] == "*":
                i += 1
                if pattern[i + 1:i + 2] == "/":
                    i += 1
                out.append(".*" if i + 1 >= len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i + 1 < len(pattern):
                i += 1
                out.append(re.escape(pattern[i]))
            else:
                out.append(re.escape("\\"))
        elif ch in "[]":
            in_class = ch == "["
            out.append(ch)
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    try:
        return re.compile("".join(out))
    except re.error as err:
        raise ReplayError(f".dockerignore: bad pattern {pattern!r}: {err}") from err


def parse_dockerignore(text: str) -> list[IgnorePattern]:
    """The patterns of a .dockerignore file, in order. Comments (`#` first) and blank lines are
    skipped; a leading `/` is dropped (patterns are relative to the context anyway)."""
    patterns = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff") if number == 1 else raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
            if not line:
                raise ReplayError(f".dockerignore:{number}: `!` alone is not a pattern")
        line = _go_clean(line)
        if len(line) > 1 and line.startswith("/"):
            line = line[1:]
        patterns.append(IgnorePattern(line, exception, _compile_pattern(line)))
    return patterns


def is_excluded(patterns: Sequence[IgnorePattern], relative: str) -> bool:
    """Whether the context leaves out `relative` (slash-separated, relative to the context):
    each pattern that matches the path or one of its parent directories decides, the last one
    wins."""
    relative = _go_clean(relative)
    parts = relative.split("/")
    parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
    excluded = False
    for pattern in patterns:
        # An exclusion only matters if not excluded yet, a re-include only if excluded.
        if pattern.exception != excluded:
            continue
        if pattern.regex.match(relative) or any(pattern.regex.match(p) for p in parents):
            excluded = not pattern.exception
    return excluded


def _may_reinclude_below(patterns: Sequence[IgnorePattern], directory: str) -> bool:
    """Whether some `!` pattern could re-include a path inside an excluded directory."""
    for pattern in patterns:
        if not pattern.exception:
            continue
        if any(c in pattern.text for c in "*?[\\") or pattern.text.startswith(directory + "/"):
            return True
    return False


def assemble_context(source: Path, destination: Path) -> list[str]:
    """Copies what the context holds from `source` to `destination`; returns the files kept."""
    ignore_file = source / ".dockerignore"
    patterns = parse_dockerignore(ignore_file.read_text()) if ignore_file.exists() else []
    kept = []
    for top, dirs, files in os.walk(source):
        rel_top = os.path.relpath(top, source)
        rel_top = "" if rel_top == "." else rel_top
        for name in list(dirs):
            rel = posixpath.join(rel_top, name)
            if is_excluded(patterns, rel) and not _may_reinclude_below(patterns, rel):
                dirs.remove(name)
            elif os.path.islink(os.path.join(top, name)):
                dirs.remove(name)
                files.append(name)
            elif not is_excluded(patterns, rel):
                (destination / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            rel = posixpath.join(rel_top, name)
            if is_excluded(patterns, rel):
                continue
            target = destination / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(top, name), target, follow_symlinks=False)
            kept.append(rel)
    return sorted(kept)


def why_missing(source: Path, relative: str) -> str:
    """Why a path is not in the assembled context."""
    ignore_file = source / ".dockerignore"
    patterns = parse_dockerignore(ignore_file.read_text()) if ignore_file.exists() else []
    if (source / relative).exists() or (source / relative).is_symlink():
        if is_excluded(patterns, relative):
            return f".dockerignore excludes it; add `!{relative}` there"
        return "it is in the source directory but was not copied"
    return f"there is no {relative} in {source}"


# ---------------------------------------------------------------------------------------------
# Dockerfile


@dataclass
class Instruction:
    line: int
    keyword: str
    flags: dict[str, str]
    args: str  # what follows the keyword and its --flags, continuation lines joined

    def json_form(self) -> list[str] | None:
        if not self.args.startswith("["):
            return None
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    def show(self) -> str:
        flags = "".join(f"--{k}={v} " for k, v in self.flags.items())
        text = f"{self.keyword} {flags}{self.args}"
        text = re.sub(r"\s+", " ", text)
        return text if len(text) <= 110 else text[:107] + "..."


FLAGGED = {"FROM", "COPY", "ADD", "RUN"}


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined, comments and blank lines dropped; the
    `escape` parser directive is honoured."""
    lines = text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives: `# name=value` lines before anything else
        match = re.match(r"^\s*#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$", line)
        if not match:
            break
        if match[1].lower() == "escape":
            escape = match[2]
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and pending):
            continue
        if not stripped:
            continue
        if not pending:
            start = number
        if stripped.endswith(escape) and not stripped.endswith(escape * 2):
            pending.append(line.rstrip()[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        keyword, _, rest = joined.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        flags: dict[str, str] = {}
        if keyword in FLAGGED:
            while rest.startswith("--"):
                word, _, rest = rest.partition(" ")
                name, _, value = word[2:].partition("=")
                flags[name] = value
                rest = rest.strip()
        if keyword in ("RUN", "COPY", "ADD") and re.search(r"<<-?['\"]?[A-Za-z_]", rest):
            raise ReplayError(f"Dockerfile:{start}: heredocs are not supported by the replay")
        instructions.append(Instruction(start, keyword, flags, rest))
    if pending:
        raise ReplayError("Dockerfile: the last line continues into nothing")
    return instructions


def expand(text: str, variables: dict[str, str]) -> str:
    """Docker's variable substitution in a word: $NAME, ${NAME}, ${NAME:-default},
    ${NAME:+alternative}; `\\$` is a literal dollar sign."""
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["plain"]
        value = variables.get(name)
        if match["op"] == ":-":
            return value if value else expand(match["word"], variables)
        if match["op"] == ":+":
            return expand(match["word"], variables) if value else ""
        if match["op"]:
            raise ReplayError(f"${{{name}{match['op']}...}}: only :- and :+ are supported")
        return value or ""
    pattern = (r"(?P<escaped>\\\$)|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+?]|#|%)"
               r"(?P<word>[^}]*))?\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)")
    return re.sub(pattern, replace, text)


def shell_words(text: str, variables: dict[str, str]) -> list[str]:
    """Splits an instruction's arguments into words as Docker does: whitespace separates,
    quotes group (single quotes without substitution), a backslash escapes."""
    words: list[str] = []
    current = ""
    in_word = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            if in_word:
                words.append(current)
                current, in_word = "", False
            i += 1
            continue
        in_word = True
        if ch == "'":
            end = text.index("'", i + 1)
            current += text[i + 1:end]
            i = end + 1
        elif ch == '"':
            j, chunk = i + 1, ""
            while text[j] != '"':
                if text[j] == "\\" and text[j + 1] in '"\\$':
                    chunk += "\\$" if text[j + 1] == "$" else text[j + 1]
                    j += 2
                else:
                    chunk += text[j]
                    j += 1
            current += expand(chunk, variables)
            i = j + 1
        elif ch == "\\" and i + 1 < len(text):
            current += text[i + 1]
            i += 2
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in "'\"\\":
                j += 1
            current += expand(text[i:j], variables)
            i = j
    if in_word:
        words.append(current)
    return words


@dataclass
class Stage:
    index: int
    name: str
    base: str  # unexpanded
    flags: dict[str, str]
    instructions: list[Instruction] = field(default_factory=list)


def split_stages(instructions: list[Instruction]) -> tuple[list[Instruction], list[Stage]]:
    """The global ARGs before the first FROM, and the stages."""
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            named = len(words) == 3 and words[1].lower() == "as"
            name = words[2] if named else f"stage-{len(stages)}"
            stages.append(Stage(len(stages), name, words[0], instruction.flags))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ReplayError(f"Dockerfile:{instruction.line}: only ARG may come before FROM")
            global_args.append(instruction)
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise ReplayError("Dockerfile: no FROM")
    return global_args, stages


def needed_stages(stages: list[Stage], last: Stage) -> list[Stage]:
    """The stages `last` copies from (transitively), in file order, `last` included."""
    by_name = {str(s.index): s for s in stages} | {s.name: s for s in stages}
    needed: set[int] = set()

    def visit(stage: Stage) -> None:
        if stage.index in needed:
            return
        needed.add(stage.index)
        if stage.base in by_name:
            visit(by_name[stage.base])
        for instruction in stage.instructions:
            source = instruction.flags.get("from")
            if instruction.keyword in ("COPY", "ADD") and source is not None:
                if source not in by_name:
                    raise ReplayError(f"Dockerfile:{instruction.line}: COPY --from={source} names "
                                      "no stage (copying from an image is not replayed)")
                visit(by_name[source])

    visit(last)
    return [s for s in stages if s.index in needed]


# ---------------------------------------------------------------------------------------------
# Platforms and base images

ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}


def host_platform() -> str:
    machine = platform.machine()
    if machine not in ARCHES:
        raise ReplayError(f"this machine's architecture {machine} is not one the replay knows")
    return f"linux/{ARCHES[machine]}"


def platform_args(target: str, build: str) -> dict[str, str]:
    """The ARGs buildx predefines for a target and a build platform."""
    values = {}
    for prefix, value in (("TARGET", target), ("BUILD", build)):
        os_name, arch, *variant = value.split("/")
        values |= {f"{prefix}PLATFORM": value, f"{prefix}OS": os_name,
                   f"{prefix}ARCH": arch, f"{prefix}VARIANT": variant[0] if variant else ""}
    return values


def host_description() -> str:
    """This machine as a base image: its Debian release and its rustc."""
    release = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        release[key] = value.strip('"')
    if release.get("ID") != "debian" or release.get("VERSION_ID") != "12":
        raise ReplayError("the replay stands this machine in for a Debian 12 (bookworm) base "
                          f"image, but it runs {release.get('PRETTY_NAME', 'an unknown system')}")
    debian = Path("/etc/debian_version").read_text().strip()
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True,
                               check=True).stdout.split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        rustc = "none"
    return f"Debian {debian}, rustc {rustc}"


def host_stands_in_for(image: str) -> bool:
    return bool(re.fullmatch(r"(docker\.io/(library/)?)?(rust:[^@]*bookworm|debian:(12|bookworm)[^@]*)"
                             r"(@sha256:[0-9a-f]+)?", image))


# What gcr.io/distroless/<variant>-debian12 carries besides its files in /etc: glibc for base and
# cc, and cc adds the GCC runtime libraries.
GLIBC = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
         "libresolv.so.2", "libutil.so.1", "libnss_dns.so.2", "libnss_files.so.2",
         "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
DISTROLESS_LIBRARIES = {"static": set(), "base": GLIBC, "base-nossl": GLIBC,
                        "cc": GLIBC | {"libgcc_s.so.1", "libstdc++.so.6", "libgomp.so.1"}}


def distroless_variant(image: str) -> tuple[str, bool] | None:
    """(variant, whether it is a :nonroot tag) of a distroless Debian 12 image, or None."""
    match = re.fullmatch(r"gcr\.io/distroless/([a-z-]+)-debian12(?::([\w.-]+))?(@sha256:[0-9a-f]+)?",
                         image)
    if not match or match[1] not in DISTROLESS_LIBRARIES:
        return None
    return match[1], "nonroot" in (match[2] or "")


# ---------------------------------------------------------------------------------------------
# ELF: what a binary needs from the runtime image

EM_NAMES = {62: "x86-64", 183: "aarch64"}
EM_ARCH = {62: "amd64", 183: "arm64"}
MULTIARCH = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}


@dataclass
class Elf:
    machine: int
    interpreter: str | None
    needed: list[str]


def read_elf(path: Path) -> Elf:
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ReplayError(f"{path}: not a 64-bit little-endian ELF file")
    machine, = struct.unpack_from("<H", data, 18)
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    headers = [struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize) for i in range(phnum)]
    loads = [(h[3], h[5], h[2]) for h in headers if h[0] == 1]  # (vaddr, filesz, offset)

    def offset(address: int) -> int:
        for vaddr, size, file_offset in loads:
            if vaddr <= address < vaddr + size:
                return address - vaddr + file_offset
        raise ReplayError(f"{path}: address {address:#x} is in no loaded segment")

    def string(at: int) -> str:
        return data[at:data.index(b"\0", at)].decode()

    interpreter = None
    needed_offsets: list[int] = []
    strtab = None
    for p_type, _, p_offset, _, _, p_filesz, _, _ in headers:
        if p_type == 3:
            interpreter = string(p_offset)
        elif p_type == 2:
            for at in range(p_offset, p_offset + p_filesz, 16):
                tag, value = struct.unpack_from("<qQ", data, at)
                if tag == 0:
                    break
                if tag == 1:
                    needed_offsets.append(value)
                elif tag == 5:
                    strtab = offset(value)
    if needed_offsets and strtab is None:
        raise ReplayError(f"{path}: DT_NEEDED without a string table")
    return Elf(machine, interpreter, [string(strtab + n) for n in needed_offsets] if strtab else [])


def library_dirs(arch: str) -> list[Path]:
    """Where this machine keeps the Debian 12 libraries of an architecture (the cross ones for
    a foreign architecture: libc6-<arch>-cross)."""
    multiarch = MULTIARCH[arch]
    if host_platform() == f"linux/{arch}":
        return [Path("/lib") / multiarch, Path("/usr/lib") / multiarch]
    return [Path("/usr") / multiarch / "lib"]


# ---------------------------------------------------------------------------------------------
# Replaying the stages


def run(argv: Sequence[str]) -> None:
    subprocess.run(argv, check=True)


def mount(*args: str) -> None:
    run(["mount", *args])


@dataclass
class StageState:
    stage: Stage
    root: Path
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])
    user: str = ""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)  # paths COPY wrote, for the runtime stage

    def variables(self) -> dict[str, str]:
        return self.args | self.env


class Replay:
    def __init__(self, options: argparse.Namespace, scratch: Path) -> None:
        self.options = options
        self.source = options.context.resolve()
        self.scratch = scratch
        self.context = scratch / "context"
        self.target_platform = options.platform
        self.build_platform = host_platform()
        self.build_args = dict(arg.split("=", 1) for arg in options.build_arg)
        self.states: dict[str, StageState] = {}
        self.base_env = {k: v for k, v in os.environ.items()
                         if k in ("PATH", "CARGO_HOME", "RUSTUP_HOME")} | {"HOME": "/root"}

    # -- the whole build

    def run(self) -> None:
        dockerfile = self.source / self.options.file
        say(f"{dockerfile.relative_to(self.source)} for {self.target_platform} "
            f"(build platform {self.build_platform}), context {self.source}")
        global_args, stages = split_stages(parse_dockerfile(dockerfile.read_text()))
        self.context.mkdir()
        kept = assemble_context(self.source, self.context)
        say(f"context: {len(kept)} files, as .dockerignore allows: {summarize(kept)}")

        predefined = platform_args(self.target_platform, self.build_platform)
        self.global_args = dict(predefined)
        for instruction in global_args:
            name, value = self.arg_value(instruction, self.global_args)
            if value is not None:
                self.global_args[name] = value

        declared = {i.args.partition("=")[0].strip() for i in global_args} | {
            i.args.partition("=")[0].strip()
            for stage in stages for i in stage.instructions if i.keyword == "ARG"}
        unused = sorted(set(self.build_args) - declared)
        if unused:
            say(f"warning: build args {unused} are declared by no ARG and change nothing")

        last = stages[-1]
        order = needed_stages(stages, last)
        skipped = [s.name for s in stages if s not in order]
        if skipped:
            say(f"stages the last one does not need, skipped as BuildKit skips them: {skipped}")
        sources = {i.flags["from"] for i in last.instructions if "from" in i.flags}
        for stage in order:
            if stage is last:
                self.check_runtime(stage)
            else:
                self.build_stage(stage, share_target=bool({stage.name, str(stage.index)} & sources))

    def arg_value(self, instruction: Instruction, scope: dict[str, str]) -> tuple[str, str | None]:
        name, has_default, default = instruction.args.partition("=")
        name = name.strip()
        if name in self.build_args:
            return name, self.build_args[name]
        if has_default:
            words = shell_words(default, scope)
            return name, words[0] if words else ""
        return name, self.global_args.get(name)

    # -- a stage that runs commands

    def build_stage(self, stage: Stage, share_target: bool) -> None:
        base = expand(stage.base, self.global_args)
        wanted = expand(stage.flags.get("platform", self.target_platform), self.global_args)
        steps = len(stage.instructions) + 1
        label = f"[{stage.name} 1/{steps}] FROM {self.show_platform(stage)}{base}"
        if base in self.states:
            raise ReplayError(f"{label}: a stage built on another stage is not replayed")
        if not host_stands_in_for(base):
            raise ReplayError(f"{label}: the replay stands in only for Debian 12 images "
                              "(rust:*-bookworm, debian:bookworm), not this one")
        if wanted != self.build_platform:
            raise ReplayError(
                f"{label}: this stage would run on {wanted}, but the build machine is "
                f"{self.build_platform}. Emulating it would be slow; cross-compile instead: "
                "FROM --platform=$BUILDPLATFORM, and let TARGETARCH choose the Rust target")
        say(f"{label}: stood in by this machine's root filesystem ({host_description()}), "
            "copy-on-write")

        layer = self.scratch / "stages" / stage.name
        root = layer / "root"
        for part in ("upper", "work", "root"):
            (layer / part).mkdir(parents=True)
        mount("-t", "overlay", "overlay", "-o",
              f"lowerdir=/,upperdir={layer / 'upper'},workdir={layer / 'work'}", str(root))
        for system in ("proc", "sys", "dev"):
            mount("--rbind", f"/{system}", str(root / system))
        # The image's /tmp is empty; this machine's is not.
        mount("-t", "tmpfs", "tmpfs", str(root / "tmp"))
        state = StageState(stage, root, env=dict(self.base_env))
        self.states[stage.name] = self.states[str(stage.index)] = state

        shared = False
        for number, instruction in enumerate(stage.instructions, start=2):
            step = f"[{stage.name} {number}/{steps}] {instruction.show()}"
            if instruction.keyword == "RUN" and share_target and not shared:
                self.share_target_dir(state)
                shared = True
            say(step)
            started = time.monotonic()
            try:
                self.apply(state, instruction)
            except ReplayError as err:
                raise ReplayError(f"{step}\n  failed: {err}") from None
            if instruction.keyword == "RUN":
                say(f"[{stage.name} {number}/{steps}] done in {time.monotonic() - started:.1f} s")

    def show_platform(self, stage: Stage) -> str:
        value = stage.flags.get("platform")
        return f"--platform={value} " if value else ""

    def share_target_dir(self, state: StageState) -> None:
        if not self.options.target_dir:
            return
        host_dir = self.options.target_dir.resolve()
        host_dir.mkdir(parents=True, exist_ok=True)
        inside = state.root / state.workdir.lstrip("/") / "target"
        inside.mkdir(parents=True, exist_ok=True)
        mount("--bind", str(host_dir), str(inside))
        say(f"[{state.stage.name}] {posixpath.join(state.workdir, 'target')} is {host_dir}, "
            "shared with the caller's builds (--target-dir)")

    def apply(self, state: StageState, instruction: Instruction) -> None:
        keyword = instruction.keyword
        variables = state.variables()
        if keyword == "ARG":
            name, value = self.arg_value(instruction, variables)
            state.args.pop(name, None)
            if value is not None:
                state.args[name] = value
        elif keyword == "ENV":
            state.env |= parse_env(instruction, variables)
        elif keyword == "WORKDIR":
            state.workdir = posixpath.join(state.workdir, expand(instruction.args, variables))
            (state.root / state.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif keyword == "SHELL":
            shell = instruction.json_form()
            if not shell:
                raise ReplayError("SHELL takes a JSON array")
            state.shell = shell
        elif keyword == "USER":
            state.user = expand(instruction.args, variables)
        elif keyword in ("COPY", "ADD"):
            self.copy(state, instruction)
        elif keyword == "RUN":
            self.run_command(state, instruction)
        elif keyword in ("ENTRYPOINT", "CMD"):
            command = instruction.json_form()
            if command is None and not state.shell:
                raise ReplayError(f"{keyword} in shell form needs a shell, which this image lacks: "
                                  "use the JSON form")
            command = command or [*state.shell, instruction.args]
            if keyword == "ENTRYPOINT":
                state.entrypoint = command
            else:
                state.cmd = command
        elif keyword in ("LABEL", "EXPOSE", "STOPSIGNAL", "MAINTAINER"):
            pass  # image metadata: nothing to run
        else:
            raise ReplayError(f"{keyword} is not replayed")

    def copy(self, state: StageState, instruction: Instruction) -> None:
        if instruction.keyword == "ADD":
            raise ReplayError("ADD is not replayed: use COPY")
        unsupported = set(instruction.flags) - {"from", "chown", "chmod", "link"}
        if unsupported:
            raise ReplayError(f"COPY --{sorted(unsupported)[0]} is not replayed")
        words = instruction.json_form() or shell_words(instruction.args, state.variables())
        if len(words) < 2:
            raise ReplayError("COPY needs a source and a destination")
        *sources, destination = words
        from_stage = instruction.flags.get("from")
        if from_stage is not None:
            origin = self.states[from_stage].root
            origin_name = f"stage {from_stage}"
        else:
            origin, origin_name = self.context, "the build context"

        paths: list[tuple[str, Path]] = []
        for source in sources:
            relative = _go_clean(source.lstrip("/")) if from_stage is None else source.lstrip("/")
            if relative == ".." or relative.startswith("../"):
                raise ReplayError(f"COPY {source}: outside the build context")
            if any(c in relative for c in "*?[") and from_stage is None:
                regex = _compile_pattern(relative)
                matches = sorted(p for p in walk_relative(origin) if regex.match(p))
                if not matches:
                    raise ReplayError(f"COPY {source}: no file in {origin_name} matches it")
                paths += [(m, origin / m) for m in matches]
                continue
            path = origin / relative if relative != "." else origin
            if not (path.exists() or path.is_symlink()):
                reason = why_missing(self.source, relative) if from_stage is None else "it does not exist"
                raise ReplayError(f"COPY {source}: {relative} is not in {origin_name}: {reason}")
            paths.append((relative, path))

        destination = expand(destination, state.variables())
        into_dir = destination.endswith("/") or len(paths) > 1
        destination = posixpath.normpath(posixpath.join(state.workdir, destination))
        into_dir = into_dir or (state.root / destination.lstrip("/")).is_dir()
        owner = parse_owner(instruction.flags.get("chown"))
        mode = int(instruction.flags["chmod"], 8) if "chmod" in instruction.flags else None
        for relative, path in paths:
            if path.is_dir() and not path.is_symlink():
                written = copy_tree(path, state.root / destination.lstrip("/"), owner, mode)
                state.copied += [posixpath.join(destination, w) for w in written]
            else:
                target = posixpath.join(destination, posixpath.basename(relative)) if into_dir \
                    else destination
                copy_file(path, state.root / target.lstrip("/"), owner, mode)
                state.copied.append(target)

    def run_command(self, state: StageState, instruction: Instruction) -> None:
        unsupported = set(instruction.flags) - {"network"}
        if unsupported:
            raise ReplayError(f"RUN --{sorted(unsupported)[0]} is not replayed")
        argv = instruction.json_form() or [*state.shell, instruction.args]
        env = state.env | {k: v for k, v in state.args.items() if k not in state.env}
        uid, gid = parse_owner(state.user) if state.user else (0, 0)
        root, workdir = str(state.root), state.workdir

        def enter() -> None:
            os.chroot(root)
            os.chdir(workdir)
            if (uid, gid) != (0, 0):
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)

        sys.stdout.flush()
        code = subprocess.run(argv, env=env, preexec_fn=enter, stdin=subprocess.DEVNULL).returncode
        if code != 0:
            raise ReplayError(f"exit code {code} (its output is above)")

    # -- the runtime stage

    def check_runtime(self, stage: Stage) -> None:
        base = expand(stage.base, self.global_args)
        steps = len(stage.instructions) + 1
        label = f"[{stage.name} 1/{steps}] FROM {self.show_platform(stage)}{base}"
        if "platform" in stage.flags:
            raise ReplayError(f"{label}: the runtime stage must be of the target platform; "
                              "drop --platform")
        variant = distroless_variant(base)
        if variant is None:
            raise ReplayError(f"{label}: the replay stands in only for distroless Debian 12 "
                              "runtimes (gcr.io/distroless/<static|base|cc>-debian12)")
        kind, nonroot = variant
        say(f"{label}: stood in by a read-only root holding only the files this stage copies "
            "and the C libraries the image ships")
        root = self.scratch / "runtime"
        root.mkdir()
        state = StageState(stage, root, user="65532:65532" if nonroot else "")
        state.shell = []  # distroless has no shell
        for number, instruction in enumerate(stage.instructions, start=2):
            step = f"[{stage.name} {number}/{steps}] {instruction.show()}"
            say(step)
            if instruction.keyword == "RUN":
                raise ReplayError(f"{step}\n  failed: the runtime image has no shell to RUN with")
            try:
                self.apply(state, instruction)
            except ReplayError as err:
                raise ReplayError(f"{step}\n  failed: {err}") from None

        if not state.entrypoint:
            raise ReplayError(f"[{stage.name}] no ENTRYPOINT: the image would not run the exporter")
        program = state.entrypoint[0]
        binary = root / program.lstrip("/")
        if program not in state.copied or not binary.is_file():
            raise ReplayError(f"[{stage.name}] ENTRYPOINT {program} is no file this stage copies "
                              f"(it copies {state.copied})")
        uid, gid = parse_owner(state.user) if state.user else (0, 0)
        if uid == 0:
            raise ReplayError(f"[{stage.name}] the image would run as root: set USER 65532:65532")
        elf = read_elf(binary)
        arch = EM_ARCH.get(elf.machine)
        wanted_arch = self.target_platform.split("/")[1]
        if arch != wanted_arch:
            raise ReplayError(f"[{stage.name}] {program} is an ELF for "
                              f"{EM_NAMES.get(elf.machine, elf.machine)}, the image is {self.target_platform}")
        say(f"[{stage.name}] {program}: {binary.stat().st_size / 1e6:.1f} MB, ELF {EM_NAMES[elf.machine]}, "
            f"needs {', '.join(elf.needed) or 'no shared library'}")
        self.add_base_image_files(root, elf, arch, kind, base)
        contents = sorted("/" + p for p in walk_relative(root))
        shells = [p for p in ("/bin/sh", "/bin/bash", "/usr/bin/env", "/bin/busybox")
                  if (root / p.lstrip("/")).exists()]
        if shells:
            raise ReplayError(f"[{stage.name}] the runtime root has {shells}; distroless has none")
        say(f"[{stage.name}] the runtime root holds {len(contents)} files and no shell: "
            + " ".join(contents))

        for system in ("proc", "dev", "sys"):
            (root / system).mkdir(exist_ok=True)
        mount("--bind", str(root), str(root))
        mount("-o", "remount,bind,ro", str(root))
        for system in ("proc", "dev", "sys"):
            mount("--rbind", f"/{system}", str(root / system))
        try:
            (root / "probe").write_text("")
            raise ReplayError(f"[{stage.name}] the runtime root is writable; it must not be")
        except OSError:
            pass
        self.run_image(state, elf, arch, uid, gid)

    def add_base_image_files(self, root: Path, elf: Elf, arch: str, kind: str, image: str) -> None:
        """The files of the distroless base the binary uses: its loader and C libraries, taken
        from this machine's Debian 12 packages (the ones distroless is built from), plus the
        users and a /tmp as distroless has them."""
        allowed = DISTROLESS_LIBRARIES[kind]
        multiarch = MULTIARCH[arch]
        dirs = library_dirs(arch)
        todo, done = list(elf.needed), set()
        while todo:
            name = todo.pop()
            if name in done:
                continue
            done.add(name)
            if name not in allowed:
                raise ReplayError(f"the binary needs {name}, which {image} does not ship "
                                  f"(it has {', '.join(sorted(allowed)) or 'no shared library'})")
            found = next((d / name for d in dirs if (d / name).exists()), None)
            if found is None:
                raise ReplayError(f"{name} for {arch} is not on this machine (looked in "
                                  f"{', '.join(map(str, dirs))}); install libc6-{arch}-cross")
            copy_file(found.resolve(), root / "lib" / multiarch / name, (0, 0), None)
            todo += read_elf(found.resolve()).needed
        if elf.interpreter:
            loader = next((d / posixpath.basename(elf.interpreter) for d in dirs
                           if (d / posixpath.basename(elf.interpreter)).exists()), None)
            if loader is None:
                raise ReplayError(f"the loader {elf.interpreter} is not on this machine")
            copy_file(loader.resolve(), root / elf.interpreter.lstrip("/"), (0, 0), None)
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc/passwd").write_text(
            "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:"
            "/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
        (root / "etc/group").write_text("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")
        (root / "tmp").mkdir(mode=0o1777, exist_ok=True)

    def run_image(self, state: StageState, elf: Elf, arch: str, uid: int, gid: int) -> None:
        root = state.root
        program = state.entrypoint[0]
        env = dict(state.env)  # the image's own ENV, nothing from this machine
        native = self.build_platform == self.target_platform
        if native:
            command = list(state.entrypoint)
            how = "chrooted"
        else:
            qemu = shutil.which(f"qemu-{'aarch64' if arch == 'arm64' else 'x86_64'}")
            if qemu is None:
                raise ReplayError(f"running a {arch} binary here needs qemu-user (apt-get install "
                                  "qemu-user)")
            command = [qemu, "-L", str(root), str(root / program.lstrip("/")), *state.entrypoint[1:]]
            how = f"under {posixpath.basename(qemu)} with the root as its library prefix"

        def enter() -> None:
            if native:
                os.chroot(str(root))
                os.chdir(state.workdir)
            else:
                os.chdir(str(root / posixpath.dirname(program).lstrip("/")))
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

        who = f"as {uid}:{gid}, {how}, read-only, environment {env or 'empty'}"
        version = subprocess.run([*command, "--version"], env=env, preexec_fn=enter,
                                 capture_output=True, text=True)
        if version.returncode != 0:
            raise ReplayError(f"[{state.stage.name}] {program} --version exited with "
                              f"{version.returncode}: {version.stdout}{version.stderr}")
        line = version.stdout.strip()
        say(f"[{state.stage.name}] {program} --version ({who}): {line}")
        self.check_version(line)

        expected = self.options.expect_repositories
        count = demo_scrape.simulator_repository_count() if expected == "sim" else int(expected)
        try:
            result = demo_scrape.run_demo(command, count, timeout=90 if not native else 45,
                                          env=env, preexec_fn=enter)
        except demo_scrape.ScrapeError as err:
            raise ReplayError(f"[{state.stage.name}] {program} --demo: {err}") from None
        say(f"[{state.stage.name}] {program} --demo: {demo_scrape.describe(result)}")
        seen = demo_scrape.listing(result.repositories)
        if self.options.write_list:
            self.options.write_list.parent.mkdir(parents=True, exist_ok=True)
            self.options.write_list.write_text(seen)
        if self.options.same_as:
            if self.options.same_as.read_text() != seen:
                raise ReplayError(f"[{state.stage.name}] the --demo showed other repositories than "
                                  f"{self.options.same_as} lists:\n{seen}")
            say(f"[{state.stage.name}] the same {len(result.repositories)} repositories as "
                f"{self.options.same_as}")
        revision = self.build_args.get("REVISION")
        if revision and result.build_info.get("revision") != revision:
            raise ReplayError(f"build_info shows revision {result.build_info.get('revision')!r}, "
                              f"the build was given {revision!r}")

    def check_version(self, line: str) -> None:
        manifest = tomllib.loads((self.context / "Cargo.toml").read_text())
        version = manifest.get("package", {}).get("version")
        revision = self.build_args.get("REVISION")
        for wanted in (version, revision):
            if wanted and wanted not in line:
                raise ReplayError(f"--version says {line!r}, which lacks {wanted!r}")


def parse_env(instruction: Instruction, variables: dict[str, str]) -> dict[str, str]:
    words = shell_words(instruction.args, variables)
    if words and "=" not in words[0]:  # legacy `ENV NAME value with spaces`
        name, _, value = instruction.args.partition(" ")
        return {name: expand(value.strip(), variables)}
    values = {}
    for word in words:
        name, has_value, value = word.partition("=")
        if not has_value:
            raise ReplayError(f"ENV {word}: expected NAME=value")
        values[name] = value
    return values


def parse_owner(text: str | None) -> tuple[int, int]:
    """A numeric `uid[:gid]` (names would need the image's /etc/passwd)."""
    if not text:
        return 0, 0
    user, _, group = text.partition(":")
    if not user.isdigit() or (group and not group.isdigit()):
        raise ReplayError(f"{text}: the replay takes numeric users only, as Kubernetes does")
    return int(user), int(group or user)


def walk_relative(root: Path) -> Iterator[str]:
    for top, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            yield os.path.relpath(os.path.join(top, name), root)


def copy_file(source: Path, target: Path, owner: tuple[int, int] | None, mode: int | None) -> None:
    """Like COPY: contents, mode and mtime kept; owned by root unless --chown says otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    shutil.copy2(source, target, follow_symlinks=False)
    os.lchown(target, *(owner or (0, 0)))
    if mode is not None and not target.is_symlink():
        os.chmod(target, mode)


def copy_tree(source: Path, target: Path, owner: tuple[int, int] | None,
              mode: int | None) -> list[str]:
    """A directory's contents into `target` (not the directory itself), as COPY does."""
    written = []
    target.mkdir(parents=True, exist_ok=True)
    for top, dirs, files in os.walk(source):
        rel_top = os.path.relpath(top, source)
        for name in dirs:
            path = Path(top) / name
            if path.is_symlink():
                files.append(name)
            else:
                (target / rel_top / name).mkdir(parents=True, exist_ok=True)
        for name in files:
            rel = posixpath.normpath(posixpath.join(rel_top, name))
            copy_file(Path(top) / name, target / rel, owner, mode)
            written.append(rel)
    return written


def summarize(files: list[str]) -> str:
    tops: dict[str, int] = {}
    for path in files:
        top, slash, _ = path.partition("/")
        key = top + ("/" if slash else "")
        tops[key] = tops.get(key, 0) + 1
    return ", ".join(k if k[-1] != "/" else f"{k} ({n})" for k, n in sorted(tops.items()))


# ---------------------------------------------------------------------------------------------
# Entry


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Replays the Dockerfile without a container engine (see the module doc).")
    parser.add_argument("context", nargs="?", type=Path, default=REPO_ROOT,
                        help="the build context (default: this checkout)")
    parser.add_argument("-f", "--file", default="Dockerfile", help="relative to the context")
    parser.add_argument("--platform", default=None,
                        help="linux/amd64 or linux/arm64 (default: this machine's)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--target-dir", type=Path,
                        help="a cargo target directory to share with the builder stage")
    parser.add_argument("--expect-repositories", default="sim",
                        help="repositories the --demo must show: a number, or `sim` (default) "
                             "to ask the simulator of this checkout")
    parser.add_argument("--write-list", type=Path,
                        help="write the repositories the --demo showed, one a line")
    parser.add_argument("--same-as", type=Path,
                        help="a list written by --write-list (another platform's) to compare with")
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    options.platform = options.platform or host_platform()
    if options.platform not in ("linux/amd64", "linux/arm64"):
        parser.error(f"--platform {options.platform}: linux/amd64 or linux/arm64")
    if options.same_as and not options.same_as.exists():
        parser.error(f"--same-as {options.same_as}: no such file")
    for arg in options.build_arg:
        if "=" not in arg:
            parser.error(f"--build-arg {arg}: expected NAME=VALUE")
    return options


def main(argv: Sequence[str]) -> int:
    options = parse_args(argv)
    if os.environ.get(IN_NAMESPACE) != "1":
        return enter_namespace(argv)
    # Inside a private mount namespace: every mount below vanishes with this process.
    scratch = options.scratch
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(scratch))
    started = time.monotonic()
    try:
        Replay(options, scratch).run()
    except ReplayError as err:
        say(f"FAILED: {err}")
        return 1
    say(f"OK: both stages replayed and the image's binary ran ({time.monotonic() - started:.0f} s)")
    return 0


def enter_namespace(argv: Sequence[str]) -> int:
    """Re-runs this script in a private mount namespace with a scratch directory for it."""
    if os.geteuid() != 0:
        say("FAILED: the replay needs root (mount namespaces, overlayfs, chroot)")
        return 1
    if shutil.which("unshare") is None:
        say("FAILED: unshare (util-linux) is not installed")
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="dockerfile-replay."))
    try:
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--",
             sys.executable, str(Path(__file__).resolve()), *argv, "--scratch", str(scratch)],
            env=os.environ | {IN_NAMESPACE: "1"}).returncode
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
