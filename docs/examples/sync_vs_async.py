"""The tutorial's experiment on loopback: three slow fetches, one after another, then with gevent.

monkey.patch_all() must run before anything imports socket, so it comes first, and it is
confined to this process: netprobe itself never patches.
"""

from gevent import monkey

monkey.patch_all()

import http.server  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import gevent  # noqa: E402

DELAY = 0.3


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(DELAY)  # patched: only this greenlet waits
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"slow answer")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/"


def fetch(i):
    with urllib.request.urlopen(url) as response:
        return len(response.read())


start = time.perf_counter()
sizes = [fetch(i) for i in range(3)]
sequential = time.perf_counter() - start
print(f"sequential: {len(sizes)} fetches, each waits {DELAY} s in turn")

start = time.perf_counter()
jobs = [gevent.spawn(fetch, i) for i in range(3)]
gevent.joinall(jobs)
concurrent = time.perf_counter() - start
print(f"gevent: {len(jobs)} fetches, all waiting at once")
print(f"gevent took less than half the sequential time: {concurrent < sequential / 2}")
server.shutdown()
