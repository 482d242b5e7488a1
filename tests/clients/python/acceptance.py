"""What the acceptance scripts share: named checks that report every deviation, AWS error codes, the SUMMARY line."""
import json
import sys

from botocore.exceptions import ClientError

results = {}


def check(name, fn):
    """Runs fn and prints `CHECK name ok|FAIL detail`, so one run against a peer lists all of its deviations."""
    try:
        fn()
        results[name] = "ok"
        print(f"CHECK {name} ok", flush=True)
    except Exception as e:  # noqa: BLE001 - every deviation is reported, not just assertion errors
        results[name] = f"FAIL {type(e).__name__}: {e}"
        print(f"CHECK {name} FAIL {type(e).__name__}: {e}", flush=True)


def err(fn, what=""):
    """The (error code, HTTP status) that fn's call fails with; fails itself if the call succeeds."""
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"no error: {what}")


def finish():
    """Prints the one SUMMARY line and exits 1 if any check failed."""
    ok = all(v == "ok" for v in results.values())
    print("SUMMARY " + json.dumps({"ok": ok, "checks": results}))
    sys.exit(0 if ok else 1)
