"""A step's `duration` in events.jsonl is its wall-clock time even when the step kind times
nothing itself (remove, volume, a refused operation): issue 14 found 0.0 beside timestamps
0.2–0.37 s apart."""

from __future__ import annotations

import time

import pytest
from fakes import RecordingEngine

from seatrial.engines.base import EngineError
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.model import Scenario
from seatrial.harness.runner import execute_step
from seatrial.harness.session import Session

PAUSE = 0.05


class SlowEngine(RecordingEngine):
    """Removal takes a while; removing "refused" is refused by the engine."""

    def remove(self, ref):
        time.sleep(PAUSE)
        if ref.handle == "refused":
            raise EngineError(f"remove {ref.kind} {ref.handle}", "conflict: in use")
        super().remove(ref)


@pytest.fixture
def session():
    s = Session.start()
    yield s
    s.close()


@pytest.mark.parametrize("body", [{"image": "gone"}, {"image": "refused"}])
def test_step_duration_is_measured_when_the_step_kind_does_not_time_itself(session, body):
    scenario = Scenario.model_validate(
        {
            "schema_version": 1,
            "name": "t",
            "summary": "x",
            "claims": ["C01"],
            "steps": [{"remove": body, "expect": {"fails": True}} if body["image"] == "refused" else {"remove": body}],
        }
    )
    ctx = ItemContext(
        engine=SlowEngine(), session=session, scenario=scenario, index=1, base_image=lambda e: "base:1", facts={}
    )
    ctx.images[body["image"]] = body["image"]  # as if an earlier build step had made it
    records = []
    execute_step(ctx, 0, scenario.steps[0], lambda record_type, **fields: records.append((record_type, fields)))
    [(record_type, step)] = records
    assert record_type == "step"
    assert step["duration"] >= PAUSE, step
