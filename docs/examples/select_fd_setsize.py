"""Why select() stops at fd 1024 on Linux and macOS: it cannot put a higher fd in its fd_set.

poll() and epoll take the same fd without complaint. (On Windows the cap is a count instead:
512 sockets per list, whatever their handle numbers.)
"""

import os
import resource
import select

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft <= 1024:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2048), hard))

read_end, write_end = os.pipe()
high = os.dup2(read_end, 1024)  # the same pipe, as fd number 1024
try:
    select.select([high], [], [], 0)
except ValueError as exc:
    print(f"select() refused fd {high}: {exc}")
poller = select.poll()
poller.register(high, select.POLLIN)
print(f"poll() watches fd {high}: {poller.poll(0) == []}")
for fd in (high, read_end, write_end):
    os.close(fd)
