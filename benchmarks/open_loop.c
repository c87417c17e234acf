/* An open-loop request client in C: the least a client can do to measure latency on a schedule.
 *
 * open_loop PORT CONNECTIONS RATE SECONDS REQUEST REPLY
 *
 * Holds CONNECTIONS to 127.0.0.1:PORT and sends REQUEST (C escapes \r and \n understood) RATE times
 * a second over all of them, on the schedule netprobe's traffic keeps: the k-th request of the run
 * falls due at start + k / RATE on connection k mod CONNECTIONS; a connection has one request in
 * flight, and one that fell due meanwhile waits and goes out when the reply (REPLY's bytes) is in.
 * Each latency counts from when its request fell due, not from when it could be sent, so a stall
 * of the client, the server or the machine shows on every request it held up (no coordinated
 * omission). It prints one line: sent answered achieved/s p50 p99 p999 max (ms) and its CPU in µs
 * per answered request. Loopback only; nothing but the connections it was told to open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_OWED 1024

typedef struct {
    int fd;
    double due;                /* when the request in flight fell due; < 0: none in flight */
    double owed[MAX_OWED];     /* requests due while one was in flight, oldest first */
    int owed_head, owed_len;
    size_t got;                /* bytes of the reply read so far */
} conn_t;

static conn_t conns[MAX_CONNS];
static double *latencies;
static long answered, sent, capacity;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t unescape(const char *in, char *out) {
    size_t n = 0;
    for (; *in; in++) {
        if (in[0] == '\\' && in[1] == 'r') { out[n++] = '\r'; in++; }
        else if (in[0] == '\\' && in[1] == 'n') { out[n++] = '\n'; in++; }
        else out[n++] = *in;
    }
    return n;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double p) {
    if (!answered) return 0;
    long i = (long)(p / 100.0 * answered);
    return 1e3 * latencies[i >= answered ? answered - 1 : i];
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: open_loop PORT CONNECTIONS RATE SECONDS REQUEST REPLY\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    double rate = atof(argv[3]), seconds = atof(argv[4]);
    if (n < 1 || n > MAX_CONNS || rate <= 0 || seconds <= 0) {
        fprintf(stderr, "open_loop: connections 1-%d, a positive rate and time\n", MAX_CONNS);
        return 2;
    }
    char request[256], reply[256];
    size_t request_len = unescape(argv[5], request), reply_len = unescape(argv[6], reply);
    capacity = (long)(rate * seconds) + 16;
    latencies = malloc(sizeof(double) * capacity);
    int ep = epoll_create1(0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
            perror("open_loop: connect");
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        conns[i] = (conn_t){.fd = fd, .due = -1};
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    double spacing = 1.0 / rate, start = now(), end = start + seconds;
    long k = 0, in_flight = 0;
    char buf[65536];
    struct epoll_event events[MAX_CONNS];
    for (;;) {
        double t = now();
        double due;
        while ((due = start + k * spacing) <= t && due < end) {
            conn_t *c = &conns[k++ % n];
            if (c->due < 0) {
                c->due = due;
                c->got = 0;
                sent++;
                in_flight++;
                if (send(c->fd, request, request_len, 0) != (ssize_t)request_len) {
                    perror("open_loop: send");
                    return 1;
                }
            } else if (c->owed_len < MAX_OWED) {
                c->owed[(c->owed_head + c->owed_len++) % MAX_OWED] = due;
            }
        }
        if (t >= end && (!in_flight || t >= end + 2.0)) break;
        double next = due < end ? due : end + 2.0;
        /* epoll waits whole milliseconds: wait none when the next send is due sooner. */
        int wait_ms = next - t > 0.001 ? (int)((next - t) * 1000) : 0;
        int got = epoll_wait(ep, events, MAX_CONNS, wait_ms);
        for (int e = 0; e < got; e++) {
            conn_t *c = &conns[events[e].data.u32];
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                fprintf(stderr, "open_loop: the server closed a connection\n");
                return 1;
            }
            c->got += r;
            if (c->got < reply_len || c->due < 0) continue;
            double done = now();
            if (answered < capacity) latencies[answered++] = done - c->due;
            in_flight--;
            c->due = -1;
            if (c->owed_len) {
                c->due = c->owed[c->owed_head];
                c->owed_head = (c->owed_head + 1) % MAX_OWED;
                c->owed_len--;
                c->got = 0;
                sent++;
                in_flight++;
                send(c->fd, request, request_len, 0);
            }
        }
    }
    getrusage(RUSAGE_SELF, &after);
    double cpu = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) + (after.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e6
               + (after.ru_stime.tv_sec - before.ru_stime.tv_sec) + (after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
    qsort(latencies, answered, sizeof(double), cmp);
    printf("%ld %ld %.1f %.3f %.3f %.3f %.3f %.3f\n", sent, answered, answered / seconds, pct(50), pct(99),
           pct(99.9), answered ? 1e3 * latencies[answered - 1] : 0.0, answered ? 1e6 * cpu / answered : 0.0);
    for (int i = 0; i < n; i++) close(conns[i].fd);
    return 0;
}
