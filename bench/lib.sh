# Shared by the benchmark scripts (source it): a scratch directory $tmp removed at exit, the server whose PID is in
# $pid killed at exit, and helpers to pick a free loopback port, wait until it listens and stop the server.
tmp="$(mktemp -d)"; pid=""
cleanup() { if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 600); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
stop() { # by PID: TERM, then KILL after 10 s (kinesis-mock ignores TERM)
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""
}
