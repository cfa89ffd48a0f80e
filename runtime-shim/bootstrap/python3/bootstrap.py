#!/usr/bin/env python3
"""Gantry's python3 runtime: the AWS Lambda Runtime API loop around the user's handler.

Started by gantry-shim (runtime-api mode) with AWS_LAMBDA_RUNTIME_API=host:port and
_HANDLER=module.function (the module is looked up in LAMBDA_TASK_ROOT). Standard library
only (json, socket).

In a stem cell (GANTRY_STEM=1) it starts belonging to no function: before it loads any
handler it asks the shim for its specialisation (GET /2018-06-01/runtime/gantry/
specialization, answered once gantryd has put the function's package in place), takes the
function's environment from the answer and only then imports the handler.

The handler is called once per request, in this one warm process:
  def main(req): ...            req.body (str, or bytes when not UTF-8), req.method,
                                req.path, req.query (dict), req.raw_query, req.headers
                                (dict, lower-case names), req.call_id, req.deadline_ms,
                                req.event (the Lambda event), req.json()
  def main(event, context): ... Lambda style: the API Gateway HTTP API (2.0) event
It may return: a str or bytes (the body of a 200); a dict with "statusCode" (and
"headers", "body", "isBase64Encoded"); a tuple (status, body) or (status, headers, body);
None (an empty 200); anything else is sent as JSON. An exception becomes a 500 with a
JSON body {"error", "type", "callId"}, and its traceback goes to the log with the call id.
"""

import base64
import importlib
import inspect
import json
import os
import socket
import sys
import time
import traceback

def json_dumps(value):
    return json.dumps(value, ensure_ascii=False, default=str)


NEXT_PATH = "/2018-06-01/runtime/invocation/next"


class RuntimeApi:
    """The shim's Runtime API over one kept-alive TCP_NODELAY socket, with a minimal
    HTTP/1.1 client: requests written back to back (pipelined, in one write when sent
    together) and their responses read in order. http.client built a request and a
    response object per request, which cost more than the rest of a call's path."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.sock = None
        self.buffer = bytearray()

    def _connect(self):
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()

    def _send(self, requests):
        if self.sock is None:
            self._connect()
        parts = []
        for method, path, body in requests:
            if method == "GET":
                parts.append(("%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, path, self.host)).encode("latin-1"))
            else:
                parts.append(("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                              "Content-Length: %d\r\n\r\n" % (method, path, self.host, len(body))).encode("latin-1"))
                parts.append(body)
        self.sock.sendall(b"".join(parts))

    def _recv(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("runtime API connection closed")
        self.buffer += chunk

    def _read(self):
        """One response: (status, headers with lower-case names, body)."""
        while True:
            head = self.buffer.find(b"\r\n\r\n")
            if head >= 0:
                break
            self._recv()
        lines = self.buffer[:head].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = head + 4
        if "content-length" in headers:
            end = start + int(headers["content-length"])
            while len(self.buffer) < end:
                self._recv()
        elif status in (204, 304) or 100 <= status < 200:
            end = start
        else:  # delimited by the close
            try:
                while True:
                    self._recv()
            except ConnectionError:
                pass
            end = len(self.buffer)
            headers["connection"] = "close"
        body = bytes(self.buffer[start:end])
        del self.buffer[:end]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def request(self, method, path, body=b""):
        """One request; a GET (nothing lost by repeating it) is sent again on a new
        connection when the one it went on closes unanswered (the shim drops a replaced
        waiter so)."""
        for attempt in (0, 1):
            try:
                self._send([(method, path, body)])
                return self._read()
            except OSError:
                self.close()
                if attempt or method != "GET":
                    raise

    def answer_and_next(self, path, payload):
        """The answer to one call and the ask for the next, in one write. The answer's
        status is not needed; a connection lost before it is answered ends the process
        (the shim answers that call 502 and restarts the handler)."""
        self._send([("POST", path, payload), ("GET", NEXT_PATH, b"")])
        self._read()
        try:
            return self._read()
        except OSError:
            self.close()
            return self.request("GET", NEXT_PATH)

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer = bytearray()


class Request:
    """What a one-argument handler receives."""

    def __init__(self, event, call_id, deadline_ms):
        http = event.get("requestContext", {}).get("http", {})
        self.event = event
        self.call_id = call_id
        self.deadline_ms = deadline_ms
        self.method = http.get("method", "GET")
        self.path = event.get("rawPath", "/")
        self.raw_query = event.get("rawQueryString", "")
        self.query = event.get("queryStringParameters") or {}
        self.headers = event.get("headers") or {}
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            self.body = base64.b64decode(body)
        else:
            self.body = body

    def json(self):
        return json.loads(self.body)


class Context:
    """The Lambda context object for two-argument handlers."""

    def __init__(self, call_id, deadline_ms, arn):
        self.aws_request_id = call_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def to_response(result):
    """Turns what the handler returned into the Lambda proxy response the shim expects."""
    if isinstance(result, dict) and "statusCode" in result:
        return result
    if isinstance(result, tuple) and len(result) in (2, 3) and isinstance(result[0], int):
        status, headers, body = (result[0], {}, result[1]) if len(result) == 2 else result
        response = to_response(body)
        response["statusCode"] = status
        response["headers"] = dict(response.get("headers", {}), **(headers or {}))
        return response
    if result is None:
        return {"statusCode": 200, "headers": {}, "body": ""}
    if isinstance(result, (bytes, bytearray)):
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(bytes(result)).decode("ascii"), "isBase64Encoded": True}
    if isinstance(result, str):
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": result}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json_dumps(result)}


def error_payload(exc):
    return json_dumps({
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }).encode("utf-8")


SPECIALIZATION_PATH = "/2018-06-01/runtime/gantry/specialization"


def specialize(api):
    """In a stem cell, waits for the function and makes its package importable.

    The answer's env is the function's whole environment. Directories the interpreter
    looked at before they were filled (LAMBDA_TASK_ROOT, PYTHONPATH's: the cell's mounts)
    are forgotten, so the import that follows lists them afresh."""
    if os.environ.get("GANTRY_STEM") != "1":
        return
    while True:
        status, _, body = api.request("GET", SPECIALIZATION_PATH)
        if status == 200:
            break
        print("runtime API: GET specialization returned %d" % status, file=sys.stderr)
        time.sleep(0.1)
    env = json.loads(body).get("env") or {}
    os.environ.update({str(k): str(v) for k, v in env.items()})
    os.environ.pop("GANTRY_STEM", None)
    root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    os.chdir(root)
    entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for index, entry in enumerate(entries):
        if entry not in sys.path:
            sys.path.insert(1 + index, entry)
    for entry in [root] + entries:
        sys.path_importer_cache.pop(entry, None)
    importlib.invalidate_caches()


def load_handler(api):
    spec = os.environ.get("_HANDLER") or os.environ.get("GANTRY_HANDLER") or "handler.main"
    root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module_name, _, function_name = spec.rpartition(".")
        if not module_name:
            raise ValueError("handler %r is not module.function" % spec)
        module = importlib.import_module(module_name.replace("/", "."))
        fn = getattr(module, function_name, None)
        if not callable(fn):
            raise AttributeError("module %r has no function %r" % (module_name, function_name))
    except Exception as exc:  # noqa: BLE001 -- anything at import time is an init error
        traceback.print_exc()
        sys.stderr.flush()
        api.request("POST", "/2018-06-01/runtime/init/error", error_payload(exc))
        sys.exit(1)
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        lambda_style = len(params) >= 2
    except (TypeError, ValueError):
        lambda_style = False
    return fn, lambda_style


def main():
    # Output lines reach the log as they are written, each tagged by the shim with the call id.
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    specialize(api)
    fn, lambda_style = load_handler(api)
    status, headers, body = api.request("GET", NEXT_PATH)
    while True:
        if status != 200:
            print("runtime API: GET next returned %d" % status, file=sys.stderr)
            status, headers, body = api.request("GET", NEXT_PATH)
            continue
        call_id = headers.get("lambda-runtime-aws-request-id", "")
        deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0") or 0)
        try:
            event = json.loads(body)
            if lambda_style:
                result = fn(event, Context(call_id, deadline_ms,
                                           headers.get("lambda-runtime-invoked-function-arn", "")))
            else:
                result = fn(Request(event, call_id, deadline_ms))
            payload = json_dumps(to_response(result)).encode("utf-8")
            path = "/2018-06-01/runtime/invocation/%s/response" % call_id
        except Exception as exc:  # noqa: BLE001 -- the handler's failure is the caller's 500
            traceback.print_exc()
            payload = error_payload(exc)
            path = "/2018-06-01/runtime/invocation/%s/error" % call_id
        sys.stdout.flush()
        sys.stderr.flush()
        status, headers, body = api.answer_and_next(path, payload)


if __name__ == "__main__":
    main()
