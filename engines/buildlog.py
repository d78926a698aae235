"""Per-instruction cache hit/miss, read from what each builder prints.

Three builders, three formats (real captures are in tests/unit/fixtures/buildlog/):

- Docker classic builder: ``Step N/M : INSTR``; a hit prints `` ---> Using cache`` as the very
  next line, before anything the instruction itself prints.
- BuildKit (``--progress=plain``): ``#N [stage k/m] INSTR`` and later ``#N CACHED``; only FROM,
  RUN, COPY, ADD and WORKDIR are reported, vertices may print out of Dockerfile order, and a FROM
  shared by two stages is printed once.
- Podman/Buildah: ``[s/S] STEP k/m: INSTR`` (no ``[s/S]`` for one stage); a hit prints
  ``--> Using cache <full id>`` and then ``--> <short id>`` with the same id. RUN output goes to
  the same stream unprefixed, so a RUN can print a fake marker: the id pair tells them apart.

Every parser returns InstructionCache records whose index is the instruction's 0-based position
in the Dockerfile, so that one scenario's indices mean the same on every engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from seatrial.engines.base import InstructionCache

# BuildKit turns these into build steps; the others only change the image config.
BUILDKIT_STEPS = {"FROM", "RUN", "COPY", "ADD", "WORKDIR"}


@dataclass(frozen=True)
class Stage:
    """One FROM stage of a Dockerfile: its name (``AS x``, else ``stage-<i>``) and instructions."""

    name: str
    start: int  # Dockerfile position of its FROM
    instructions: tuple[str, ...]


def dockerfile_stages(text: str) -> list[Stage]:
    """Split a Dockerfile into stages (comments dropped, continuation lines joined)."""
    instructions: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        instructions.append((pending + stripped).strip())
        pending = ""
    if pending.strip():
        instructions.append(pending.strip())
    stages: list[Stage] = []
    for pos, instr in enumerate(instructions):
        if _keyword(instr) == "FROM":
            words = instr.split()
            name = words[3] if len(words) >= 4 and words[2].upper() == "AS" else f"stage-{len(stages)}"
            stages.append(Stage(name, pos, ()))
        elif stages:
            last = stages[-1]
            stages[-1] = Stage(last.name, last.start, last.instructions + (instr,))
    return [Stage(s.name, s.start, (instructions[s.start],) + s.instructions) for s in stages]


def parse_classic(log: str) -> list[InstructionCache]:
    """Docker's classic builder: a hit iff the line right after ``Step`` says ``Using cache``."""
    lines = log.splitlines()
    result = []
    for i, line in enumerate(lines):
        m = re.match(r"^Step (\d+)/\d+ : (.*)$", line)
        if not m:
            continue
        instr = m.group(2)
        following = lines[i + 1] if i + 1 < len(lines) else ""
        hit = None if _keyword(instr) == "FROM" else following.strip() == "---> Using cache"
        result.append(InstructionCache(int(m.group(1)) - 1, instr, hit))
    return result


def parse_podman(log: str, dockerfile: str) -> list[InstructionCache]:
    """Podman/Buildah: a hit iff ``--> Using cache ID`` is confirmed by a later ``--> ID``."""
    stages = dockerfile_stages(dockerfile)
    steps: list[tuple[int, str, list[str]]] = []  # (position, instruction, lines after it)
    running = 0
    for line in log.splitlines():
        m = re.match(r"^(?:\[(\d+)/\d+\] )?STEP (\d+)/\d+: (.*)$", line)
        if m:
            stage = int(m.group(1) or 1) - 1
            k = int(m.group(2)) - 1
            # Map through the Dockerfile so stages skipped by --target keep their positions.
            start = stages[stage].start if stage < len(stages) else running - k
            steps.append((start + k, m.group(3), []))
            running = start + k + 1
        elif steps:
            steps[-1][2].append(line)
    return [
        InstructionCache(pos, instr, None if _keyword(instr) == "FROM" else _podman_hit(after))
        for pos, instr, after in steps
    ]


def _podman_hit(lines: list[str]) -> bool:
    cached = [line[len("--> Using cache ") :].strip() for line in lines if line.startswith("--> Using cache ")]
    made = [
        line[len("--> ") :].strip()
        for line in lines
        if line.startswith("--> ") and not line.startswith("--> Using cache")
    ]
    return any(c.startswith(m) for c in cached for m in made if m)


def parse_buildkit(log: str, dockerfile: str, target: str | None = None) -> list[InstructionCache]:
    """BuildKit plain progress, mapped back onto every instruction of the built stages.

    Instructions BuildKit does not report (ENV, CMD, LABEL, ...) get is_cache_hit None, so the
    records line up with the other builders'; the result is sorted by Dockerfile position.
    """
    stages = dockerfile_stages(dockerfile)
    vertices: dict[str, tuple[str, int, str]] = {}  # "#N" -> (stage name, k, instruction)
    cached: set[str] = set()
    for line in log.splitlines():
        m = re.match(r"^#(\d+) \[(?:(\S+) )?(\d+)/\d+\] (.*)$", line)
        if m:
            stage = m.group(2) or (stages[0].name if stages else "stage-0")
            vertices[m.group(1)] = (stage, int(m.group(3)) - 1, m.group(4))
        elif re.match(r"^#\d+ CACHED$", line):
            cached.add(line.split()[0][1:])
    reported = {(stage, k): (instr, n in cached) for n, (stage, k, instr) in vertices.items()}
    if target is not None:
        names = [s.name for s in stages]
        stages = stages[: names.index(target) + 1] if target in names else stages
    result = []
    for stage in stages:
        k = 0
        for offset, instr in enumerate(stage.instructions):
            hit = None
            if _keyword(instr) in BUILDKIT_STEPS:
                if (stage.name, k) in reported and _keyword(instr) != "FROM":
                    instr, hit = reported[(stage.name, k)]
                k += 1
            result.append(InstructionCache(stage.start + offset, instr, hit))
    return sorted(result, key=lambda r: r.index)


def drop_label_steps(instructions: list[InstructionCache], count: int) -> list[InstructionCache]:
    """Drop the `count` LABEL steps that classic Docker and Podman append, one per ``--label``.

    They are not in the Dockerfile, and BuildKit does not print them, so they would shift counts.
    """
    tail = instructions[len(instructions) - count :] if count else []
    if count and all(_keyword(i.instruction) == "LABEL" for i in tail):
        return instructions[: len(instructions) - count]
    return instructions


def _keyword(instruction: str) -> str:
    return instruction.split(None, 1)[0].upper() if instruction.strip() else ""
