"""The conformance suite: the official Huawei Cloud Python SDK as the test oracle.

Run it with `scripts/conformance.sh` (it builds the binaries and a pinned venv under target/).
Prints one line per check and `N passed, N failed`; exits non-zero on any failure. See
README.md for what each part checks.
"""

import argparse
import os
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import exports  # noqa: E402
import sdk_client  # noqa: E402
import signing  # noqa: E402
import tables  # noqa: E402
from harness import Report, Simulator  # noqa: E402


class Context:
    """What the parts share: binaries, the simulators, and the SDK's answers."""

    scenarios = []
    sdk_statuses = {}
    sdk_pushes = {}
    project_id = None
    temporary = None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin-dir", required=True, help="where codearts-sim and codearts-repo-exporter are")
    parser.add_argument("--repo-root", required=True)
    args = parser.parse_args()

    report = Report()
    started = time.monotonic()
    ctx = Context()
    ctx.bin_dir, ctx.repo_root = args.bin_dir, args.repo_root
    with tempfile.TemporaryDirectory(prefix="conformance-") as workdir:
        ctx.workdir = workdir
        ctx.scenario_sim = Simulator(args.bin_dir, "--answers", "scenarios", "--record-requests",
                                     "--temporary-credential-lifetime", "2h")
        ctx.varied_sim = Simulator(args.bin_dir, "--answers", "varied", "--inject-failures")
        # With activity: a push every second or so among 300 repositories.
        ctx.active_sim = Simulator(args.bin_dir, "--answers", "uniform", "--repositories", "300",
                                   "--pushes-per-minute", "0.2", "--record-requests")
        try:
            for part in (sdk_client, signing, tables, exports):
                try:
                    part.run(report, ctx)
                except Exception:  # a part that crashes fails, and the others still run
                    report.check(f"{part.__name__} ran to the end", False,
                                 traceback.format_exc().strip().splitlines()[-1])
                    print(report.mask(traceback.format_exc()), file=sys.stderr)
        finally:
            ctx.scenario_sim.stop()
            ctx.varied_sim.stop()
            ctx.active_sim.stop()
    print(f"\nconformance ({time.monotonic() - started:.0f} s):")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
