# The python3 floor for bench/shim's runtime-api rows: python serving HTTP itself, as fast
# as the standard library allows -- one process, a selectors loop over non-blocking
# sockets, HTTP/1.1 keep-alive, a minimal parser (http.server's per-request objects and
# threads cost several times more). Echoes the request body, as handler.py does.
#   python3 server.py PORT
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8081))
server.listen(1024)
server.setblocking(False)
sel.register(server, selectors.EVENT_READ, None)


def answer(conn, buffer):
    out = []
    while True:
        head = buffer.find(b"\r\n\r\n")
        if head < 0:
            break
        length = 0
        for line in bytes(buffer[:head]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        end = head + 4 + length
        if len(buffer) < end:
            break
        body = bytes(buffer[head + 4:end])
        del buffer[:end]
        out.append(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    if out:
        conn.setblocking(True)
        conn.sendall(b"".join(out))
        conn.setblocking(False)


while True:
    for key, _ in sel.select():
        if key.data is None:
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                continue
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sel.register(conn, selectors.EVENT_READ, bytearray())
            continue
        conn = key.fileobj
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            chunk = b""
        if not chunk:
            sel.unregister(conn)
            conn.close()
            continue
        key.data.extend(chunk)
        answer(conn, key.data)
