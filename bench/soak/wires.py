"""The soak's cuttable wires to PostgreSQL and Redis (bench.proxy.TcpProxy), in a process of their own so
that their copying never competes with the load's threads for one interpreter lock.

``python -m bench.soak.wires PG_HOST:PORT REDIS_HOST:PORT`` prints the two loopback ports it listens on, then
obeys ``cut NAME`` / ``start NAME`` lines on standard input, answering ``ok`` to each; end of input ends it.
"""

from __future__ import annotations

import subprocess
import sys

from bench.proxy import TcpProxy


class Wires:
    """The parent's handle: ``ports`` by name, ``cut``/``start`` a wire, ``close`` them all."""

    def __init__(self, postgres: str, redis: str) -> None:
        command = [sys.executable, "-m", "bench.soak.wires", postgres, redis]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        first, second = self.process.stdout.readline().split()
        self.ports = {"postgres": int(first), "redis": int(second)}

    def _say(self, line: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"wires: {line!r} answered {answer!r}")

    def cut(self, name: str) -> None:
        self._say(f"cut {name}")

    def start(self, name: str) -> None:
        self._say(f"start {name}")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    targets = [argument.rsplit(":", 1) for argument in sys.argv[1:3]]
    wires = {
        name: TcpProxy((host, int(port)))
        for name, (host, port) in zip(("postgres", "redis"), targets, strict=True)
    }
    for wire in wires.values():
        wire.start()
    print(wires["postgres"].port, wires["redis"].port, flush=True)
    for line in sys.stdin:  # ends with the parent
        action, name = line.split()
        if action == "cut":
            wires[name].cut()
        else:
            wires[name].start()
        print("ok", flush=True)
    for wire in wires.values():
        wire.cut()


if __name__ == "__main__":
    main()
