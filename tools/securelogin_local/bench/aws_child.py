"""``python -m securelogin_local.bench.aws_child``: the embedded AWS alone in a process of
its own. Prints its endpoint URL, then serves until its standard input closes (when the
bench that started it ends, however it ends)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from securelogin.clock import system_clock


def main() -> None:
    from securelogin_local.aws import EmbeddedAws

    aws = EmbeddedAws(system_clock)
    if hasattr(aws, "start"):
        aws.start()
    else:  # an EmbeddedAws that only serves in the calling thread
        threading.Thread(target=aws.serve, name="embedded-aws", daemon=True).start()
    print(aws.endpoint_url, flush=True)
    sys.stdin.read()


class AwsChild:
    """The parent's handle on the child: its endpoint and the CPU it has spent."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(  # this interpreter, this module
            [sys.executable, "-m", "securelogin_local.bench.aws_child"], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        self.endpoint_url = self.process.stdout.readline().strip()
        if not self.endpoint_url.startswith("http://"):
            self.stop()
            raise RuntimeError("the embedded AWS did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU of the child (clock ticks: 10 ms resolution, so sum many requests)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    main()
