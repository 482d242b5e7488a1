"""Reads the workers' output files ("<shard> <number>" lines) and says whether every number 1..N arrived."""
import collections
import sys

total, files = int(sys.argv[1]), [a for a in sys.argv[2:] if a != "--quiet"]
seen = collections.Counter()
by_worker = {}
for path in files:
    shards = collections.Counter()
    with open(path) as f:
        for line in f:
            shard, number = line.split()
            seen[int(number)] += 1
            shards[shard] += 1
    by_worker[path.rsplit('/', 1)[-1]] = shards
missing = [n for n in range(1, total + 1) if n not in seen]
if "--quiet" not in sys.argv:
    for worker, shards in by_worker.items():
        print(f"   {worker}: " + ", ".join(f"{s} {c}" for s, c in sorted(shards.items())))
    print(f"   numbers 1..{total}: {total - len(missing)} arrived, {len(missing)} missing, "
          f"{sum(seen.values()) - len(seen)} delivered twice")
sys.exit(1 if missing else 0)
