# The runtime-api function for bench/shim (python3): echoes the request body.
def main(req):
    return req.body
