"""The zygote: a small helper process that forks container shims on the harness's behalf.

Kernel facilities: fork(2) (its cost grows with the forking process's memory, and a harness with
pandas and pytest loaded is several times the size of this process), unix(7) SOCK_SEQPACKET with
SCM_RIGHTS to receive the shim's pipe ends and published-port listeners, SIGCHLD set to SIG_IGN
so the kernel reaps the shims (signal(7)), sched(7) SCHED_IDLE. The zygote exits when the
harness's end of the socket closes, including when the harness is killed; shims then belong to
init and keep running.

It keeps two *spares* ready: shims forked ahead, at SCHED_IDLE so that they never take a core
from a running container, each of which makes its sandbox (namespaces, pid 1 forked and waiting:
shim.prepare_sandbox) and then announces itself to the harness with two sockets, its own
and its pid 1's. The harness sends a `run` straight to both (no hop through the zygote; pid 1
assembles the rootfs while the shim sets up the network) and, once that start is through, tells
the zygote the spare is taken, and the zygote forks the next (a spare made during a start held
kernel locks the start needed); the second spare serves a run that follows at once. A spare
holds no container and no named kernel object; when the harness goes, it and its pid 1 see EOF
and exit. SEATRIAL_REFERENCE_PREWARM=0 turns
spares off: each shim is then forked on request (`bench_reference_start.py --cold`).

Each spare also makes a container folder ahead (readyfolder.py), still at SCHED_IDLE, with the
/etc files of the texts that came with the harness's last request for a spare, and announces its
id; the harness's next run renames the oldest such folder into place (`take_folder`), whichever
spare or shim then runs it. A spare that the harness leaves unused removes its folder.

A spare's pid 1 execs the C pid 1 (containerinit.c) while it waits, when that program is built:
the spec then goes to it in its own encoding. A spec it cannot take (a volume to seed), or any
spec while SEATRIAL_REFERENCE_NATIVE_INIT=0, leaves such a spare for the next run and goes to a
shim forked anew, whose pid 1 stays Python.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from . import kernel as k
from . import readyfolder
from .containerinit import NATIVE_INIT, native_spec_message
from .nsexec import exec_child
from .processspec import BASE_NAMESPACES, Interface, ProcessSpec, close_other_fds
from .procfs import start_time
from .readyfolder import Ready
from .rootfs import BindMount, RootfsSpec
from .shim import fits, prepare_sandbox, run_shim, spec_message

_BOOT = "import sys; from seatrial.engines.reference.zygote import serve; serve(int(sys.argv[1]), sys.argv[2])"


SPARE_NAMESPACES = BASE_NAMESPACES | k.CLONE_NEWNET  # what every network but host needs
# Spares kept: a new one is made only after the start that took one is through (Zygote.replenish),
# so a run that follows at once finds the second
SPARES = 2
TEXTS_KEPT = 8  # /etc texts the harness remembers (a spare's folder names the texts it has by number)
FOLDER_AFTER_S = 0.02  # a spare makes a container folder ahead once no run asked for it this long
# harness -> zygote: the announced spare is used, make the next; then, pickled, the number and
# texts of the /etc files for the folder it makes ahead (readyfolder.py)
TAKEN = b"taken"
SPARE = b"spare"  # spare -> harness: "spare SHIM_PID PID1 NATIVE SHIM_START PID1_START", with the two sockets
# spare -> harness, after SPARE: "folder SHIM_PID ID TEXTS", the folder it made ahead and the
# number of the /etc texts in it
FOLDER = b"folder"


@dataclasses.dataclass
class Spare:
    """An announced spare, as the harness holds it."""

    shim_pid: int
    pid1: int
    shim_sock: socket.socket
    pid1_sock: socket.socket
    native: bool = False  # pid 1 is the C program (containerinit.c), which takes native_spec_message
    shim_start: str = ""  # the two start times (procfs.start_time), read by the spare ahead
    pid1_start: str = ""

    def close(self) -> None:
        self.shim_sock.close()
        self.pid1_sock.close()


class Zygote:
    """The harness's handle on its zygote, started on first use and restarted if it died."""

    def __init__(self, root: Path | None = None):
        self._root = root  # the state root the spares make container folders ahead in; None: none
        self._folders: list[Ready] = []  # made ahead by the spares, oldest first
        self._texts: dict[int, dict[str, str]] = {0: {}}  # number -> /etc texts sent to the zygote
        self._latest_texts = 0  # the number of the last texts sent
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._spares: list[Spare] = []  # announced, oldest first
        self._spares_owed = 0  # taken, and not asked for again yet (`replenish`)
        self._start_times: dict[int, str] = {}  # pid -> start time, of the spares handed a run

    def _connected(self) -> socket.socket:
        """The socket to a live zygote: started on first use, or anew if it died."""
        if self._sock is None or self._proc is None or self._proc.poll() is not None:
            return self._spawn()
        return self._sock

    def _spawn(self) -> socket.socket:
        self._drop_spares()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(theirs.fileno()), str(self._root or "")],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )
        theirs.close()
        self._sock = ours
        return ours

    def _drop_spares(self) -> None:
        for spare in self._spares:
            spare.close()
        self._spares = []
        self._folders = []  # each spare removes its own as it sees the harness go
        self._spares_owed = 0  # a new zygote makes its own

    def _keep_announcement(self, message: bytes, fds: list[int]) -> bool:
        """Take `message` as a spare's announcement (or of the folder it made) if it is one."""
        if message.startswith(FOLDER) and not fds:
            _, shim_pid, folder, texts = message.split()
            if self._root is not None:
                cid = folder.decode()
                files = readyfolder.texts_for(cid, self._texts.get(int(texts), {}))
                self._folders.append(Ready(cid, readyfolder.path_of(self._root, cid, int(shim_pid)), files))
            return True
        if not message.startswith(SPARE) or len(fds) != 2:
            return False
        _, shim_pid, pid1, native, shim_start, pid1_start = message.split()
        for fd in fds:  # SCM_RIGHTS hands them over inheritable; no exec'd tool may hold them
            os.set_inheritable(fd, False)
        self._spares.append(
            Spare(
                int(shim_pid),
                int(pid1),
                socket.socket(fileno=fds[0]),
                socket.socket(fileno=fds[1]),
                native == b"1",
                shim_start.decode().strip("-"),  # "-": the spare could not read it
                pid1_start.decode().strip("-"),
            )
        )
        return True

    def _read_announcements(self) -> None:
        sock = self._sock
        if sock is None:  # no zygote yet, so no spare either
            return
        while select.select([sock], [], [], 0)[0]:  # recv_fds ignores MSG_DONTWAIT in 3.11
            message, fds, _, _ = socket.recv_fds(sock, 256, 2)
            if not self._keep_announcement(message, fds):
                for fd in fds:
                    os.close(fd)
                return

    def launch(self, spec: ProcessSpec, ends: tuple[int, ...], kind: str = "shim") -> int:
        """Start a shim (or an exec child, kind="exec") for `spec` with the given fds; returns
        its pid. A shim comes from the announced spare when there is one that fits, else the
        zygote forks it."""
        payload = spec_message(spec) if kind == "shim" else pickle.dumps((kind, spec))
        fds = list(ends) + [listener.fileno() for listener, _, _ in spec.listeners]
        with self._lock:
            sock = self._connected()
            self._read_announcements()
            spare = self._spares[0] if self._spares and kind == "shim" else None
            if spare is not None and fits(SPARE_NAMESPACES, spec.namespaces):
                pid1_payload = self._pid1_payload(spare, spec, payload)
                if pid1_payload is not None:
                    self._spares.pop(0)
                    pid = self._use_spare(sock, spare, (pid1_payload, payload), fds, err_w=ends[2])
                    if pid is not None:
                        return pid
            for attempt in (1, 2):
                sock = self._connected()
                try:
                    socket.send_fds(sock, [payload], fds)
                    while True:  # a spare may announce itself before the reply comes
                        reply, extra, _, _ = socket.recv_fds(sock, 256, 2)
                        if not self._keep_announcement(reply, extra):
                            break
                    break
                except OSError:
                    self._sock = None
                    if attempt == 2:
                        raise
        if not reply.isdigit():
            raise OSError(f"zygote: {reply.decode(errors='replace') or 'no reply'}")
        return int(reply)

    @staticmethod
    def _pid1_payload(spare: Spare, spec: ProcessSpec, payload: bytes) -> bytes | None:
        """What the spare's pid 1 gets: the pickled spec, or for the C pid 1 its own encoding;
        None when that pid 1 cannot take the spec (a volume to seed, or the C pid 1 turned off):
        the spare is then left for the next run."""
        if not spare.native:
            return payload
        return native_spec_message(spec) if NATIVE_INIT.is_enabled() else None

    def _use_spare(
        self, sock: socket.socket, spare: Spare, payloads: tuple[bytes, bytes], fds: list[int], err_w: int
    ) -> int | None:
        """Send the spec to the spare's pid 1 and the request to its shim, then put both at the
        normal policy; None if the spare is gone before it got anything (then the zygote forks
        a shim). `sock` is the zygote's, told that the spare is taken.

        Both sends go while the two are still SCHED_IDLE, whose wake-ups never preempt: a shim
        woken at the normal policy took this process's CPU for about a millisecond before the
        spec reached pid 1, whose rootfs is the long pole of a start. pid 1 gets it first."""
        pid1_payload, payload = payloads  # pid 1's (in its own encoding if native) and the shim's
        try:
            try:
                socket.send_fds(spare.pid1_sock, [pid1_payload], [err_w])
            except OSError:
                return None  # the spare is gone; nothing of the run has reached it
            try:
                socket.send_fds(spare.shim_sock, [payload], fds)
            except OSError:
                # pid 1 has the spec but will never get GO; it must not go on with this
                # container's folder while a shim forked anew builds the same one
                with contextlib.suppress(OSError):
                    os.kill(spare.pid1, signal.SIGKILL)
                raise OSError("the spare shim died as the run was handed to it") from None
            for pid in (spare.pid1, spare.shim_pid):
                with contextlib.suppress(OSError):  # gone: the start's pipes tell the harness
                    os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
            if len(self._start_times) > 64:  # those of starts that failed before asking
                self._start_times.clear()
            self._start_times.update({spare.shim_pid: spare.shim_start, spare.pid1: spare.pid1_start})
            return spare.shim_pid
        finally:
            spare.close()
            self._spares_owed += 1  # asked for again once this start is through (`replenish`)

    def start_time(self, pid: int) -> str:
        """procfs.start_time of `pid`, as the spare read it ahead if `pid` is a spare's shim or
        pid 1 (one read of /proc less on the start's path each)."""
        with self._lock:
            known = self._start_times.pop(pid, "")
        return known or start_time(pid)

    def take_folder(self, containers: Path) -> Ready | None:
        """The oldest folder a spare made ahead, renamed into `containers` (readyfolder.take);
        None if there is none."""
        with self._lock:
            self._read_announcements()
            while self._folders:
                taken = readyfolder.take(self._folders.pop(0), containers)
                if taken is not None:
                    return taken
        return None

    def replenish(self, files: dict[str, str] | None = None) -> None:
        """Ask the zygote for the next spare, once the start that took the last one is through;
        its folder made ahead gets `files` (readyfolder.STUB for the id's first digits).
        Making a sandbox takes kernel locks that every start needs (the mount namespace's, the
        network's), and a spare works at SCHED_IDLE: one made during a start held them while
        it waited for a core, and the start's mounts waited on it (0.4 ms of pid 1's umount)."""
        with self._lock:
            if files is not None and files != self._texts[self._latest_texts]:
                self._latest_texts += 1
                self._texts[self._latest_texts] = dict(files)
                for old in [n for n in self._texts if n < self._latest_texts - TEXTS_KEPT]:
                    del self._texts[old]  # a folder with texts this old is rewritten whole
            number = self._latest_texts
            while self._spares_owed and self._sock is not None:
                self._spares_owed -= 1
                with contextlib.suppress(OSError):  # a dead zygote is restarted on the next launch
                    self._sock.send(TAKEN + pickle.dumps((number, self._texts[number])))

    def close(self) -> None:
        self._drop_spares()
        if self._sock is not None:
            self._sock.close()
            if self._proc is not None:
                self._proc.wait(timeout=5)
            self._sock = None


def _warm_up() -> None:
    """Unpickle a spec like a run's, ahead: a forked interpreter's first touch of each page it
    shares with the zygote (a reference count written, an object allocated) is a copy-on-write
    fault, and the first unpickling took a spare's shim 0.23 ms on the start's path."""
    rootfs = RootfsSpec(("/l",), "/u", "/w", "/m", (BindMount("/s", "/t"),))
    interface = Interface("10.0.0.2", "255.255.255.0", "10.0.0.1")
    sample = ProcessSpec(("true",), ("A=b",), "/", "", "h", rootfs, "/", 0, interface, seccomp=b"\0" * 8)
    pickle.loads(spec_message(sample))


def _spare_main(kern, link: socket.socket, root: str, texts: tuple[int, dict[str, str]]) -> None:
    """The spare: its sandbox and a container folder under `root` (readyfolder.py, with the
    /etc files of `texts`), made at SCHED_IDLE, announced to the harness on `link` (the zygote's
    socket to it); then one request, served as any shim serves it. The harness puts it back at
    the normal policy before sending the request."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # it waits for its pid 1
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setsid()
        close_other_fds({link.fileno()})
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        native = NATIVE_INIT.binary()
        sandbox = prepare_sandbox(kern, SPARE_NAMESPACES, str(native or ""))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _warm_up()
        starts = (start_time(os.getpid()) or "-").encode(), (start_time(sandbox.pid1) or "-").encode()
        announcement = b"%s %d %d %d %s %s" % (SPARE, os.getpid(), sandbox.pid1, native is not None, *starts)
        socket.send_fds(link, [announcement], [theirs.fileno(), sandbox.init_sock.fileno()])
        theirs.close()
        # The folder after the announcement, once no run has asked for this spare for a while
        # (FOLDER_AFTER_S), and only while none asks: a run that comes is served at once. Runs
        # back to back (1,000 detached for the density benchmark) then make their folders as
        # before, instead of paying for folders begun and left (2 of 5 were, 15 % more time in
        # all); runs with time between them (other engines', a scenario's other steps) find one.
        folder = None
        if root and not select.select([ours], [], [], FOLDER_AFTER_S)[0]:
            with contextlib.suppress(OSError):  # a folder left half made goes to the reaper's sweep
                folder = readyfolder.make(Path(root), texts[1], stop=lambda: bool(select.select([ours], [], [], 0)[0]))
        if folder is not None:
            with contextlib.suppress(OSError):  # the harness or the zygote is gone
                link.send(b"%s %d %s %d" % (FOLDER, os.getpid(), folder.cid.encode(), texts[0]))
        link.close()
        payload, fds, _, _ = socket.recv_fds(ours, 1 << 20, 64)
        if not payload:
            if folder is not None:  # not taken (a taken one is in containers/ now)
                readyfolder.discard(folder.path)
            os._exit(0)  # the harness is gone; pid 1 sees EOF on its socket and exits too
        ours.close()
        _, spec = pickle.loads(payload)
        listeners = tuple(
            (socket.socket(fileno=fds[5 + index]), address, port) for index, address, port in spec.listeners
        )
        sync_w, go_r, err_w, done_w, release_r = fds[:5]
        run_shim(kern, dataclasses.replace(spec, listeners=listeners), sync_w, go_r, err_w, done_w, release_r, sandbox)
    finally:
        os._exit(125)  # never return into the zygote's loop; the harness sees no spare or an error


def serve(fd: int, root: str = "") -> None:
    """The zygote's loop: a spare when one is wanted; then one request, one forked shim or exec
    child, one reply with its pid (or TAKEN: a new spare is wanted, its folder under `root` with
    the /etc texts that come with it)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    kern = k.Kernel()
    prewarm = os.environ.get("SEATRIAL_REFERENCE_PREWARM") != "0"
    spares_wanted = SPARES if prewarm else 0
    texts: tuple[int, dict[str, str]] = (0, {})
    while True:
        while spares_wanted:
            if os.fork() == 0:
                _spare_main(kern, sock, root, texts)
            spares_wanted -= 1
        try:
            payload, fds, _, _ = socket.recv_fds(sock, 1 << 20, 64)
        except OSError:
            return
        if not payload:
            return
        if payload.startswith(TAKEN):
            spares_wanted += prewarm
            if len(payload) > len(TAKEN):
                texts = pickle.loads(payload[len(TAKEN) :])
            continue
        try:
            kind, spec = pickle.loads(payload)
            pid = _fork_child(kern, kind, spec, fds)
            for end in fds:
                os.close(end)
            sock.send(str(pid).encode())
        except Exception as exc:
            for leftover in fds:
                try:
                    os.close(leftover)
                except OSError:
                    pass
            sock.send(f"{type(exc).__name__}: {exc}".encode() or b"error")


def _fork_child(kern, kind: str, spec: ProcessSpec, fds: list[int]) -> int:
    ends = fds[:5] if kind == "shim" else fds
    listeners = tuple(
        (socket.socket(fileno=os.dup(fds[5 + index])), address, port) for index, address, port in spec.listeners
    )
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # it waits for its own child
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if kind == "shim":
            sync_w, go_r, err_w, done_w, release_r = ends
            run_shim(kern, dataclasses.replace(spec, listeners=listeners), sync_w, go_r, err_w, done_w, release_r)
        exec_child(kern, spec, tuple(ends))
    for listener, _, _ in listeners:
        listener.close()
    return pid
