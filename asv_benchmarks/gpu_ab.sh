#!/bin/bash
# Before/after of two source trees on the GPU in one device call: the product
# rows of gpu_targets.py (--products-only), run base, new, new, base; compare
# the smaller of each tree's two medians per row.
#
#   bash asv_benchmarks/gpu_ab.sh BASE_TREE NEW_TREE
#
# Each tree is a checkout of the repository (for example `git worktree add` or
# `git archive` of a commit, staged beside the working tree and carried to the
# device).  Wheels in .whl/ are installed into /tmp/site first, as in
# gpu_check.sh.  Logs go to $OUT when it is set.
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp}
BASE=$(cd "$1" && pwd) || exit 2
NEW=$(cd "$2" && pwd) || exit 2
HERE=$(cd "$(dirname "$0")" && pwd)
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
i=0
for tree in "$BASE" "$NEW" "$NEW" "$BASE"; do
    i=$((i + 1))
    echo "=== run $i: $tree"; date
    (cd "$tree" && PYTHONPATH=/tmp/site:$tree timeout 240 python3 "$HERE/gpu_targets.py" --products-only) \
        > "$OUT/ab_$i.log" 2>&1
    grep "^| N = " "$OUT/ab_$i.log" | tail -20
done
python3 - "$OUT" <<'PY'
import sys
out = sys.argv[1]

def rows(path):
    found = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("N = "):
            found[(cells[1], cells[2])] = float(cells[3])
    return found

base = [rows(f"{out}/ab_{i}.log") for i in (1, 4)]
new = [rows(f"{out}/ab_{i}.log") for i in (2, 3)]
print("| law | product | base ms | new ms | new / base |")
print("| --- | --- | ---: | ---: | ---: |")
for key in base[0]:
    b = min(r[key] for r in base if key in r)
    n = min((r[key] for r in new if key in r), default=float("nan"))
    print(f"| {key[0]} | {key[1]} | {b:.3f} | {n:.3f} | {n / b:.3f} |")
PY
