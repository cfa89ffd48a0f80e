import os


def main(event, context):
    """Echoes the request body back, prefixed with $GREETING."""
    body = event.get("body") or ""
    return {"statusCode": 200, "body": f"{os.environ.get('GREETING', 'hello')}: {body}"}
