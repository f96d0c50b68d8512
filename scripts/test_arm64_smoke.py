"""Tests of arm64-smoke.sh's one escape hatch: when rustup refuses the arm64 target outright, the
smoke run says so on a line of its own and exits 0, instead of failing or passing silently.

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "arm64-smoke.sh"


class RefusedRustupTarget(unittest.TestCase):
    def run_with_rustup(self, body: str) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory() as bin_dir:
            rustup = Path(bin_dir) / "rustup"
            rustup.write_text(f"#!/bin/sh\n{body}\n")
            rustup.chmod(0o755)
            cargo = Path(bin_dir) / "cargo"  # nothing may be built once the target is refused
            cargo.write_text("#!/bin/sh\necho 'cargo ran' >&2\nexit 99\n")
            cargo.chmod(0o755)
            env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
            return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True,
                                  text=True, timeout=60)

    def test_a_refusal_skips_with_a_line_saying_so(self) -> None:
        run = self.run_with_rustup('echo "error: the component download was refused" >&2; exit 1')
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        skip_lines = [line for line in run.stdout.splitlines() if "SKIPPED" in line]
        self.assertEqual(len(skip_lines), 1, run.stdout)
        self.assertTrue(skip_lines[0].startswith("arm64 smoke: SKIPPED: rustup refused"))
        self.assertNotIn("cargo ran", run.stderr)
        self.assertIn("the component download was refused", run.stderr, "rustup's own answer shows")


if __name__ == "__main__":
    unittest.main()
