"""Tests of demo_scrape.py's stop: the SIGTERM must reach the exporter itself, not the wrapper
that runs it (`buildah run` answers a SIGTERM by killing its child, which reads as an unclean
stop), even when the wrapper starts its child from a thread other than its main one, as Go
programs such as buildah do.

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_scrape  # noqa: E402  (a script beside this test, not a package)

# A wrapper whose only child is started, and waited for, by a second thread (while that thread
# lives, /proc lists the child under it alone).
WRAPPER = """
import subprocess, threading
def run():
    child = subprocess.Popen(["sleep", "30"])
    print(child.pid, flush=True)
    child.wait()
thread = threading.Thread(target=run)
thread.start()
thread.join()
"""


class InnermostProcess(unittest.TestCase):
    def test_finds_a_child_started_from_another_thread(self) -> None:
        wrapper = subprocess.Popen([sys.executable, "-c", WRAPPER], stdout=subprocess.PIPE,
                                   text=True)
        assert wrapper.stdout is not None
        sleeper = int(wrapper.stdout.readline())
        try:
            deadline = time.monotonic() + 10
            while demo_scrape.innermost_process(wrapper.pid) != sleeper:
                self.assertLess(time.monotonic(), deadline,
                                f"innermost of {wrapper.pid} is not the sleep {sleeper}")
                time.sleep(0.05)
        finally:
            os.kill(sleeper, signal.SIGKILL)
            wrapper.wait(timeout=10)
            wrapper.stdout.close()


if __name__ == "__main__":
    unittest.main()
