"""A throwaway sshd on loopback, so that engines "on another machine" are reached through real SSH.

The engines stay on this machine, but every command goes through ssh exactly as it would to a
remote host: Docker's client runs `ssh ... docker system dial-stdio`, Podman's client speaks to
the far side's API socket over its own SSH. Everything is made for the session and removed after:
a host key and a client key made here, an sshd of its own (own config, port, pid, log; no PAM,
keys only, loopback only), an `ssh` on PATH that reads its own config and known_hosts, a HOME
whose .ssh/known_hosts Podman checks, and a Podman API service on a socket of its own (there is
no systemd here to start podman.socket). Nothing in /root/.ssh or /etc/ssh is read or written.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
PRIVSEP = Path("/run/sshd")  # sshd refuses to start without its privilege separation folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(ready, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up in {timeout:g}s; its log: {log.read_text()[-1000:]!r}")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class LoopbackSsh:
    """An sshd on 127.0.0.1:<free port> that lets root in with a key made for this session."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.processes: list[subprocess.Popen] = []
        self.made_privsep = False
        self.podman_socket = folder / "run" / "podman.sock"

    def start(self) -> LoopbackSsh:
        f = self.folder
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(f / key)], check=True)
        shutil.copy(f / "client_key.pub", f / "authorized_keys")
        (f / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {f / 'host_key'}\n"
            f"AuthorizedKeysFile {f / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            # The keys live in a session folder under /tmp, which StrictModes would refuse.
            f"StrictModes no\nPidFile {f / 'sshd.pid'}\nAllowStreamLocalForwarding yes\n"
        )
        host_key = " ".join((f / "host_key.pub").read_text().split()[:2])
        known = f"[127.0.0.1]:{self.port} {host_key}\n"
        (f / "known_hosts").write_text(known)
        (f / "home" / ".ssh").mkdir(parents=True)
        (f / "home" / ".ssh" / "known_hosts").write_text(known)  # Podman's client reads $HOME's
        (f / "ssh_config").write_text(
            f"Host *\n  IdentityFile {f / 'client_key'}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {f / 'known_hosts'}\n  StrictHostKeyChecking yes\n  BatchMode yes\n"
        )
        (f / "bin").mkdir()
        wrapper = f / "bin" / "ssh"  # OpenSSH reads the passwd home's config, not $HOME's
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {f / "ssh_config"} "$@"\n')
        wrapper.chmod(0o755)
        if not PRIVSEP.is_dir():
            PRIVSEP.mkdir(mode=0o755)
            self.made_privsep = True
        log = f / "sshd.log"
        self.processes.append(subprocess.Popen([str(SSHD), "-D", "-f", str(f / "sshd_config"), "-E", str(log)]))
        _wait(lambda: _answers(self.port), "sshd", log)
        return self

    def start_podman_service(self, podman: str) -> str:
        """`podman system service` on a socket of this session's; the URL that reaches it over ssh."""
        self.podman_socket.parent.mkdir()
        log = self.folder / "podman-service.log"
        with open(log, "wb") as sink:
            service = [podman, "system", "service", "--time=0", f"unix://{self.podman_socket}"]
            self.processes.append(subprocess.Popen(service, stdout=sink, stderr=subprocess.STDOUT))
        _wait(self.podman_socket.is_socket, "podman system service", log)
        return f"{self.url}{self.podman_socket}"

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of a client that reaches this sshd: our ssh first on PATH, our HOME and key."""
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "CONTAINER_HOST", "DOCKER_CONTEXT")}
        env["PATH"] = f"{self.folder / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["HOME"] = str(self.folder / "home")
        env["CONTAINER_SSHKEY"] = str(self.folder / "client_key")
        return env

    def logins(self) -> int:
        """Connections sshd let in so far: each is one command that went through SSH."""
        return (self.folder / "sshd.log").read_text().count("Accepted publickey for root")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.made_privsep:
            shutil.rmtree(PRIVSEP, ignore_errors=True)
