#!/usr/bin/env python3
"""Writes the compact AWS service models that Millrace.Protocol embeds (src/Millrace.Protocol/Models/<service>.json).

Reads botocore's service-2.json.gz for each service (newest API version folder), strips documentation and client-only
traits and keeps what the protocol layer needs: metadata (protocols, jsonVersion, targetPrefix, signing name, ...),
operations (HTTP binding, input/output/errors) and shapes (types, members with their wire bindings, constraints,
error traits, defaults). Output is deterministic: sorted keys (structure members keep model order), one operation or shape per line, so a model update
diffs readably.

Usage: scripts/generate-service-models.py [--botocore DIR] [service ...]
"""

import argparse
import gzip
import json
import os
import sys

DEFAULT_BOTOCORE = "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/botocore/data"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "src", "Millrace.Protocol", "Models")

# Millrace name -> botocore folder (CloudWatch is "cloudwatch" in botocore; its endpoint prefix is "monitoring").
SERVICES = {
    "kinesis": "kinesis",
    "dynamodb": "dynamodb",
    "s3": "s3",
    "firehose": "firehose",
    "lambda": "lambda",
    "logs": "logs",
    "cloudwatch": "cloudwatch",
    "sts": "sts",
    "iam": "iam",
    "kinesisanalytics": "kinesisanalytics",
    "glue": "glue",
}

METADATA_KEYS = {
    "apiVersion", "awsQueryCompatible", "endpointPrefix", "globalEndpoint", "jsonVersion", "protocol", "protocols",
    "protocolSettings", "serviceAbbreviation", "serviceFullName", "serviceId", "signatureVersion", "signingName",
    "targetPrefix", "uid", "xmlNamespace", "checksumFormat",
}

OPERATION_KEYS = {"name", "http", "input", "output", "errors", "endpoint", "requestcompression", "authtype", "auth",
                  "unsignedPayload", "idempotent"}

# Everything a shape or member may carry except documentation and client-side hints.
DROP_KEYS = {"documentation", "documentationUrl", "deprecated", "deprecatedMessage", "examples", "box", "sensitive",
             "contextParam", "xmlOrder", "synthetic"}


def newest_version(folder):
    versions = sorted(v for v in os.listdir(folder) if os.path.isdir(os.path.join(folder, v))
                      and os.path.exists(os.path.join(folder, v, "service-2.json.gz")))
    if not versions:
        raise SystemExit(f"no service-2.json.gz under {folder}")
    return versions[-1]


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in DROP_KEYS}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def compact_operation(op):
    out = {k: strip(v) for k, v in op.items() if k in OPERATION_KEYS}
    if "errors" in out:
        out["errors"] = [e["shape"] for e in out["errors"]]
    return out


def compact(model):
    metadata = {k: v for k, v in model["metadata"].items() if k in METADATA_KEYS}
    operations = {name: compact_operation(op) for name, op in model["operations"].items()}
    shapes = {name: strip(shape) for name, shape in model["shapes"].items()}
    return {"metadata": metadata, "operations": operations, "shapes": shapes}


def ordered(value, keep_order=False):
    """Sorts object keys for stable output, except a structure's members: their model order is AWS's order for
    validation messages and XML output."""
    if isinstance(value, dict):
        items = value.items() if keep_order else sorted(value.items())
        return {k: ordered(v, keep_order=(k == "members" and isinstance(v, dict))) for k, v in items}
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


def dumps(value):
    return json.dumps(ordered(value), separators=(",", ":"), ensure_ascii=False)


def write(path, model):
    # One entry per line under "operations" and "shapes": small files, readable diffs.
    lines = ["{", '"metadata":' + dumps(model["metadata"]) + ","]
    for section in ("operations", "shapes"):
        entries = sorted(model[section].items())
        lines.append(f'"{section}":{{')
        for i, (name, value) in enumerate(entries):
            lines.append(dumps(name) + ":" + dumps(value) + ("," if i + 1 < len(entries) else ""))
        lines.append("}" + ("," if section == "operations" else ""))
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # sanity: the line layout is still one JSON document
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return len(text.encode("utf-8"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--botocore", default=os.environ.get("BOTOCORE_DATA", DEFAULT_BOTOCORE),
                        help="botocore's data folder")
    parser.add_argument("services", nargs="*", help="services to write (default: all)")
    args = parser.parse_args()
    names = args.services or sorted(SERVICES)
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for name in names:
        if name not in SERVICES:
            raise SystemExit(f"unknown service {name}; known: {', '.join(sorted(SERVICES))}")
        folder = os.path.join(args.botocore, SERVICES[name])
        version = newest_version(folder)
        with gzip.open(os.path.join(folder, version, "service-2.json.gz"), "rt", encoding="utf-8") as f:
            model = json.load(f)
        size = write(os.path.join(OUT_DIR, name + ".json"), compact(model))
        total += size
        print(f"{name}: {version}, {len(model['operations'])} operations, {len(model['shapes'])} shapes, {size} bytes")
    print(f"total {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
