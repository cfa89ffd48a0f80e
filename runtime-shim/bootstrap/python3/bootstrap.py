#!/usr/bin/env python3
"""Gantry's python3 runtime: the AWS Lambda Runtime API loop around the user's handler.

Started by gantry-shim (runtime-api mode) with AWS_LAMBDA_RUNTIME_API=host:port and
_HANDLER=module.function (the module is looked up in LAMBDA_TASK_ROOT). Standard library
only -- and only what python3-minimal has: no json, no http.client, so both are done here.

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
import os
import socket
import sys
import traceback

try:
    import json as _json

    def json_dumps(value):
        return _json.dumps(value, ensure_ascii=False, default=str)

    json_loads = _json.loads
except ImportError:  # python3-minimal
    _json = None

    _ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                "\b": "\\b", "\f": "\\f"}

    def _dump_str(s):
        out = ['"']
        for ch in s:
            if ch in _ESCAPES:
                out.append(_ESCAPES[ch])
            elif ord(ch) < 0x20:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)

    def json_dumps(value):
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, str):
            return _dump_str(value)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "null"
        if isinstance(value, dict):
            return "{" + ",".join(_dump_str(str(k)) + ":" + json_dumps(v) for k, v in value.items()) + "}"
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(json_dumps(v) for v in value) + "]"
        return _dump_str(str(value))

    class _Parser:
        def __init__(self, text):
            self.s = text
            self.i = 0

        def fail(self, what):
            raise ValueError("invalid JSON: %s at offset %d" % (what, self.i))

        def ws(self):
            s, i = self.s, self.i
            while i < len(s) and s[i] in " \t\r\n":
                i += 1
            self.i = i

        def value(self):
            self.ws()
            if self.i >= len(self.s):
                self.fail("unexpected end")
            c = self.s[self.i]
            if c == "{":
                return self.obj()
            if c == "[":
                return self.arr()
            if c == '"':
                return self.string()
            for word, val in (("true", True), ("false", False), ("null", None)):
                if self.s.startswith(word, self.i):
                    self.i += len(word)
                    return val
            return self.number()

        def obj(self):
            self.i += 1
            out = {}
            self.ws()
            if self.s.startswith("}", self.i):
                self.i += 1
                return out
            while True:
                self.ws()
                if not self.s.startswith('"', self.i):
                    self.fail("expected a key")
                key = self.string()
                self.ws()
                if not self.s.startswith(":", self.i):
                    self.fail("expected ':'")
                self.i += 1
                out[key] = self.value()
                self.ws()
                if self.s.startswith(",", self.i):
                    self.i += 1
                elif self.s.startswith("}", self.i):
                    self.i += 1
                    return out
                else:
                    self.fail("expected ',' or '}'")

        def arr(self):
            self.i += 1
            out = []
            self.ws()
            if self.s.startswith("]", self.i):
                self.i += 1
                return out
            while True:
                out.append(self.value())
                self.ws()
                if self.s.startswith(",", self.i):
                    self.i += 1
                elif self.s.startswith("]", self.i):
                    self.i += 1
                    return out
                else:
                    self.fail("expected ',' or ']'")

        def string(self):
            s = self.s
            self.i += 1
            out = []
            while True:
                j = self.i
                while j < len(s) and s[j] != '"' and s[j] != "\\":
                    j += 1
                out.append(s[self.i:j])
                if j >= len(s):
                    self.fail("unterminated string")
                if s[j] == '"':
                    self.i = j + 1
                    return "".join(out)
                esc = s[j + 1:j + 2]
                if esc == "u":
                    code = int(s[j + 2:j + 6], 16)
                    self.i = j + 6
                    if 0xD800 <= code < 0xDC00 and s.startswith("\\u", self.i):
                        low = int(s[self.i + 2:self.i + 6], 16)
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        self.i += 6
                    out.append(chr(code))
                else:
                    mapped = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f",
                              "n": "\n", "r": "\r", "t": "\t"}.get(esc)
                    if mapped is None:
                        self.fail("bad escape")
                    out.append(mapped)
                    self.i = j + 2

        def number(self):
            s, j = self.s, self.i
            while j < len(s) and s[j] in "+-0123456789.eE":
                j += 1
            text = s[self.i:j]
            if not text:
                self.fail("unexpected character")
            self.i = j
            if any(c in text for c in ".eE"):
                return float(text)
            return int(text)

    def json_loads(text):
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        p = _Parser(text)
        v = p.value()
        p.ws()
        if p.i != len(p.s):
            p.fail("trailing data")
        return v


class RuntimeApi:
    """A minimal HTTP/1.1 client for the shim's Runtime API, on one kept-alive connection."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host or "127.0.0.1", int(port))
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, method, path, body=b""):
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                head = "%s %s HTTP/1.1\r\nHost: runtime\r\nContent-Length: %d\r\n" % (method, path, len(body))
                if body:
                    head += "Content-Type: application/json\r\n"
                self.sock.sendall(head.encode() + b"\r\n" + body)
                return self._read_response()
            except (OSError, ConnectionError):
                self.close()
                if attempt:
                    raise

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("runtime API closed the connection")
        self.buf += chunk

    def _read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None


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
        return json_loads(self.body)


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
        import time
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
    fn, lambda_style = load_handler(api)
    while True:
        status, headers, body = api.request("GET", "/2018-06-01/runtime/invocation/next")
        if status != 200:
            print("runtime API: GET next returned %d" % status, file=sys.stderr)
            continue
        call_id = headers.get("lambda-runtime-aws-request-id", "")
        deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0") or 0)
        try:
            event = json_loads(body.decode("utf-8"))
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
        api.request("POST", path, payload)


if __name__ == "__main__":
    main()
