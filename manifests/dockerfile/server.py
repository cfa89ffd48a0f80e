import http.server


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from my own server\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("", 8080), Hello).serve_forever()
