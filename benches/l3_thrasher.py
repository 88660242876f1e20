"""Streams over a large buffer until killed, reading one word of every cache line, to take most of
a shared last-level cache away from the other core: on a machine whose L3 holds every env (the
Xeons of docs/BENCHMARKS.md, 260-480 MiB), it brings back the cache misses that thousands of envs
meet on an ordinary server (the EPYC's 32 MiB, shared with other tenants).

    taskset -c 1 .venv/bin/python benches/l3_thrasher.py 240 &
    RAYON_NUM_THREADS=1 taskset -c 0 .venv/bin/python benches/python_vs_socium.py --repeats 3
    kill %1

An emulation, not a smaller cache: the thrasher also takes memory bandwidth, as a busy neighbour
does. Compare builds under the same thrasher, never against figures taken without it.
"""

import sys

import numpy as np


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 240
    words = np.ones(mib * (1 << 20) // 8, np.int64)
    lines = words[::8]  # one 8-byte word of each 64-byte line
    while True:
        lines.sum()


if __name__ == "__main__":
    main()
