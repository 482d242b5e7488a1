#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that takes bytes from the network or from files (bench/Millrace.Fuzz),
# with SharpFuzz (the .NET tool restored from .config/dotnet-tools.json) and Debian's AFL++.
#
#   scripts/fuzz.sh [--seconds N] [--save-corpus] [TARGET...]
#
# Builds bench/Millrace.Fuzz into artifacts/fuzz/bin, instruments Millrace's assemblies there, runs afl-fuzz on each
# target (all by default) for N seconds (default 60) from bench/Millrace.Fuzz/corpus/<target>, and writes the figures
# (executions, executions per second, corpus, crashes, hangs per target) to bench/results/fuzz.txt (or
# $MILLRACE_FUZZ_REPORT). --save-corpus
# adds the inputs that found new coverage to the committed corpus. A crash or hang fails the run; its input is kept
# in artifacts/fuzz/findings/<target>/default/{crashes,hangs} (turn it into a regression: add it to the corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
save=0
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --save-corpus) save=1; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done

command -v afl-fuzz >/dev/null || { echo "fuzz.sh: afl-fuzz is missing (apt-get install afl++; scripts/install-test-tools.sh does it)" >&2; exit 2; }
out=artifacts/fuzz
rm -rf "$out/findings"
mkdir -p "$out/bin" "$out/findings" bench/results
dotnet tool restore >/dev/null
dotnet build bench/Millrace.Fuzz -c Release -o "$out/bin" --nologo -v quiet >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
# The target list before instrumenting: instrumented code runs only under afl-fuzz (it writes AFL's coverage map).
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(dotnet "$out/bin/Millrace.Fuzz.dll" --list)
fi
for dll in "$out"/bin/Millrace.*.dll; do
  case "$(basename "$dll")" in
    Millrace.Fuzz.dll) ;;
    *) dotnet tool run sharpfuzz "$dll" >/dev/null ;;
  esac
done

export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_QUIET=1
# The figures of record; a short CI run (./test) writes its own elsewhere.
report="${MILLRACE_FUZZ_REPORT:-bench/results/fuzz.txt}"
{
  echo "# scripts/fuzz.sh --seconds $seconds ($(date -u +%Y-%m-%d), $(nproc) cores, AFL++ $(dpkg-query -W -f '${Version}' afl++ 2>/dev/null || echo '?'), SharpFuzz 2.3.0)"
  printf '%-20s %12s %10s %8s %8s %6s\n' target executions execs/s corpus crashes hangs
} >"$report.new"
failed=0
for t in "${targets[@]}"; do
  corpus="bench/Millrace.Fuzz/corpus/$t"
  [[ -d "$corpus" ]] || { echo "fuzz.sh: no corpus for $t ($corpus)" >&2; exit 2; }
  run() { timeout $((seconds + 120)) afl-fuzz -V "$seconds" -t 5000 -m none -i "$corpus" -o "$out/findings/$t" -- dotnet "$out/bin/Millrace.Fuzz.dll" "$t" >"$out/findings/$t.log" 2>&1; }
  # On a loaded machine the fork server's first run now and then reports no coverage map: one more try.
  if ! run; then
    grep -q "No instrumentation detected" "$out/findings/$t.log" && rm -rf "${out:?}/findings/$t" && run \
      || { echo "fuzz.sh: afl-fuzz $t failed:"; tail -20 "$out/findings/$t.log"; exit 1; }
  fi
  stats="$out/findings/$t/default/fuzzer_stats"
  value() { awk -F': *' -v k="$1" '$1 ~ "^"k" *$" {print $2}' "$stats"; }
  crashes=$(value saved_crashes); hangs=$(value saved_hangs)
  printf '%-20s %12s %10s %8s %8s %6s\n' "$t" "$(value execs_done)" "$(value execs_per_sec)" "$(value corpus_count)" "$crashes" "$hangs" | tee -a "$report.new"
  if [[ "$crashes" != "0" || "$hangs" != "0" ]]; then
    failed=1
    echo "fuzz.sh: $t: $crashes crashes, $hangs hangs in $out/findings/$t/default/" >&2
  fi
  if [[ $save -eq 1 ]]; then
    for f in "$out/findings/$t"/default/queue/id:*+cov*; do
      [[ -f "$f" ]] && cp "$f" "$corpus/$(sha1sum "$f" | cut -c1-16)"
    done
  fi
done
mv "$report.new" "$report"
exit $failed
