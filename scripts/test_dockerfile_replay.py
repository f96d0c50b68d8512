"""Tests of dockerfile_replay.py: Docker's .dockerignore rules, the Dockerfile reading, and
replays of broken build contexts that must fail naming the path.

    python3 -m unittest discover -s scripts -p 'test_*.py'

The broken-context replays need root, as the replay does; without it they are skipped with the
reason printed. They stop at the first RUN (cargo reads the manifests there), so they take
seconds, not a build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dockerfile_replay as replay  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def excluded(ignore: str, path: str) -> bool:
    return replay.is_excluded(replay.parse_dockerignore(ignore), path)


class DockerignoreMatching(unittest.TestCase):
    """The rules of Docker's documentation for .dockerignore, one case each."""

    def test_an_allowlist_keeps_only_what_it_reincludes(self) -> None:
        ignore = "*\n!Cargo.toml\n!src\n"
        self.assertFalse(excluded(ignore, "Cargo.toml"))
        self.assertFalse(excluded(ignore, "src"))
        self.assertFalse(excluded(ignore, "src/metrics/names.rs"))
        self.assertTrue(excluded(ignore, "benches/fanout.rs"))
        self.assertTrue(excluded(ignore, "target/release/codearts-repo-exporter"))
        self.assertTrue(excluded(ignore, ".git/HEAD"))

    def test_the_last_matching_line_wins(self) -> None:
        self.assertFalse(excluded("*.md\n!README*.md\n", "README.md"))
        self.assertTrue(excluded("!README*.md\n*.md\n", "README.md"))
        self.assertTrue(excluded("*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md"))

    def test_a_directory_pattern_covers_everything_below_it(self) -> None:
        self.assertTrue(excluded("target\n", "target/debug/deps/x.rlib"))
        self.assertFalse(excluded("target\n", "src/target.rs"))

    def test_star_and_question_mark_stop_at_a_slash(self) -> None:
        self.assertTrue(excluded("*/temp*\n", "somedir/temporary.txt"))
        self.assertFalse(excluded("*/temp*\n", "a/b/temporary.txt"))
        self.assertTrue(excluded("*/*/temp*\n", "a/b/temporary.txt"))
        self.assertTrue(excluded("temp?\n", "temp1"))
        self.assertFalse(excluded("temp?\n", "temp12"))

    def test_double_star_spans_any_number_of_directories(self) -> None:
        self.assertTrue(excluded("**/*.go\n", "main.go"))
        self.assertTrue(excluded("**/*.go\n", "a/b/c/main.go"))
        self.assertTrue(excluded("docs/**\n", "docs/a/b.md"))
        self.assertTrue(excluded("a/**/z\n", "a/z"))
        self.assertTrue(excluded("a/**/z\n", "a/b/c/z"))

    def test_character_classes_and_escapes(self) -> None:
        self.assertTrue(excluded("file[0-9].txt\n", "file7.txt"))
        self.assertFalse(excluded("file[0-9].txt\n", "fileA.txt"))
        self.assertTrue(excluded("file[^0-9].txt\n", "fileA.txt"))
        self.assertTrue(excluded("star\\*\n", "star*"))
        self.assertFalse(excluded("star\\*\n", "starfish"))
        self.assertFalse(excluded("a.c\n", "abc"), "a dot is a dot, not any character")

    def test_patterns_are_cleaned_and_rooted_at_the_context(self) -> None:
        self.assertTrue(excluded("/target\n", "target/x"))
        self.assertTrue(excluded("./src/../target/\n", "target/x"))
        self.assertTrue(excluded("  target  \n", "target/x"), "surrounding spaces are trimmed")

    def test_comments_and_blank_lines_are_skipped(self) -> None:
        self.assertFalse(excluded("# target\n\n", "target/x"))
        self.assertEqual(replay.parse_dockerignore("\n# c\n\n"), [])

    def test_a_lone_exclamation_mark_is_an_error(self) -> None:
        with self.assertRaises(replay.ReplayError):
            replay.parse_dockerignore("*\n!\n")

    def test_this_repository_context_holds_what_the_workspace_build_reads(self) -> None:
        patterns = replay.parse_dockerignore((REPO_ROOT / ".dockerignore").read_text())
        for kept in ("Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs",
                     "src/bin/codearts-sim.rs",
                     "crates/signer/Cargo.toml", "crates/codearts-sim/src/lib.rs"):
            self.assertFalse(replay.is_excluded(patterns, kept), kept)
        for left_out in ("target/debug/codearts-repo-exporter", ".git/HEAD", "deploy/systemd/config.yml",
                         "tests/scrape.rs", "README.md", "scripts/dockerfile_replay.py",
                         "benches/fanout/main.rs"):
            self.assertTrue(replay.is_excluded(patterns, left_out), left_out)


class AssembledContext(unittest.TestCase):
    def test_copies_kept_files_only_and_skips_excluded_trees(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            source, destination = Path(tmp, "src"), Path(tmp, "ctx")
            for path in ("Cargo.toml", "src/main.rs", "target/big.bin", "notes/keep.md", "notes/drop.md"):
                (source / path).parent.mkdir(parents=True, exist_ok=True)
                (source / path).write_text(path)
            (source / ".dockerignore").write_text("*\n!Cargo.toml\n!src\n!notes/keep.md\n")
            destination.mkdir()
            kept = replay.assemble_context(source, destination)
            self.assertEqual(kept, ["Cargo.toml", "notes/keep.md", "src/main.rs"])
            self.assertFalse((destination / "target").exists())
            self.assertEqual((destination / "notes/keep.md").read_text(), "notes/keep.md")

    def test_explains_why_a_path_is_missing(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp)
            (source / "benches").mkdir()
            (source / "benches/fanout.rs").write_text("")
            (source / ".dockerignore").write_text("*\n!src\n")
            self.assertIn("add `!benches/fanout.rs`", replay.why_missing(source, "benches/fanout.rs"))
            self.assertIn("there is no Cargo.lock", replay.why_missing(source, "Cargo.lock"))


class DockerfileReading(unittest.TestCase):
    def test_joins_continuations_and_drops_comments_inside_them(self) -> None:
        text = "FROM a AS b\nRUN one \\\n    # a comment\n    two\nCOPY --from=b /x /y\n"
        instructions = replay.parse_dockerfile(text)
        self.assertEqual([i.keyword for i in instructions], ["FROM", "RUN", "COPY"])
        self.assertEqual(instructions[1].args, "one two")
        self.assertEqual(instructions[2].flags, {"from": "b"})
        self.assertEqual(instructions[2].args, "/x /y")

    def test_reads_the_json_form(self) -> None:
        instruction = replay.parse_dockerfile('ENTRYPOINT ["/usr/local/bin/x", "--a"]\n')[0]
        self.assertEqual(instruction.json_form(), ["/usr/local/bin/x", "--a"])
        self.assertIsNone(replay.parse_dockerfile("CMD echo [x]\n")[0].json_form())

    def test_refuses_heredocs_rather_than_misreading_them(self) -> None:
        with self.assertRaises(replay.ReplayError):
            replay.parse_dockerfile("FROM a\nRUN <<EOF\necho\nEOF\n")

    def test_expands_variables_as_docker_does(self) -> None:
        variables = {"A": "x", "EMPTY": ""}
        self.assertEqual(replay.expand("$A-${A}", variables), "x-x")
        self.assertEqual(replay.expand("${MISSING:-d}/${A:-d}/${EMPTY:-d}", variables), "d/x/d")
        self.assertEqual(replay.expand("${A:+set}/${MISSING:+set}", variables), "set/")
        self.assertEqual(replay.expand("\\$A", variables), "$A")

    def test_splits_words_with_quotes(self) -> None:
        words = replay.shell_words("A=\"a b\" B='$A' C=$A", {"A": "x"})
        self.assertEqual(words, ["A=a b", "B=$A", "C=x"])

    def test_stages_and_what_the_last_one_needs(self) -> None:
        text = ("ARG V=1\nFROM rust:${V} AS unused\nFROM rust:${V} AS one\nRUN a\n"
                "FROM rust AS two\nCOPY --from=one /a /a\nFROM scratch\nCOPY --from=two /a /a\n")
        global_args, stages = replay.split_stages(replay.parse_dockerfile(text))
        self.assertEqual([a.args for a in global_args], ["V=1"])
        self.assertEqual([s.name for s in stages], ["unused", "one", "two", "stage-3"])
        self.assertEqual([s.name for s in replay.needed_stages(stages, stages[-1])],
                         ["one", "two", "stage-3"])

    def test_stage_args_take_build_args_then_defaults_then_the_global_value(self) -> None:
        options = argparse.Namespace(context=REPO_ROOT, platform="linux/amd64",
                                     build_arg=["GIVEN=from-the-command-line"])
        builder = replay.Replay(options, Path("/nonexistent"))
        builder.global_args = {"GLOBAL": "global", "TARGETARCH": "arm64"}
        state = replay.StageState(replay.Stage(0, "s", "rust", {}), Path("/nonexistent"),
                                  env={"E": "env"})
        for arg in ("DEFAULT=${E}-x", "GIVEN=default", "GLOBAL", "TARGETARCH", "UNSET"):
            builder.apply(state, replay.parse_dockerfile(f"ARG {arg}\n")[0])
        self.assertEqual(state.args, {"DEFAULT": "env-x", "GIVEN": "from-the-command-line",
                                      "GLOBAL": "global", "TARGETARCH": "arm64"})

    def test_platform_arguments_follow_buildx(self) -> None:
        args = replay.platform_args("linux/arm64", "linux/amd64")
        self.assertEqual(args["TARGETARCH"], "arm64")
        self.assertEqual(args["TARGETPLATFORM"], "linux/arm64")
        self.assertEqual(args["BUILDPLATFORM"], "linux/amd64")
        self.assertEqual(args["TARGETVARIANT"], "")

    def test_knows_which_images_it_can_stand_in_for(self) -> None:
        self.assertTrue(replay.host_stands_in_for("rust:1-bookworm"))
        self.assertTrue(replay.host_stands_in_for("rust:1.85-slim-bookworm"))
        self.assertFalse(replay.host_stands_in_for("rust:1-alpine"))
        self.assertEqual(replay.distroless_variant("gcr.io/distroless/cc-debian12:nonroot"),
                         ("cc", True))
        self.assertIsNone(replay.distroless_variant("ubuntu:24.04"))


@unittest.skipUnless(os.geteuid() == 0, "the replay needs root (mount namespaces, overlayfs, chroot)")
class BrokenContextsFailNamingThePath(unittest.TestCase):
    """Replays of a copy of this repository with one thing broken. Each fails before anything
    is compiled: at a COPY, or where cargo first loads the manifests."""

    def replay_broken(self, breakage) -> str:
        with tempfile.TemporaryDirectory(prefix="replay-broken.") as tmp:
            copy = Path(tmp) / "repo"
            tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True,
                                     capture_output=True).stdout.decode().split("\0")
            for name in filter(None, tracked):
                if (REPO_ROOT / name).exists():
                    (copy / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO_ROOT / name, copy / name)
            breakage(copy)
            run = subprocess.run([sys.executable, str(REPO_ROOT / "scripts/dockerfile_replay.py"),
                                  str(copy), "--expect-repositories", "1"],
                                 capture_output=True, text=True, timeout=600)
        output = run.stdout + run.stderr
        self.assertNotEqual(run.returncode, 0, f"the replay passed a broken context:\n{output}")
        self.assertIn("replay: FAILED", output)
        return output

    def test_workspace_members_the_context_leaves_out(self) -> None:
        def drop_crates(copy: Path) -> None:
            ignore = copy / ".dockerignore"
            ignore.write_text(ignore.read_text().replace("!crates\n", ""))
        output = self.replay_broken(drop_crates)
        self.assertIn("[manifests 4/4]", output, "cargo metadata stops it before any compiling")
        self.assertIn("crates/", output)
        self.assertIn("Cargo.toml", output)

    def test_a_workspace_member_without_its_manifest(self) -> None:
        output = self.replay_broken(lambda copy: (copy / "crates/signer/Cargo.toml").unlink())
        self.assertIn("crates/signer/Cargo.toml", output)

    def test_a_missing_lock_file(self) -> None:
        output = self.replay_broken(lambda copy: (copy / "Cargo.lock").unlink())
        self.assertIn("Cargo.lock", output)

    def test_a_copy_source_outside_the_context(self) -> None:
        def copy_readme(copy: Path) -> None:
            dockerfile = copy / "Dockerfile"
            dockerfile.write_text(dockerfile.read_text().replace(
                "COPY . .\nRUN set -eu; \\\n    cargo metadata",
                "COPY README.md ./\nCOPY . .\nRUN set -eu; \\\n    cargo metadata", 1))
        output = self.replay_broken(copy_readme)
        self.assertIn("COPY README.md: README.md is not in the build context: "
                      ".dockerignore excludes it; add `!README.md` there", output)


if __name__ == "__main__":
    unittest.main()
