import json
import os
import time
import urllib.error
import urllib.request

# How much of the answer comes back, and how long a fetch may take.
MAX_PREVIEW = 512
TIMEOUT_SECONDS = float(os.environ.get("FETCH_TIMEOUT", "5"))


def answer(status, value):
    return status, {"Content-Type": "application/json"}, json.dumps(value)


def main(req):
    """Fetches the URL that the URL environment variable names (never one the caller
    chooses) and says what came back: status, type, size, time and the first bytes."""
    url = os.environ.get("URL", "")
    if not url:
        return answer(500, {"error": "the URL environment variable is not set (spec.env.URL)"})
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "gantry-fetch-url/1"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as reply:
            body = reply.read()
            status = reply.status
            content_type = reply.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:  # the service answered, with an error status
        body, status, content_type = e.read(), e.code, e.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return answer(502, {"error": f"cannot fetch {url}: {reason}", "url": url})
    return answer(200, {
        "url": url,
        "status": status,
        "contentType": content_type,
        "bytes": len(body),
        "ms": round((time.monotonic() - started) * 1000, 1),
        "preview": body[:MAX_PREVIEW].decode("utf-8", "replace"),
    })
