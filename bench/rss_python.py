"""Runs Python for the engine and records the peak RSS of dynamic-provider processes.

The benchmark's projects name a virtualenv whose bin/python is a shell wrapper that runs this file. It starts the real
interpreter with the same arguments and, while that process lives, writes its VmHWM (peak resident set,
in kB) to $ARDENT_BENCH_RSS_FILE, so the figure survives the engine killing the provider at the end.
"""

import os
import subprocess
import sys
import threading
import time


def main() -> int:
    child = subprocess.Popen([sys.executable, *sys.argv[1:]])
    target = os.environ.get("ARDENT_BENCH_RSS_FILE")
    if target and "pulumi.dynamic" in sys.argv[1:4]:

        def watch() -> None:
            peak = 0
            while child.poll() is None:
                try:
                    with open(f"/proc/{child.pid}/status") as status:
                        for line in status:
                            if line.startswith("VmHWM:"):
                                value = int(line.split()[1])
                                if value > peak:
                                    peak = value
                                    with open(target, "a") as out:
                                        out.write(f"{child.pid} {peak}\n")
                except OSError:
                    return
                time.sleep(0.05)

        threading.Thread(target=watch, daemon=True).start()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
