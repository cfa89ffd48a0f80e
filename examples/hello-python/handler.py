import datetime
import json
import os
import uuid

# The one dependency, installed at build from requirements.txt (a wheel vendored in
# ./wheels, so the build needs no package index).
from greetings import greet


def main(req):
    """Greets the caller named in ?name=, in a JSON body {"name": ...}, or in a plain body."""
    name = req.query.get("name")
    body = req.body.strip() if isinstance(req.body, str) else ""
    if not name and body.startswith("{"):
        try:
            name = json.loads(body).get("name")
        except (ValueError, AttributeError):
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": "body is not a JSON object"})
    name = name or body
    return {
        "message": greet(name, os.environ.get("GREETING", "hello")),
        "method": req.method,
        "id": str(uuid.uuid4()),
        "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
