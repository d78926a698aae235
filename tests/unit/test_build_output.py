"""The three cache-report parsers on real captured build outputs (fixtures/buildlog/capture.sh).

The fixture Dockerfile's RUN at index 3 prints every builder's cache marker; each capture runs it
as a miss, so a parser that trusts any marker line would report a hit there: the case made to
break each parser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seatrial.engines.base import InstructionCache
from seatrial.engines.buildlog import dockerfile_stages, drop_label_steps, parse_buildkit, parse_classic, parse_podman

FIXTURES = Path(__file__).parent / "fixtures" / "buildlog"
DOCKERFILE = (FIXTURES / "multistage.Dockerfile").read_text()
LABELS = 1  # capture.sh builds with one --label

# Dockerfile positions: 0 FROM, 1 RUN, 2 COPY a.txt, 3 RUN (prints markers), 4 FROM, 5 WORKDIR,
# 6 COPY --from, 7 ENV, 8 CMD. None: FROM, and what BuildKit does not report (ENV, CMD).
EXPECTED = {
    "cold": [None, False, False, False, None, False, False, False, False],
    "rebuild": [None, True, True, True, None, True, True, True, True],
    "changed": [None, True, False, False, None, True, False, False, False],
}


def report(builder: str, case: str) -> list[InstructionCache]:
    log = (FIXTURES / f"{builder}-{case}.log").read_text()
    if builder == "classic":
        return drop_label_steps(parse_classic(log), LABELS)
    if builder == "podman":
        return drop_label_steps(parse_podman(log, DOCKERFILE), LABELS)
    return parse_buildkit(log, DOCKERFILE)


@pytest.mark.parametrize("case", sorted(EXPECTED))
@pytest.mark.parametrize("builder", ["classic", "buildkit", "podman"])
def test_cache_report_matches_what_the_builder_did(builder, case):
    result = report(builder, case)
    expected = list(EXPECTED[case])
    if builder == "buildkit":
        expected[7] = expected[8] = None
    assert [r.index for r in result] == list(range(9))
    assert [r.is_cache_hit for r in result] == expected


@pytest.mark.parametrize("builder", ["classic", "buildkit", "podman"])
def test_marker_printed_by_a_run_is_not_a_cache_hit(builder):
    # The RUN at index 3 printed " ---> Using cache", "--> Using cache 0123456789ab", "#5 CACHED".
    assert report(builder, "changed")[3].is_cache_hit is False
    assert report(builder, "changed")[3].instruction.startswith("RUN cat /a.txt")


def test_buildkit_out_of_order_vertices_are_sorted_by_dockerfile_position():
    log = (FIXTURES / "buildkit-changed.log").read_text()
    printed = [line.split("]")[1].split()[0] for line in log.splitlines() if "[first" in line or "[stage-1" in line]
    assert printed.index("WORKDIR") > printed.index("RUN")  # BuildKit printed stage 2 late
    assert [r.index for r in parse_buildkit(log, DOCKERFILE)] == list(range(9))


def test_buildkit_single_stage_without_stage_name():
    dockerfile = "FROM base\nRUN a\nENV X=1\nCOPY f /f\n"
    log = "#4 [1/3] FROM docker.io/library/base\n#5 [2/3] RUN a\n#5 CACHED\n#6 [3/3] COPY f /f\n#6 DONE 0.0s\n"
    assert [(r.index, r.is_cache_hit) for r in parse_buildkit(log, dockerfile)] == [
        (0, None),
        (1, True),
        (2, None),
        (3, False),
    ]


def test_buildkit_target_leaves_out_later_stages():
    dockerfile = "FROM a AS one\nRUN x\nFROM a AS two\nRUN y\n"
    log = "#4 [one 2/2] RUN x\n#4 CACHED\n"
    assert [(r.index, r.is_cache_hit) for r in parse_buildkit(log, dockerfile, target="one")] == [(0, None), (1, True)]


def test_podman_single_stage_without_stage_prefix():
    log = "STEP 1/2: FROM base\nSTEP 2/2: RUN a\n--> Using cache 0123456789abcdef\n--> 0123456789a\nCOMMIT x\n"
    assert [(r.index, r.is_cache_hit) for r in parse_podman(log, "FROM base\nRUN a\n")] == [(0, None), (1, True)]


def test_podman_using_cache_without_the_matching_id_is_a_miss():
    log = "STEP 1/2: FROM base\nSTEP 2/2: RUN a\n--> Using cache 0123456789abcdef\n--> fedcba98765\n"
    assert parse_podman(log, "FROM base\nRUN a\n")[1].is_cache_hit is False


def test_classic_using_cache_after_running_in_is_a_miss():
    log = (
        "Step 1/2 : FROM base\n ---> 1141b7884a9c\nStep 2/2 : RUN a\n ---> Running in 4967a517ab66\n"
        " ---> Using cache\nRemoving intermediate container 4967a517ab66\n ---> ef0c354736aa\n"
    )
    assert [r.is_cache_hit for r in parse_classic(log)] == [None, False]


def test_label_steps_are_dropped_only_when_they_are_labels():
    steps = [InstructionCache(0, "FROM a", None), InstructionCache(1, "RUN x", True)]
    assert drop_label_steps(steps, 1) == steps
    assert drop_label_steps(steps + [InstructionCache(2, 'LABEL "k"="v"', True)], 1) == steps
    assert drop_label_steps(steps, 0) == steps


def test_dockerfile_stages_join_continuations_and_skip_comments():
    stages = dockerfile_stages("# c\nFROM a AS build\nRUN x \\\n  && y\n\nFROM b\nCOPY --from=build /x /x\n")
    assert [(s.name, s.start, len(s.instructions)) for s in stages] == [("build", 0, 2), ("stage-1", 2, 2)]
    assert stages[0].instructions[1] == "RUN x  && y"
