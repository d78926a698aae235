"""`seatrial fuzz`: generated Dockerfiles and contexts, built and probed on two engines side by
side; each divergence is shrunk (hypothesis) and written out as a new corpus case.

The generator draws from what the corpus covers by hand (.dockerignore patterns, variable
substitution, WORKDIR, COPY forms and flags, USER, EXPOSE, LABEL, RUN that deletes), so that a
divergence it finds is a corner of a documented rule. The same seed draws the same cases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from seatrial.harness.differential.corpuscase import Case, Probe
from seatrial.harness.differential.divergence import differences
from seatrial.harness.differential.livebench import EngineUnusable, live_benches, observe_safely

FILES = ["a", "b.txt", "c.log", "sub/d", "sub/e.log", "sub/deep/f"]
IGNORE = ["*.log", "**/*.log", "sub", "!sub/d", "/a", "b.*", "sub/*", "?", "[ab]*", "!a", "sub/deep", "*"]
VALUES = ["x", "$A", "${A:-d}", "${B:+p}", "${A}-y", "\\$A", '"q $A"', "'s $A'", "${U:-${A}}"]
INSTRUCTIONS = [
    st.sampled_from(VALUES).map(lambda v: f"ENV A=1 B={v}"),
    st.sampled_from(VALUES).map(lambda v: f"ENV U={v} A=2"),
    st.sampled_from(["/w", "rel", "../up", "/w/./x/", "$A", "/w/${B:-b}"]).map(lambda v: f"WORKDIR {v}"),
    st.sampled_from(
        [
            "COPY . /ctx/",
            "COPY sub /s",
            "COPY --chown=1:2 a /x/",
            "COPY *.log /logs/",
            "COPY a b.txt /two/",
            "COPY sub/ .",
            "ADD sub/deep /deep",
            "COPY --chown=nobody . /o/",
        ]
    ),
    st.sampled_from(["USER nobody", "USER 1000", "USER nobody:nogroup", "USER $A"]),
    st.sampled_from(["EXPOSE 80", "EXPOSE 53/udp", "EXPOSE 8000-8001", "EXPOSE $A"]),
    st.sampled_from(VALUES).map(lambda v: f"LABEL l={v}"),
    st.sampled_from(["RUN mkdir -p /made", "RUN rm -f /etc/group", "RUN touch /tmp/t", "RUN ln -s /etc /l"]),
]
# HOSTNAME is the container id; HOME is left out because the corpus already documents where the
# reference runtime differs there (run-default-environment): a fuzz run against Docker otherwise
# shrinks every case to that one known divergence (seen with --seed 12).
PROBE = Probe(command=("sh", "-c", "pwd; id; env | grep -v -e ^HOSTNAME= -e ^HOME= | sort"))


def files_strategy():
    content = st.sampled_from(["", "x\n", "hello\n"])
    mode = st.sampled_from(["0644", "0755", "0600", "0444"])
    spec = st.one_of(content, st.fixed_dictionaries({"content": content, "mode": mode}), st.just({"symlink": "a"}))
    return st.dictionaries(st.sampled_from(FILES), spec, max_size=5)


@st.composite
def cases(draw) -> Case:
    """A case: a context, maybe a .dockerignore, one to six instructions, maybe a probe."""
    files = dict(draw(files_strategy()))
    ignore = draw(st.lists(st.sampled_from(IGNORE), max_size=3))
    if ignore:
        files[".dockerignore"] = "\n".join(ignore) + "\n"
    body = draw(st.lists(st.one_of(*INSTRUCTIONS), min_size=1, max_size=6))
    return Case(
        name="fuzz",
        section="fuzz",
        dockerfile="FROM {{ base }}\n" + "\n".join(body) + "\n",
        files=files,
        probe=PROBE if draw(st.booleans()) else None,
    )


@dataclass
class Finding:
    """The smallest diverging case seen so far (hypothesis shrinks towards it)."""

    case: Case | None = None
    aspects: list[str] = field(default_factory=list)

    def offer(self, case: Case, aspects: list[str]) -> None:
        if self.case is None or _size(case) < _size(self.case):
            self.case, self.aspects = case, aspects


class BudgetSpent(Exception):
    """The time budget is over: stop generating."""


def fuzz(engines: list[str], budget: float, seed: int, out: Path, log: TextIO) -> int:
    """Run generated cases until `budget` seconds pass; 1 when a divergence was found (and
    written to `out`), 0 when none, 3 when an engine is not usable."""
    finding, started, count = Finding(), time.monotonic(), [0]
    try:
        with live_benches(engines, {}, log) as benches:

            @hypothesis_seed(seed)
            @settings(
                database=None,
                deadline=None,
                max_examples=100_000,
                derandomize=False,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(cases())
            def agree(case: Case) -> None:
                if time.monotonic() - started > budget:
                    raise BudgetSpent()
                count[0] += 1
                seen = [observe_safely(bench, case) for bench in benches]
                aspects = [d.aspect for d in differences(seen[0], seen[1])]
                print(
                    f"[{count[0]} {time.monotonic() - started:.0f}s] "
                    + (f"DIVERGED: {', '.join(aspects[:4])}" if aspects else "agree"),
                    file=log,
                    flush=True,
                )
                if aspects:
                    finding.offer(case, aspects)
                    raise AssertionError(aspects)

            try:
                agree()
            except (AssertionError, BudgetSpent, ExceptionGroup):
                pass  # hypothesis re-raises what it shrank (both kinds at once: a group); the finding holds it
    except EngineUnusable as exc:
        print(exc, file=log)
        return 3
    print(f"fuzz: {count[0]} cases in {time.monotonic() - started:.0f}s (seed {seed})", file=log)
    if finding.case is None:
        return 0
    path = write_case(finding.case, finding.aspects, seed, out)
    print(f"fuzz: divergence ({', '.join(finding.aspects[:6])}) written to {path}", file=log)
    return 1


def write_case(case: Case, aspects: list[str], seed: int, out: Path) -> Path:
    """Append the case to the corpus file `out` under a name from the seed."""
    existing = yaml.safe_load(out.read_text()) if out.is_file() else None
    doc: dict[str, Any] = existing or {"cases": []}
    entry: dict[str, Any] = {
        "name": f"fuzz-{seed}-{len(doc['cases']) + 1}",
        "summary": f"found by seatrial fuzz --seed {seed}; differs in {', '.join(aspects[:6])}",
        "dockerfile": case.dockerfile,
        "files": dict(case.files),
    }
    if case.probe is not None:
        entry["probe"] = list(case.probe.command or ())
    doc["cases"].append(entry)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.dump(doc, Dumper=_CorpusDumper, sort_keys=False, allow_unicode=True))
    return out


class _CorpusDumper(yaml.SafeDumper):
    """Corpus files as people write them: no anchors or aliases, multi-line text as blocks."""

    def ignore_aliases(self, data) -> bool:
        return True


_CorpusDumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str",
        text,
        style="|" if "\n" in text.rstrip("\n") or text.endswith("\n") and len(text) > 1 else None,
    ),
)


def _size(case: Case) -> int:
    return len(case.dockerfile) + sum(len(str(k)) + len(str(v)) for k, v in case.files.items())
