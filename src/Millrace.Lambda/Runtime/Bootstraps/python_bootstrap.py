"""Millrace's bootstrap for the python3.x runtimes: the Lambda Runtime API loop that AWS's Python runtime runs.

Loads `_HANDLER` (`path/module.function`) from LAMBDA_TASK_ROOT, then for each invocation from
`/2018-06-01/runtime/invocation/next` calls the handler with the event and a context, and posts the JSON result to
`.../response` or the error (errorMessage, errorType, stackTrace) to `.../error`. Import failures go to `/init/error`.
"""
import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.rsplit(":", 1)
BASE = "/2018-06-01/runtime"
MARKER = "\x1eMILLRACE-END "
_conn = None


def _call(method, path, body=None, headers=None):
    global _conn
    for attempt in range(3):
        try:
            if _conn is None:
                _conn = http.client.HTTPConnection(HOST, int(PORT))
            _conn.request(method, path, body=body, headers=headers or {})
            response = _conn.getresponse()
            return response, response.read()
        except (http.client.HTTPException, OSError):
            _conn = None
            if attempt == 2:
                raise
            time.sleep(0.05)


def _error_body(e, tb=None):
    # The function's frames only, as AWS reports them: the bootstrap's own frames are not the user's concern.
    frames = traceback.format_list([f for f in traceback.extract_tb(tb or e.__traceback__) if f.filename != __file__])
    return {"errorMessage": str(e), "errorType": type(e).__name__, "stackTrace": frames}


def _log_error(body):
    # AWS's runtime logs "[ERROR] Type: message" then the traceback, as one event (\r keeps it one line on stdout).
    text = f"[ERROR] {body['errorType']}: {body['errorMessage']}"
    if body.get("stackTrace"):
        text += "\nTraceback (most recent call last):\n" + "".join(body["stackTrace"])
    sys.stdout.write(text.rstrip("\n").replace("\n", "\r") + "\n")
    sys.stdout.flush()


def _end(request_id):
    # Tells Millrace this invocation's output is complete (the line is not logged).
    for stream in (sys.stdout, sys.stderr):
        stream.write(MARKER + request_id + "\n")
        stream.flush()


def _post_json(path, body, headers=None):
    _call("POST", path, json.dumps(body).encode(), dict(headers or {}, **{"Content-Type": "application/json"}))


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_arn, trace_id, client_context, identity):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_arn
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms
        os.environ["_X_AMZN_TRACE_ID"] = trace_id or ""

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _load_handler():
    handler = os.environ["_HANDLER"]
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    module_path, _, function_name = handler.rpartition(".")
    if not module_path:
        raise ValueError(f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)")
    directory, _, module_name = module_path.rpartition("/")
    for p in reversed([os.path.join(task_root, directory) if directory else task_root, "/opt/python"]):
        if p not in sys.path:
            sys.path.insert(0, p)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        return None, {"errorMessage": f"Unable to import module '{module_path}': {e}", "errorType": "Runtime.ImportModuleError", "stackTrace": []}
    except SyntaxError as e:
        return None, {"errorMessage": f"Syntax error in module '{module_path}': {e}", "errorType": "Runtime.UserCodeSyntaxError", "stackTrace": []}
    except Exception as e:  # noqa: BLE001 - whatever the module raised at import
        return None, _error_body(e)
    fn = getattr(module, function_name, None)
    if fn is None:
        return None, {"errorMessage": f"Handler '{function_name}' missing on module '{module_path}'", "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    return fn, None


def main():
    handler, init_error = _load_handler()
    if init_error is not None:
        _log_error(init_error)
        _post_json(f"{BASE}/init/error", init_error, {"Lambda-Runtime-Function-Error-Type": init_error["errorType"]})
        sys.exit(1)
    while True:
        response, body = _call("GET", f"{BASE}/invocation/next")
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        context = LambdaContext(
            request_id,
            int(response.getheader("Lambda-Runtime-Deadline-Ms") or 0),
            response.getheader("Lambda-Runtime-Invoked-Function-Arn"),
            response.getheader("Lambda-Runtime-Trace-Id"),
            json.loads(response.getheader("Lambda-Runtime-Client-Context") or "null"),
            json.loads(response.getheader("Lambda-Runtime-Cognito-Identity") or "null"))
        try:
            event = json.loads(body) if body else {}
            result = handler(event, context)
            payload = json.dumps(result).encode()
        except Exception as e:  # noqa: BLE001 - a function error is reported, never fatal to the runtime
            error = _error_body(e)
            _log_error(error)
            _end(request_id)
            _post_json(f"{BASE}/invocation/{request_id}/error", error, {"Lambda-Runtime-Function-Error-Type": error["errorType"]})
            continue
        _end(request_id)
        _call("POST", f"{BASE}/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
