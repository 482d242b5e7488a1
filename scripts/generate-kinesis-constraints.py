#!/usr/bin/env python3
"""Generate src/Millrace.Protocol/Model/kinesis-constraints.json from botocore's Kinesis service model.

The output keeps only what request validation needs (and what the rest of the server may want to
inspect): for each operation its input and output shape, and for each shape its type, required
members, member -> target shape (in model order), and the constraints min, max, pattern and enum;
list member shapes; map key/value shapes. Documentation is dropped. Every shape of the model is kept,
so output shapes and everything they reference are there too: the CBOR codec uses them to find the
blobs and timestamps of each response.

The generated file is checked in so that the server builds and runs on machines without botocore.
Pieces of the newest model that botocore lacks (from the npm @aws-sdk/client-kinesis schemas) are merged in
afterwards from scripts/kinesis-model-additions.json; each piece there says where it comes from.

Re-run this script after upgrading botocore:

    python3 scripts/generate-kinesis-constraints.py [--model PATH] [--output PATH] [--additions PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(REPO_ROOT, "src", "Millrace.Protocol", "Model", "kinesis-constraints.json")
DEFAULT_ADDITIONS = os.path.join(REPO_ROOT, "scripts", "kinesis-model-additions.json")
MODEL_RELATIVE = os.path.join("data", "kinesis", "2013-12-02", "service-2.json.gz")


def find_model() -> tuple[str, str]:
    try:
        import botocore  # type: ignore
    except ImportError:
        sys.exit("botocore is not installed; pass --model PATH to service-2.json(.gz)")
    path = os.path.join(os.path.dirname(botocore.__file__), MODEL_RELATIVE)
    if not os.path.exists(path):
        sys.exit(f"botocore model not found at {path}")
    return path, getattr(botocore, "__version__", "unknown")


def load(path: str) -> dict:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def convert_shape(shape: dict) -> dict:
    out: dict = {"type": shape["type"]}
    kind = shape["type"]
    if kind == "structure":
        if shape.get("required"):
            out["required"] = list(shape["required"])
        out["members"] = {name: member["shape"] for name, member in shape.get("members", {}).items()}
        if shape.get("exception"):
            out["exception"] = True
        if shape.get("eventstream"):
            out["eventstream"] = True
    elif kind == "list":
        out["member"] = shape["member"]["shape"]
    elif kind == "map":
        out["key"] = shape["key"]["shape"]
        out["value"] = shape["value"]["shape"]
    for constraint in ("min", "max", "pattern", "enum"):
        if constraint in shape:
            out[constraint] = shape[constraint]
    return out


def apply_additions(operations: dict, shapes: dict, path: str) -> None:
    """Merges the additions file (already in the converted format) into operations and shapes."""
    with open(path, encoding="utf-8") as f:
        additions = json.load(f)
    strip = lambda entry: {k: v for k, v in entry.items() if k != "source"}
    for name, entry in additions.get("operations", {}).items():
        operations[name] = strip(entry)
    for name, entry in additions.get("shapes", {}).items():
        shapes[name] = strip(entry)
    for name, entry in additions.get("addMembers", {}).items():
        shapes[name]["members"].update(entry["members"])
    for name, entry in additions.get("makeOptional", {}).items():
        shape = shapes[name]
        shape["required"] = [m for m in shape.get("required", []) if m not in entry["members"]]
        if not shape["required"]:
            del shape["required"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="path to botocore's kinesis service-2.json(.gz)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--additions", default=DEFAULT_ADDITIONS, help="newer-model pieces to merge ('' to skip)")
    args = parser.parse_args()

    if args.model:
        model_path, version = args.model, "unknown"
    else:
        model_path, version = find_model()
    model = load(model_path)
    metadata = model["metadata"]

    operations = {}
    for name in sorted(model["operations"]):
        op = model["operations"][name]
        entry: dict = {"input": op.get("input", {}).get("shape")}
        if "output" in op:
            entry["output"] = op["output"]["shape"]
        operations[name] = entry

    shapes = {name: convert_shape(model["shapes"][name]) for name in sorted(model["shapes"])}
    if args.additions:
        apply_additions(operations, shapes, args.additions)
        operations = dict(sorted(operations.items()))
        shapes = dict(sorted(shapes.items()))

    document = {
        "source": f"botocore {version} data/kinesis/2013-12-02/service-2.json"
        + (" + scripts/kinesis-model-additions.json" if args.additions else ""),
        "generator": "scripts/generate-kinesis-constraints.py",
        "apiVersion": metadata["apiVersion"],
        "targetPrefix": metadata["targetPrefix"],
        "operations": operations,
        "shapes": shapes,
    }

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        json.dump(document, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.output}: {len(operations)} operations, {len(shapes)} shapes")


if __name__ == "__main__":
    main()
