"""Builds with cache hits and misses, Dockerfile errors, and the reaper after a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from reference_busybox import IMAGE, links

from seatrial.engines import base
from seatrial.engines.reference.containers import session_tag
from seatrial.engines.reference.network import IFACE_PREFIX

DOCKERFILE = f"""\
FROM {IMAGE} AS tools
RUN echo tool > /tool.txt && dd if=/dev/zero of=/heavy bs=1k count=256 2>/dev/null

FROM {IMAGE}
WORKDIR /app
COPY deps.txt ./
RUN cat deps.txt > installed.txt
COPY src/ ./src/
COPY --from=tools /tool.txt /opt/
ENV MODE=prod
EXPOSE 8080
ENTRYPOINT ["sh", "-c"]
CMD ["echo $MODE; cat installed.txt src/app.txt /opt/tool.txt; pwd"]
"""


@pytest.fixture
def context(tmp_path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.txt").write_text("v1\n")
    (tmp_path / "deps.txt").write_text("deps\n")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    return tmp_path


def hits(result: base.BuildResult) -> list:
    return [step.is_cache_hit for step in result.instructions]


def test_build_reuses_every_layer_then_rebuilds_from_the_changed_copy(engine, labels, context):
    spec = base.BuildSpec(tag="built:1", context=context, labels=labels)
    first = engine.build(spec)
    assert hits(first) == [None, False, None] + [False] * 9
    assert hits(engine.build(spec)) == [None, True, None] + [True] * 9
    (context / "src" / "app.txt").write_text("v2\n")
    changed = engine.build(spec)
    assert hits(changed) == [None, True, None, True, True, True, False] + [False] * 5
    assert changed.instructions[6].instruction == "COPY src/ ./src/"
    result = engine.run(base.RunSpec(image="built:1", name="built", network="none", labels=labels, remove=True))
    assert result.stdout.split() == ["prod", "deps", "v2", "tool", "/app"]
    override = engine.run(
        base.RunSpec(
            image="built:1", name="built", command=("echo replaced",), network="none", labels=labels, remove=True
        )
    )
    assert override.stdout == "replaced\n"  # CMD replaced, ENTRYPOINT kept


def test_final_stage_ships_only_what_it_copies(engine, labels, context):
    tools = engine.build(base.BuildSpec(tag="tools:1", context=context, target="tools", labels=labels))
    final = engine.build(base.BuildSpec(tag="final:1", context=context, labels=labels))
    assert final.size < tools.size  # the 256 KiB of /heavy stayed behind
    result = engine.run(
        base.RunSpec(
            image="final:1", name="f", entrypoint=("ls",), command=("/",), network="none", labels=labels, remove=True
        )
    )
    assert "heavy" not in result.stdout.split()


def test_bad_dockerfile_names_the_line(engine, labels, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN true\nRUNN false\n")
    with pytest.raises(base.EngineError, match=r"Dockerfile:3: unknown instruction 'RUNN'"):
        engine.build(base.BuildSpec(tag="bad:1", context=tmp_path, labels=labels))


def test_failing_run_step_names_the_line_and_exit_code(engine, labels, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN exit 3\n")
    with pytest.raises(base.EngineError, match=r"Dockerfile:2: RUN exit 3: exit code 3"):
        engine.build(base.BuildSpec(tag="bad:2", context=tmp_path, labels=labels))


def test_removing_an_image_frees_its_unshared_layers(engine, labels, context):
    built = engine.build(base.BuildSpec(tag="gone:1", context=context, labels=labels, no_cache=True))
    layers = engine.inspect(built.image)["raw"]["layers"]
    base_layers = engine.inspect(base.ResourceRef("image", "", IMAGE))["raw"]["layers"]
    engine.remove(built.image)
    assert not engine.image_exists("gone:1")
    assert all(engine.images.layers.exists(layer) for layer in base_layers)
    assert not any(
        engine.images.layers.exists(layer)
        for layer in layers
        if layer not in base_layers and layer not in {kept for r in engine.images.all() for kept in r["layers"]}
    )


def _ppid(pid: int) -> int:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1


def _descendants(roots: list[int]) -> set[int]:
    found, frontier = set(), set(roots)
    while frontier:
        children = {int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) in frontier}
        found |= children
        frontier = children - set(roots)
    return found


def _running(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


HARNESS = """
import sys, time
from seatrial.engines import base
from seatrial.engines.reference.adapter import ReferenceEngine
engine = ReferenceEngine(sys.argv[1])
labels = {"seatrial.session": sys.argv[2]}
engine.network_create(base.NetworkSpec("doomed-net", labels=labels))
for name, network in (("doomed-1", "doomed-net"), ("doomed-2", "bridge"), ("doomed-3", "none")):
    engine.run(base.RunSpec(image=sys.argv[3], name=name, command=("sleep", "600"), network=network,
                            labels=labels, detach=True))
print("ready", flush=True)
time.sleep(600)
"""


def test_reaper_removes_resources_of_killed_session(engine, labels, state_root, session):
    before = links()
    harness = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HARNESS), str(state_root), session, IMAGE],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert harness.stdout.readline().strip() == "ready"
    records = [r for r in engine.state.containers_records() if r["labels"] == labels]
    pids = [int(p) for r in records for p in (engine.state.containers / r["id"] / "pids").read_text().split()]
    assert len(records) == 3 and all(os.path.exists(f"/proc/{pid}") for pid in pids)
    zygotes = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == harness.pid]
    assert zygotes, "the harness forks shims through a zygote child"
    # What else the zygote made: the spare shim, with its namespaces and waiting pid 1.
    spares = _descendants(zygotes) - set(pids)
    assert spares, "the zygote keeps a spare sandbox"
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait(timeout=10)
    for _ in range(200):  # the zygote sees EOF on its socket and exits, and the spare with it
        if not any(_running(p) for p in [*zygotes, *spares]):
            break
        time.sleep(0.01)
    assert not any(_running(p) for p in [*zygotes, *spares])
    removed = engine.reap(session=session)
    assert {"container doomed-1", "container doomed-2", "network doomed-net"} <= set(removed)
    assert engine.resources(f"seatrial.session={session}") == []
    assert not any(
        os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2] for pid in pids
    )
    # this session's links only: another xdist worker's tests make and remove their own
    assert not {name for name in links() - before if name.startswith(f"{IFACE_PREFIX}{session_tag(labels)}")}


def test_a_detached_container_does_not_hold_the_harness_output_open(engine, state_root, session):
    code = textwrap.dedent(HARNESS).replace('print("ready", flush=True)\ntime.sleep(600)', 'print("ready")')
    done = subprocess.run(
        [sys.executable, "-c", code, str(state_root), session, IMAGE], capture_output=True, text=True, timeout=30
    )  # hangs if a shim kept the pipe
    assert done.stdout.strip() == "ready"
    assert len(engine.resources(f"seatrial.session={session}")) == 4
