import os


def main(req):
    """Greets the caller named in ?name= (or in the body)."""
    name = req.query.get("name") or (req.body.strip() if isinstance(req.body, str) else "") or "world"
    return {"message": f"{os.environ.get('GREETING', 'hello')}, {name}!", "method": req.method}
