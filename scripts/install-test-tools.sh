#!/usr/bin/env bash
# Installs the external clients the test suite drives: AWS CLI v2 (/usr/bin/aws, Debian's awscli), the AWS SDK for
# JavaScript v3 (tests/clients/js/node_modules, from the committed package-lock.json), npm aws-lambda-ric
# (tests/clients/lambda-ric; its install builds a native module, with Debian's autoconf, automake and libtool),
# checks python3 + boto3, and installs the PostgreSQL 15 server (Debian postgresql-15) for the Redshift tests and
# logrotate for the agent's rotation tests, and AFL++ with the SharpFuzz tool for the fuzzing run.
# Idempotent and quiet; takes about a second when everything is already in place. Prints details only on failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

fail() {
  echo "install-test-tools: $*" >&2
  if [[ -s "$log" ]]; then
    cat "$log" >&2
  fi
  exit 1
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  else
    sudo "$@"
  fi
}

# 1. AWS CLI v2. A v1 `aws` (pyenv) may be first on PATH, so the tests call /usr/bin/aws by full path.
if [[ ! -x /usr/bin/aws ]]; then
  {
    as_root apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli
  } >"$log" 2>&1 || fail "apt-get install awscli failed"
  : >"$log"
fi
aws_version="$(/usr/bin/aws --version 2>&1)" || fail "/usr/bin/aws --version failed: $aws_version"
[[ "$aws_version" == aws-cli/2.* ]] || fail "/usr/bin/aws is not AWS CLI v2: $aws_version"

# 2. JS SDK v3, reinstalled only when package.json or package-lock.json changed since the last install.
command -v node >/dev/null || fail "node is not installed"
command -v npm >/dev/null || fail "npm is not installed"
js="$root/tests/clients/js"
stamp="$js/node_modules/.millrace-install-stamp"
want="$(cat "$js/package.json" "$js/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -d "$js/node_modules/@aws-sdk/client-kinesis" ]]; then
  if [[ -f "$js/package-lock.json" ]]; then
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1 || fail "npm ci in $js failed"
  else
    (cd "$js" && npm install --no-audit --no-fund --loglevel=error) >"$log" 2>&1 || fail "npm install in $js failed"
    want="$(cat "$js/package.json" "$js/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  fi
  echo "$want" >"$stamp"
  : >"$log"
fi

# 3. AWS's Lambda runtime interface client for Node.js. Its install script compiles aws-lambda-cpp and curl (about
#    two minutes here), which needs autoreconf; done once, then kept until the lock file changes.
ric="$root/tests/clients/lambda-ric"
ric_stamp="$ric/node_modules/.millrace-install-stamp"
ric_want="$(cat "$ric/package.json" "$ric/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$ric_stamp" || "$(cat "$ric_stamp")" != "$ric_want" || ! -f "$ric/node_modules/aws-lambda-ric/dist/rapid-client.node" ]]; then
  if ! command -v autoreconf >/dev/null || ! command -v libtoolize >/dev/null; then
    {
      as_root apt-get update -qq &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq autoconf automake libtool make g++ cmake
    } >"$log" 2>&1 || fail "apt-get install autoconf automake libtool failed"
  fi
  (cd "$ric" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1 || fail "npm ci in $ric failed"
  [[ -f "$ric/node_modules/aws-lambda-ric/dist/rapid-client.node" ]] || fail "aws-lambda-ric installed without its native module"
  echo "$ric_want" >"$ric_stamp"
  : >"$log"
fi

# 4. python3 with boto3.
command -v python3 >/dev/null || fail "python3 is not installed"
python3 -c 'import boto3, botocore' >"$log" 2>&1 || fail "python3 cannot import boto3 (install it with pip for $(command -v python3))"

# 5. PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) for the Firehose Redshift tests, which start their own
#    throwaway server (tests/Millrace.Testing/PostgresServer.cs); Debian's package, no cluster is used.
if [[ ! -x /usr/lib/postgresql/15/bin/initdb || ! -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
  {
    as_root apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15
  } >"$log" 2>&1 || fail "apt-get install postgresql-15 failed"
  : >"$log"
fi
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || fail "PostgreSQL 15 server binaries missing after install"

# 6. Debian's python3-snappy (over libsnappy), the independent reader of Firehose's Snappy and HADOOP_SNAPPY objects.
if ! /usr/bin/python3 -c 'import snappy' >/dev/null 2>&1; then
  {
    as_root apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-snappy
  } >"$log" 2>&1 || fail "apt-get install python3-snappy failed"
fi

# 7. Debian's logrotate, which the agent's rotation tests run for real (create, copytruncate, dateext + compress).
if ! command -v logrotate >/dev/null 2>&1 && [[ ! -x /usr/sbin/logrotate ]]; then
  {
    as_root apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq logrotate
  } >"$log" 2>&1 || fail "apt-get install logrotate failed"
fi

# 8. Debian's AFL++, for the bounded coverage-guided fuzzing run of ./test (scripts/fuzz.sh), and the SharpFuzz tool.
if ! command -v afl-fuzz >/dev/null 2>&1; then
  {
    as_root apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++
  } >"$log" 2>&1 || fail "apt-get install afl++ failed"
fi
(cd "$root" && dotnet tool restore) >"$log" 2>&1 || fail "dotnet tool restore (SharpFuzz) failed"
