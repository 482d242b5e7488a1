"""boto3 Lambda runtimes: Node.js handlers (CommonJS async, ES module, callback, context.succeed, errors), a
provided.al2023 function whose bootstrap is a shell script driving the Runtime API with curl, one whose bootstrap
runs AWS's npm aws-lambda-ric (installed in tests/clients/lambda-ric by scripts/install-test-tools.sh), a python function
that prints 100 MB, a bootstrap that never asks for work, and layers (Python and Node.js libraries and a tool on PATH).

Usage: python3 lambda_runtimes_boto3.py ENDPOINT PREFIX
Prints `CHECK name ok|FAIL detail` lines and one `SUMMARY {json}` line; exits 1 if any check failed.
"""
import base64
import io
import json
import os
import subprocess
import sys
import zipfile

import boto3
from botocore.config import Config

from acceptance import check, err, finish

endpoint, prefix = sys.argv[1], sys.argv[2]
lam = boto3.client("lambda", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}, read_timeout=120))
logs = boto3.client("logs", endpoint_url=endpoint)
kinesis = boto3.client("kinesis", endpoint_url=endpoint)
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_of(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            z.writestr(info, text)
    return buffer.getvalue()


def create(name, runtime, handler, files, **kw):
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": zip_of({k: (v, 0o644) if isinstance(v, str) else v for k, v in files.items()})}, **kw)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def invoke(name, payload):
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType="Tail")
    body = out["Payload"].read()
    return out, (json.loads(body) if body else None), base64.b64decode(out.get("LogResult", "")).decode()


def node_handlers():
    cjs = f"{prefix}-node-cjs"
    create(cjs, "nodejs20.x", "src/index.handler", {"src/index.js": """
const { KinesisClient, ListStreamsCommand } = (() => { try { return require('@aws-sdk/client-kinesis'); } catch { return {}; } })();
exports.handler = async (event, context) => {
  console.log('decoded', event.text, { nested: true });
  return { upper: event.text.toUpperCase(), name: context.functionName, left: context.getRemainingTimeInMillis() > 0,
           group: context.logGroupName, region: process.env.AWS_REGION, endpoint: process.env.AWS_ENDPOINT_URL };
};
"""})
    out, body, tail = invoke(cjs, {"text": "hello"})
    assert "FunctionError" not in out and body["upper"] == "HELLO" and body["name"] == cjs and body["left"], body
    assert body["endpoint"] == endpoint and body["group"] == f"/aws/lambda/{cjs}", body
    line = next(l for l in tail.split("\n") if "decoded" in l)
    parts = line.split("\t")
    assert len(parts) == 4 and parts[2] == "INFO" and parts[3] == "decoded hello { nested: true }", line

    esm = f"{prefix}-node-esm"
    create(esm, "nodejs22.x", "app.handler", {"app.mjs": "export const handler = async (event) => ({ esm: true, n: event.n * 2 });\n"})
    out, body, tail = invoke(esm, {"n": 21})
    assert body == {"esm": True, "n": 42}, body
    # Where the machine's Node.js is not 22, the first log of a nodejs22.x function says which interpreter runs it.
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    assert node.startswith("v22.") or "[millrace] nodejs22.x is not installed here; running it on Node.js" in tail, tail

    callback = f"{prefix}-node-callback"
    create(callback, "nodejs18.x", "index.handler", {"index.js": """
exports.handler = function (event, context, callback) {
  if (event.mode === 'succeed') { context.succeed({ via: 'succeed' }); return; }
  if (event.mode === 'error') { callback(new TypeError('bad input')); return; }
  setTimeout(() => callback(null, { via: 'callback' }), 10);
};
"""})
    assert invoke(callback, {})[1] == {"via": "callback"}
    assert invoke(callback, {"mode": "succeed"})[1] == {"via": "succeed"}
    out, body, tail = invoke(callback, {"mode": "error"})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "TypeError" and body["errorMessage"] == "bad input", body
    assert body["trace"][0] == "TypeError: bad input", body
    assert "\tERROR\tInvoke Error \t" in tail, tail

    missing = f"{prefix}-node-missing"
    create(missing, "nodejs20.x", "index.nothere", {"index.js": "exports.handler = async () => 1;\n"})
    out, body, _ = invoke(missing, {})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.HandlerNotFound", body


BOOTSTRAP = r"""#!/bin/sh
# A custom runtime in the shape of AWS's tutorial: the Runtime API driven with curl.
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -LD "$HEADERS" "$API/invocation/next")"
  REQUEST_ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  echo "handling $REQUEST_ID with $_HANDLER"
  case "$EVENT" in
    *fail*) curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -H 'Lambda-Runtime-Function-Error-Type: Custom.Failure' \
              -d '{"errorMessage":"asked to fail","errorType":"Custom.Failure"}' > /dev/null ;;
    *) curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d "{\"echo\":$EVENT,\"task\":\"$LAMBDA_TASK_ROOT\"}" > /dev/null ;;
  esac
done
"""


def provided_runtime():
    name = f"{prefix}-custom"
    create(name, "provided.al2023", "function.handler", {"bootstrap": (BOOTSTRAP, 0o755)})
    out, body, tail = invoke(name, {"x": 1})
    assert "FunctionError" not in out and body["echo"] == {"x": 1} and body["task"], (out, body)
    assert "handling " in tail and "with function.handler" in tail, tail
    out, body, _ = invoke(name, {"fail": True})
    assert out["FunctionError"] == "Unhandled" and body == {"errorMessage": "asked to fail", "errorType": "Custom.Failure"}, body
    missing = f"{prefix}-custom-missing"
    lam.create_function(FunctionName=missing, Runtime="provided.al2", Role=ROLE, Handler="x",
                        Code={"ZipFile": zip_of({"README": ("no bootstrap here", 0o644)})})
    config = lam.get_function_configuration(FunctionName=missing)
    assert config["State"] == "Failed" and "bootstrap" in config["StateReason"], config
    assert err(lambda: invoke(missing, {})) == ("ResourceConflictException", 409)


def misbehaving():
    flood = f"{prefix}-flood"
    create(flood, "python3.11", "app.handler", {"app.py": """
import sys
def handler(event, context):
    line = "x" * 1023 + "\\n"
    for _ in range(100 * 1024):
        sys.stdout.write(line)
    return {"printed": 100 * 1024 * 1024}
"""}, Timeout=60)
    out, body, tail = invoke(flood, {})
    assert "FunctionError" not in out and body == {"printed": 104857600}, (out, body)
    assert "bytes of output were dropped" in tail, tail[-500:]
    # Millrace still answers everything else at once.
    kinesis.list_streams()
    hang = f"{prefix}-never-ready"
    create(hang, "provided.al2023", "x", {"bootstrap": ("#!/bin/sh\nsleep 600\n", 0o755)}, Timeout=1)
    out, body, _ = invoke(hang, {})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError", body
    crash = f"{prefix}-init-crash"
    create(crash, "python3.11", "app.handler", {"app.py": "raise RuntimeError('broken at import')\n"})
    out, body, tail = invoke(crash, {})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "RuntimeError" and body["errorMessage"] == "broken at import", body
    assert "[ERROR] RuntimeError: broken at import" in tail, tail


def runtime_interface_client():
    # AWS's own runtime client, unchanged: the bootstrap execs it with the handler, as a custom runtime does on AWS.
    ric = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "lambda-ric", "node_modules", "aws-lambda-ric", "bin", "index.mjs"))
    assert os.path.exists(ric), f"{ric} is missing: scripts/install-test-tools.sh installs it"
    name = f"{prefix}-ric"
    create(name, "provided.al2023", "index.handler", {
        "bootstrap": ('#!/bin/sh\ncd "$LAMBDA_TASK_ROOT"\nexec node "$RIC" "$_HANDLER"\n', 0o755),
        "index.js": """
exports.handler = async (event, context) => {
  console.log('ric got', JSON.stringify(event));
  if (event.fail) { throw new TypeError('asked to fail'); }
  return { doubled: event.n * 2, id: context.awsRequestId, fn: context.functionName, left: context.getRemainingTimeInMillis() > 0 };
};
"""}, Environment={"Variables": {"RIC": ric}}, Timeout=30)
    out, body, tail = invoke(name, {"n": 21})
    assert "FunctionError" not in out and body["doubled"] == 42 and body["fn"] == name and body["left"] is True, (body, tail)
    assert body["id"] == out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"], (body, out["ResponseMetadata"])
    assert "ric got" in tail and "REPORT RequestId: " + body["id"] in tail, tail
    out, body, _ = invoke(name, {"fail": True})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "TypeError" and body["errorMessage"] == "asked to fail", body
    # The environment is reused: a second good invoke after the error is answered by the same client.
    out, body, _ = invoke(name, {"n": 1})
    assert body["doubled"] == 2, body


def layers():
    name = f"{prefix}-libs"
    zipped = zip_of({"python/greeting.py": ("WORD = 'hello from a layer'\n", 0o644),
                     "python/lib/python3.11/site-packages/shout.py": ("def shout(s):\n    return s.upper()\n", 0o644),
                     "nodejs/node_modules/greet/index.js": ("module.exports = (n) => 'hi ' + n;\n", 0o644),
                     "bin/layer-tool": ("#!/bin/sh\necho tool-from-layer\n", 0o755)})
    first = lam.publish_layer_version(LayerName=name, Description="libs", Content={"ZipFile": zipped},
                                      CompatibleRuntimes=["python3.11", "nodejs20.x"], LicenseInfo="MIT")
    assert first["Version"] == 1 and first["LayerVersionArn"] == first["LayerArn"] + ":1" and first["Content"]["CodeSize"] == len(zipped), first
    assert first["CompatibleRuntimes"] == ["python3.11", "nodejs20.x"] and first["LicenseInfo"] == "MIT", first
    # A second layer overrides the first's files: later layers win, as on AWS.
    override = lam.publish_layer_version(LayerName=f"{name}-override", Content={"ZipFile": zip_of({"python/greeting.py": ("WORD = 'overridden'\n", 0o644)})})
    py = f"{prefix}-layered-py"
    create(py, "python3.11", "app.handler", {"app.py": """
import subprocess, greeting, shout
def handler(event, context):
    return {"word": greeting.WORD, "shout": shout.shout("x"), "tool": subprocess.run(["layer-tool"], capture_output=True, text=True).stdout.strip()}
"""}, Layers=[first["LayerVersionArn"]])
    config = lam.get_function_configuration(FunctionName=py)
    assert config["Layers"] == [{"Arn": first["LayerVersionArn"], "CodeSize": len(zipped)}], config.get("Layers")
    _, body, _ = invoke(py, {})
    assert body == {"word": "hello from a layer", "shout": "X", "tool": "tool-from-layer"}, body
    lam.update_function_configuration(FunctionName=py, Layers=[first["LayerVersionArn"], override["LayerVersionArn"]])
    lam.get_waiter("function_updated_v2").wait(FunctionName=py, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    _, body, _ = invoke(py, {})
    assert body["word"] == "overridden" and body["shout"] == "X", body
    js = f"{prefix}-layered-js"
    create(js, "nodejs20.x", "index.handler", {"index.js": "const greet = require('greet');\nexports.handler = async (e) => ({ said: greet(e.name) });\n"},
           Layers=[first["LayerVersionArn"]])
    _, body, _ = invoke(js, {"name": "there"})
    assert body == {"said": "hi there"}, body
    # The API: versions numbered on, listing newest first with filters, lookup by ARN, deletion.
    second = lam.publish_layer_version(LayerName=name, Content={"ZipFile": zipped}, CompatibleRuntimes=["python3.12"])
    assert second["Version"] == 2, second
    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1], versions
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name, CompatibleRuntime="nodejs20.x")["LayerVersions"]] == [1]
    listed = {l["LayerName"]: l for l in lam.list_layers()["Layers"]}
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2 and listed[name]["LayerArn"] == first["LayerArn"], listed
    assert lam.list_layers(CompatibleRuntime="nodejs20.x")["Layers"][0]["LatestMatchingVersion"]["Version"] == 1
    assert lam.get_layer_version_by_arn(Arn=first["LayerVersionArn"])["Content"]["CodeSha256"] == first["Content"]["CodeSha256"]
    assert lam.get_layer_version(LayerName=name, VersionNumber=2)["Description"] == ""
    lam.delete_layer_version(LayerName=name, VersionNumber=1)
    lam.delete_layer_version(LayerName=name, VersionNumber=1)  # idempotent
    assert err(lambda: lam.get_layer_version(LayerName=name, VersionNumber=1)) == ("ResourceNotFoundException", 404)
    third = lam.publish_layer_version(LayerName=name, Content={"ZipFile": zipped})
    assert third["Version"] == 3, "version numbers are not reused"
    # A function keeps a deleted layer version it uses; a new reference to it is refused.
    lam.update_function_configuration(FunctionName=js, Description="after the layer version was deleted")
    lam.get_waiter("function_updated_v2").wait(FunctionName=js, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    _, body, _ = invoke(js, {"name": "again"})
    assert body == {"said": "hi again"}, body
    missing = err(lambda: lam.update_function_configuration(FunctionName=js, Layers=[first["LayerVersionArn"]]))
    assert missing == ("InvalidParameterValueException", 400), missing
    many = err(lambda: lam.update_function_configuration(FunctionName=js, Layers=[third["LayerVersionArn"]] * 6))
    assert many == ("InvalidParameterValueException", 400), many
    lam.update_function_configuration(FunctionName=py, Layers=[])
    lam.get_waiter("function_updated_v2").wait(FunctionName=py, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert "Layers" not in lam.get_function_configuration(FunctionName=py)
    out, body, _ = invoke(py, {})
    assert out.get("FunctionError") == "Unhandled" and body["errorType"] == "Runtime.ImportModuleError", body


for name, fn in [("node_handlers", node_handlers), ("provided_runtime", provided_runtime), ("misbehaving", misbehaving), ("layers", layers),
                 ("runtime_interface_client", runtime_interface_client)]:
    check(name, fn)

finish()
