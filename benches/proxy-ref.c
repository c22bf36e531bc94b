// The cheapest TCP relay a user-space proxy can be: one thread, epoll, a read and a write per
// chunk, nothing else. benches/proxy-compare.sh (REF=1) runs it beside `redline proxy` to show
// how much of the proxy's cost is the relaying itself (the kernel's), and so what bound any
// proxy meets on the machine. Not a tool: blocking writes, no error handling to speak of.
//
//   cc -O2 -o proxy-ref benches/proxy-ref.c && ./proxy-ref 127.0.0.1:7001 127.0.0.1:6379
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int peer[65536];
static char buf[32 * 1024];

static struct sockaddr_in loopback(const char *hostport) {
  const char *colon = strrchr(hostport, ':');
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(colon ? colon + 1 : hostport))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: proxy-ref LISTEN UPSTREAM (127.0.0.1:port)\n"); return 2; }
  struct sockaddr_in listen_at = loopback(argv[1]), upstream = loopback(argv[2]);
  int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (void *)&listen_at, sizeof listen_at) || listen(l, 1024)) { perror("listen"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int c = accept(l, 0, 0), u = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || c >= 65536 || u >= 65536 || connect(u, (void *)&upstream, sizeof upstream)) {
          close(c); close(u); continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        peer[c] = u; peer[u] = c;
        struct epoll_event ec = {.events = EPOLLIN, .data.fd = c}, eu = {.events = EPOLLIN, .data.fd = u};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ec);
        epoll_ctl(ep, EPOLL_CTL_ADD, u, &eu);
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) { close(fd); close(peer[fd]); continue; }
      for (ssize_t off = 0, w; off < r; off += w)
        if ((w = write(peer[fd], buf + off, r - off)) <= 0) break;
    }
  }
}
