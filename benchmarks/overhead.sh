#!/bin/bash
# The plain-script side of the harness-overhead benchmark: run the engine command given as
# arguments once and print its wall-clock seconds. Timed inside bash (EPOCHREALTIME, bash 5) so
# that bash's own start-up is not counted; the command's output is discarded like seatrial's is
# kept in memory.
set -euo pipefail
start=$EPOCHREALTIME
"$@" >/dev/null
end=$EPOCHREALTIME
# EPOCHREALTIME is seconds.microseconds; subtract as integers of microseconds.
s=${start/./}; e=${end/./}
printf '%d.%06d\n' $(( (e - s) / 1000000 )) $(( (e - s) % 1000000 ))
