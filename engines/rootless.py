"""Rootless Podman (`podman-rootless`): the Podman adapter, run as an unprivileged user.

Claim C29 is about this mode: the engine runs as an ordinary user, root inside a container maps
to that user on the host (user_namespaces(7), subuid(5), newuidmap(1)), and ports below 1024
need extra setup (net.ipv4.ip_unprivileged_port_start). vagrant/provision.sh creates the user
(`seatrial-rootless`, or $SEATRIAL_ROOTLESS_USER) with subordinate id ranges. seatrial itself
runs as root and drives Podman through `runuser -u USER --`; with no systemd user session here,
it creates the user's XDG_RUNTIME_DIR as logind would at login.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import tempfile
from pathlib import Path

from seatrial.engines.base import BuildResult, BuildSpec, EngineInfo, RunResult, RunSpec
from seatrial.engines.client import Cli
from seatrial.engines.hosts import container_host
from seatrial.engines.podman import PodmanEngine, podman_binary
from seatrial.engines.remote import Remote, RemoteSpecError

DEFAULT_USER = "seatrial-rootless"
RUNUSER = "/usr/sbin/runuser"


def rootless_user() -> str:
    """The account rootless Podman runs as: $SEATRIAL_ROOTLESS_USER or seatrial-rootless."""
    return os.environ.get("SEATRIAL_ROOTLESS_USER") or DEFAULT_USER


class PodmanRootlessEngine(PodmanEngine):
    """Podman as an unprivileged user, with its own image store and networks (slirp4netns)."""

    name = "podman-rootless"

    def __init__(self, cli: Cli | None = None, user: str | None = None):
        self.user = user or rootless_user()
        try:
            self.account: pwd.struct_passwd | None = pwd.getpwnam(self.user)
        except KeyError:
            self.account = None
        runtime = f"/run/user/{self.account.pw_uid}" if self.account else "/nonexistent"
        home = self.account.pw_dir if self.account else "/nonexistent"
        prefix = (RUNUSER, "-u", self.user, "--", "env", f"XDG_RUNTIME_DIR={runtime}", f"HOME={home}")
        super().__init__(cli or Cli(podman_binary(), prefix=prefix))

    def _remote_args(self, remote: Remote) -> tuple[str, ...]:
        raise RemoteSpecError(
            f"engine {self.name!r} runs Podman as a user of this machine; for rootless Podman on another, "
            "name that user's API socket: podman@ssh://USER@HOST/run/user/UID/podman/podman.sock"
        )

    def info(self) -> EngineInfo:
        """Unavailable, with the exact reason, when this host cannot run rootless Podman."""
        reason = self._unavailable_reason()
        if reason:
            return EngineInfo(self.name, False, unavailable_reason=f"engine {self.name!r}: {reason}")
        info = super().info()
        if info.is_available and not info.is_rootless:
            return EngineInfo(
                self.name,
                False,
                unavailable_reason=(f"engine {self.name!r}: podman run as {self.user} does not report rootless mode"),
            )
        return dataclasses.replace(info, name=self.name)

    def _unavailable_reason(self) -> str:
        if os.geteuid() != 0:
            return "seatrial must run as root to start podman as another user (runuser)"
        if self.account is None:
            return (
                f"no user {self.user!r}; vagrant/provision.sh creates it with subordinate uid and gid "
                "ranges (or set SEATRIAL_ROOTLESS_USER)"
            )
        for path in ("/etc/subuid", "/etc/subgid"):
            if not _has_range(Path(path), self.user):
                return f"{path} has no range for {self.user!r}; run vagrant/provision.sh (usermod --add-subuids)"
        for tool in ("newuidmap", "newgidmap"):
            if not shutil.which(tool):
                return f"{tool} not found; install uidmap (vagrant/provision.sh does)"
        if not shutil.which(self.cli.binary):
            return f"{self.cli.binary} not found; install podman"
        # No logind here to make the runtime directory at login: make it as logind would.
        runtime = Path(f"/run/user/{self.account.pw_uid}")
        if not runtime.is_dir():
            runtime.mkdir(mode=0o700, parents=True)
            os.chown(runtime, self.account.pw_uid, self.account.pw_gid)
        remove_stale_rootless_netns(runtime, self.cli)
        return ""

    def testinfra_host(self, container: str):
        """A testinfra Host that execs into the container as the rootless user, who owns it."""
        return container_host(self.testinfra_scheme, self.cli.binary, container, prefix=self.cli.prefix)

    def build(self, spec: BuildSpec) -> BuildResult:
        """The user must read the context, which lives in the root-owned session scratch."""
        self._hand_over(Path(spec.context), recursive=True)
        return super().build(spec)

    def _build_args(self, spec: BuildSpec, iidfile: Path) -> list[str]:
        self._hand_over(iidfile.parent, recursive=False)  # the user writes the image id there
        return super()._build_args(spec, iidfile)

    def run(self, spec: RunSpec) -> RunResult:
        """Bind sources in the session scratch become the user's, as a rootless user's own files."""
        for mount in spec.mounts:
            if mount.kind == "bind":
                self._hand_over(Path(mount.source), recursive=False)
        return super().run(spec)

    def _hand_over(self, path: Path, *, recursive: bool) -> None:
        """Let the user reach and own `path`, only inside a seatrial scratch directory: nothing else
        on the host is changed (a bind mount of / stays as it is)."""
        if self.account is None:
            return
        scratch = _scratch_root(path)
        if scratch is None:
            return
        for directory in [scratch, *[p for p in path.parents if p.is_relative_to(scratch) and p != scratch]]:
            mode = directory.stat().st_mode
            if not mode & 0o001:
                directory.chmod(mode | 0o001)  # traverse only: names inside stay private
        targets = [path, *(path.rglob("*") if recursive and path.is_dir() else [])]
        for target in targets:
            os.chown(target, self.account.pw_uid, self.account.pw_gid, follow_symlinks=False)


def _scratch_root(path: Path) -> Path | None:
    """The seatrial directory that holds `path`, if any: a session's scratch folder
    (<scratch root>/<session>, see seatrial.harness.session) or a build's temporary folder
    (tempdir/seatrial-*). Nothing outside them is ever handed to the user."""
    from seatrial.harness.session import scratch_root

    resolved = path.resolve()
    for base, prefix in ((scratch_root().resolve(), ""), (Path(tempfile.gettempdir()).resolve(), "seatrial-")):
        if resolved.is_relative_to(base) and resolved != base:
            top = base / resolved.relative_to(base).parts[0]
            if top.name.startswith(prefix):
                return top
    return None


def remove_stale_rootless_netns(runtime: Path, cli: Cli) -> list[Path]:
    """Reset a rootless network namespace that no container uses; return the files removed.

    Podman 4.3 keeps the network namespace of a rootless user's bridge networks on
    $XDG_RUNTIME_DIR/netns/rootless-netns-<hash>, mounted inside the mount namespace of the
    user's pause process, and removes both when the last container leaves. When setting it up
    fails (slirp4netns cannot open /dev/net/tun, say), half of it stays, and from then on every
    container on a bridge network and every build fails with "failed to mount runtime directory
    for rootless netns" until someone resets it. With no container of the user left, nothing
    can be using it: `podman system migrate` stops the pause process (its mounts go with it)
    and the files are removed. With containers left (another run's), it is left alone.
    """
    files = sorted((runtime / "netns").glob("rootless-netns-*"))
    if not files or cli.run("list containers", ["ps", "--all", "--quiet"], timeout=60, check=False).stdout.strip():
        return []
    cli.run("reset the rootless network namespace", ["system", "migrate"], timeout=60, check=False)
    for path in files:
        path.unlink(missing_ok=True)
    return files


def _has_range(path: Path, user: str) -> bool:
    try:
        return any(line.split(":")[0] == user for line in path.read_text().splitlines())
    except OSError:
        return False
