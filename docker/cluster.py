"""The load-balanced deployment on loopback, without Docker: N replicas of the service behind nginx
running docker/nginx.conf, the file compose ships, with only its listen address and its upstream
server line rewritten for local ports.

    python docker/cluster.py --replicas 3 --port 8080        # what `make cluster` runs

A replica joins nginx's upstream only once its /readyz answers 200 (nginx reloads then), as
compose's health-gated start and Kubernetes' readiness probe do: a replica that is loading, warming
up or failed gets no traffic. A replica that stops or dies stays listed; nginx's passive health
check and retries route around it, as they do in production. nginx and the replicas are children of
this process, each in its own session: Ctrl-C stops nginx, then drains and stops the replicas.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NGINX_CONF = REPO / "docker" / "nginx.conf"
START_TIMEOUT_S = 240  # loading and warming up a replica on a busy CPU
STOP_TIMEOUT_S = 60
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian's is not on a normal user's PATH

LISTEN = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)
UPSTREAM_SERVER = re.compile(r"^(\s*)server separator:8000( [^;]*)?;$", re.MULTILINE)
WORKER_STARTED = re.compile(r"start worker process \d+")


def render(config: str, listen: str, replicas: list[str]) -> str:
    """docker/nginx.conf for local addresses: `listen` on `listen`, and the upstream's one server line
    (compose's service name) as one line per replica address, with the same parameters."""
    config, listens = LISTEN.subn(lambda line: f"{line[1]}listen {listen};", config)
    config, servers = UPSTREAM_SERVER.subn(
        lambda line: "\n".join(f"{line[1]}server {address}{line[2] or ''};" for address in replicas), config
    )
    if (listens, servers) != (1, 1):
        raise ValueError(f"{NGINX_CONF} no longer has one `listen 80;` and one `server separator:8000 ...;` line")
    return config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout_s} s")
        time.sleep(interval_s)


def ended(process: subprocess.Popen) -> int | None:
    """The exit code once `process` ends, or None if it had to be killed after STOP_TIMEOUT_S."""
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


class Replica:
    """`python -m service serve` on a loopback port, its output in `log`."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.log = log_dir / f"replica-{self.port}.log"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", **env, "TEXTSEP_HOST": "127.0.0.1", "TEXTSEP_PORT": str(self.port)}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for the cluster does not reach it directly
            )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as answer:
                return answer.status == 200
        except OSError:  # not listening yet, 503, or gone
            return False

    def stop(self) -> int | None:
        """SIGTERM: the replica drains (finishes what it accepted) and exits; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return ended(self.process)


class Cluster:
    """nginx on `port` in front of the replicas added with `add_replica`; logs go to `log_dir`
    (nginx's access log, one JSON line per request, is `access_log`)."""

    def __init__(self, log_dir: Path, port: int = 0, env: dict[str, str] | None = None):
        self.log_dir = log_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.replicas: list[Replica] = []
        self.upstream: list[Replica] = []  # joined: ready once, in nginx's config since
        self.access_log = log_dir / "nginx-access.log"
        self.error_log = log_dir / "nginx-error.log"
        # nginx's prefix: its config, pid file and temp files. Run as root, nginx's workers are
        # `nobody`, so the directory must be theirs to enter.
        self.prefix = Path(tempfile.mkdtemp(prefix="textsep-nginx-"))
        self.prefix.chmod(0o755)
        self.nginx: subprocess.Popen | None = None

    def add_replica(self, **env: str) -> Replica:
        """Start a replica (settings: the cluster's `env`, then these); it joins once ready."""
        replica = Replica(self.log_dir, {**self.env, **env})
        self.replicas.append(replica)
        return replica

    def poll(self) -> list[Replica]:
        """Add the replicas that turned ready to the upstream; the ones that joined now."""
        joining = [r for r in self.replicas if r not in self.upstream and r.process.poll() is None and r.ready()]
        if joining:
            self.upstream += joining
            self._configure()
        return joining

    def wait_joined(self, count: int, timeout_s: float = START_TIMEOUT_S) -> None:
        """Until `count` replicas have joined (and nginx runs with them)."""

        def joined() -> bool:
            for replica in self.replicas:
                if replica.process.poll() is not None and replica not in self.upstream:
                    raise RuntimeError(f"replica exited with {replica.process.returncode}, see {replica.log}")
            self.poll()
            return len(self.upstream) >= count

        wait_for(joined, timeout_s, f"{count} ready replicas", interval_s=0.2)

    def stop(self) -> dict[str, int | None]:
        """Stop nginx gracefully (in-flight requests finish), then drain the replicas still running;
        whatever has not ended after STOP_TIMEOUT_S is killed. Exit code per replica address (None:
        killed)."""
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # nginx's graceful shutdown
            ended(self.nginx)
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        exits = {replica.address: ended(replica.process) for replica in self.replicas}
        shutil.rmtree(self.prefix, ignore_errors=True)
        return exits

    def _configure(self) -> None:
        config = render(NGINX_CONF.read_text(), f"127.0.0.1:{self.port}", [r.address for r in self.upstream])
        (self.prefix / "nginx.conf").write_text(config)
        if self.nginx is None:
            self._start_nginx()
        else:
            self._reload_nginx()

    def _start_nginx(self) -> None:
        command = [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")]
        # -e: the error log until the config is read (the config says stderr too); -g: stay in the
        # foreground, a child of this process
        command += ["-e", "stderr", "-g", "daemon off;"]
        with self.access_log.open("ab") as access, self.error_log.open("ab") as errors:
            self.nginx = subprocess.Popen(command, stdout=access, stderr=errors, start_new_session=True)

        def listening() -> bool:
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.nginx.returncode}:\n{self.error_log.read_text()}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 30, "nginx listening")

    def _reload_nginx(self) -> None:
        # SIGHUP: nginx reads the config again and starts new workers, logging "start worker
        # process PID" for each (notice level, as docker/nginx.conf logs); from then on new
        # connections get the new upstream.
        started = len(WORKER_STARTED.findall(self.error_log.read_text()))
        self.nginx.send_signal(signal.SIGHUP)
        wait_for(lambda: len(WORKER_STARTED.findall(self.error_log.read_text())) > started, 30, "nginx reload")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=3, help="replicas to start (default 3)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1 (default 8080)")
    parser.add_argument("--logs", type=Path, help="directory for the logs (default: a new temporary one)")
    args = parser.parse_args(argv)

    log_dir = args.logs or Path(tempfile.mkdtemp(prefix="textsep-cluster-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(log_dir, args.port)
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for _ in range(args.replicas):
            cluster.add_replica()
        print(f"starting {args.replicas} replicas; logs in {log_dir}", flush=True)
        while not stopping:
            for replica in cluster.poll():
                print(f"{replica.url} ready: {len(cluster.upstream)}/{args.replicas} behind {cluster.url}", flush=True)
            time.sleep(0.5)
    finally:
        print("stopping: nginx, then the replicas (they drain first)", flush=True)
        exits = cluster.stop()
    print("replica exit codes: " + ", ".join(f"{address} {code}" for address, code in exits.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
