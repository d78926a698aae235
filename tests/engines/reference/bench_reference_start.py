"""Start-to-exit of `true` on the reference runtime: network none, default bridge, user bridge.

Not a test (speed is measured by the benchmark suite); a quick check while working:
  sudo .venv/bin/python tests/engines/reference/bench_reference_start.py [runs] [--harness-imports]
Interleaved runs; prints median, p10 and p90 per network, and exec of `true`.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from reference_busybox import IMAGE, write_archive  # noqa: E402

if "--harness-imports" in sys.argv:  # fork-heavy paths grow with the process's size
    import pandas, pydantic, pytest, rich, yaml  # noqa: E401,F401

from seatrial.engines import base  # noqa: E402
from seatrial.engines.reference.adapter import ReferenceEngine  # noqa: E402


def main() -> None:
    runs = int(next((a for a in sys.argv[1:] if a.isdigit()), "60"))
    with tempfile.TemporaryDirectory() as tmp:
        engine = ReferenceEngine(Path(tmp) / "state")
        engine.load(write_archive(Path(tmp) / "busybox.tar"))
        labels = {"seatrial.session": "bench"}
        engine.network_create(base.NetworkSpec("bench-net", labels=labels))
        times: dict[str, list[float]] = {"none": [], "bridge": [], "bench-net": [], "exec": []}
        try:
            for i in range(runs):
                for network in ("none", "bridge", "bench-net"):
                    began = time.perf_counter()
                    engine.run(base.RunSpec(image=IMAGE, name=f"b{i}", command=("true",), network=network,
                                            remove=True, labels=labels))
                    times[network].append(time.perf_counter() - began)
            engine.run(base.RunSpec(image=IMAGE, name="target", command=("sleep", "600"), network="none",
                                    detach=True, labels=labels))
            for _ in range(runs):
                began = time.perf_counter()
                engine.exec("target", ("true",))
                times["exec"].append(time.perf_counter() - began)
        finally:
            engine.reap(session="bench")
            engine.reap(label="seatrial.session")
        for name, values in times.items():
            deciles = statistics.quantiles(values, n=10)
            print(f"{name:10} median {statistics.median(values) * 1000:6.2f} ms   "
                  f"p10 {deciles[0] * 1000:6.2f}   p90 {deciles[-1] * 1000:6.2f}   n={len(values)}")


if __name__ == "__main__":
    main()
