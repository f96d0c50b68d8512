"""Tests of image.sh's one escape hatch: when rustup refuses the arm64 target outright, the arm64
image is skipped with a line of its own saying so, and nothing is built for it, instead of the
run failing or passing silently.

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "image.sh"


class RefusedRustupTarget(unittest.TestCase):
    def run_with_rustup(self, body: str) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory() as bin_dir:
            rustup = Path(bin_dir) / "rustup"
            rustup.write_text(f"#!/bin/sh\n{body}\n")
            rustup.chmod(0o755)
            for tool in ("buildah", "cargo", "debootstrap"):  # nothing may be built for arm64
                fake = Path(bin_dir) / tool
                fake.write_text(f"#!/bin/sh\necho '{tool} ran' >&2\nexit 99\n")
                fake.chmod(0o755)
            env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
            return subprocess.run(["bash", str(SCRIPT), "--arch", "arm64"], env=env,
                                  capture_output=True, text=True, timeout=60)

    def test_a_refusal_skips_arm64_with_a_line_saying_so(self) -> None:
        run = self.run_with_rustup('case "$1 $2" in "target list") exit 0;; esac\n'
                                   'echo "error: the component download was refused" >&2; exit 1')
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        skip_lines = [line for line in run.stdout.splitlines() if "SKIPPED" in line]
        self.assertEqual(len(skip_lines), 1, run.stdout)
        self.assertTrue(skip_lines[0].startswith("image: linux/arm64: SKIPPED: rustup refused"))
        self.assertNotIn(" ran", run.stderr)
        self.assertIn("the component download was refused", run.stderr, "rustup's own answer shows")

    def test_any_other_rustup_failure_fails(self) -> None:
        # A refusal is an answer within a minute; a time-out is a failure (status 124).
        run = self.run_with_rustup('case "$1 $2" in "target list") exit 0;; esac\nexit 124')
        self.assertNotEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("image: FAILED: could not add the rustup target", run.stderr)


if __name__ == "__main__":
    unittest.main()
