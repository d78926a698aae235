"""Start-to-exit of `true` on the reference runtime: network none, default bridge, user bridge.

Not a test (speed is measured by the benchmark suite); a quick check while working:
  sudo .venv/bin/python tests/engines/reference/bench_reference_start.py [runs] [--harness-imports]
      [--cold] [--gap SECONDS]
Interleaved runs; prints median, p10 and p90 per network, and exec of `true`.
  --cold     no spare sandbox (SEATRIAL_REFERENCE_PREWARM=0): every shim is forked on request
  --gap S    pause S seconds after each run, as when other engines' runs come in between (the
             benchmark suite interleaves engines); without it, the next spare is still being made
             while the next run starts
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from reference_busybox import IMAGE, write_archive

if "--cold" in sys.argv:
    os.environ["SEATRIAL_REFERENCE_PREWARM"] = "0"  # read by the zygote when it starts
GAP = float(sys.argv[sys.argv.index("--gap") + 1]) if "--gap" in sys.argv else 0.0

if "--harness-imports" in sys.argv:  # fork-heavy paths grow with the process's size
    import pandas  # noqa: F401

from seatrial.engines import base  # noqa: E402
from seatrial.engines.reference.adapter import ReferenceEngine  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 60
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
                    engine.run(
                        base.RunSpec(
                            image=IMAGE, name=f"b{i}", command=("true",), network=network, remove=True, labels=labels
                        )
                    )
                    times[network].append(time.perf_counter() - began)
                    time.sleep(GAP)
            engine.run(
                base.RunSpec(
                    image=IMAGE, name="target", command=("sleep", "600"), network="none", detach=True, labels=labels
                )
            )
            for _ in range(runs):
                began = time.perf_counter()
                engine.exec("target", ("true",))
                times["exec"].append(time.perf_counter() - began)
                time.sleep(GAP)
        finally:
            engine.reap(session="bench")
            engine.reap(label="seatrial.session")
        for name, values in times.items():
            deciles = statistics.quantiles(values, n=10)
            print(
                f"{name:10} median {statistics.median(values) * 1000:6.2f} ms   "
                f"p10 {deciles[0] * 1000:6.2f}   p90 {deciles[-1] * 1000:6.2f}   n={len(values)}"
            )


if __name__ == "__main__":
    main()
