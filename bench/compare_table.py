"""Turns compare.sh's JSON lines into one Markdown table: each figure per server, and Millrace / peer."""
import datetime
import json
import sys

path, cores, mem, command = sys.argv[1:5]
rows = [json.loads(line) for line in open(path) if line.strip()]
servers = list(dict.fromkeys(r["server"] for r in rows))
scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
by = {(r["server"], r["scenario"]): r for r in rows}
peers = [s for s in servers if s != "millrace"]


def main_figure(r):
    """The figure that matters for the scenario, and its unit (latency: p50, lower is better)."""
    if r.get("error") and not r.get("records"):
        return None, ""
    if r["scenario"] == "latency":
        return r.get("latencyP50Ms"), "p50 ms"
    if r["scenario"] == "put-records-10k":
        return r["megabytesPerSecond"], "MB/s"
    return r["recordsPerSecond"], "records/s"


def fmt(v):
    return "n/a" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:,.1f}")


print(f"Machine: {cores} cores, {mem} GiB RAM; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{command}`.")
print()
head = "| scenario | unit | " + " | ".join(servers) + " | " + " | ".join(f"Millrace / {p}" for p in peers) + " |"
print(head)
print("|" + "---|" * (2 + len(servers) + len(peers)))
for sc in scenarios:
    figures = {s: main_figure(by[(s, sc)]) if (s, sc) in by else (None, "") for s in servers}
    unit = next((u for _, u in figures.values() if u), "")
    m = figures.get("millrace", (None, ""))[0]
    ratios = []
    for p in peers:
        v = figures[p][0]
        ratios.append("n/a" if not m or not v else f"{m / v:.2f}x")
    print(f"| {sc} | {unit} | " + " | ".join(fmt(figures[s][0]) for s in servers) + " | " + " | ".join(ratios) + " |")
print()
print("Server resources during each measured part (CPU seconds; peak RSS of the process so far, MiB), with failures:")
print()
print("| scenario | " + " | ".join(f"{s} CPU s / peak RSS" for s in servers) + " |")
print("|" + "---|" * (1 + len(servers)))
for sc in scenarios:
    cells = []
    for s in servers:
        r = by.get((s, sc))
        if r is None:
            cells.append("n/a")
            continue
        cell = f"{r.get('serverCpuSeconds', 'n/a')} / {r.get('serverPeakRssMiB', 'n/a')}"
        if r.get("failedRecords") or r.get("errorResponses"):
            cell += f" (failed {r['failedRecords']}, errors {r['errorResponses']})"
        if r.get("error"):
            cell += " — " + r["error"][:80].replace("|", "/").replace("\n", " ")
        cells.append(cell)
    print(f"| {sc} | " + " | ".join(cells) + " |")
