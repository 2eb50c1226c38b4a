/* The C floor for UDP echo: one thread, recvmmsg batches of 64, each batch echoed
 * with one sendmmsg to the addresses it came from. No allocation, no framework.
 *
 *   cc -O2 -o udp_floor bench/udp_floor.c && ./udp_floor 127.0.0.1 9100
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 65536

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s IPV4 PORT\n", argv[0]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (fd < 0 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("bind");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    static char bufs[BATCH][SLOT];
    struct sockaddr_in peers[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr in[BATCH], out[BATCH];
    fprintf(stderr, "udp_floor listening on %s:%s\n", argv[1], argv[2]);
    for (;;) {
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, -1) < 0)
            continue;
        for (;;) {
            for (int i = 0; i < BATCH; i++) {
                iov[i] = (struct iovec){bufs[i], SLOT};
                memset(&in[i], 0, sizeof in[i]);
                in[i].msg_hdr.msg_name = &peers[i];
                in[i].msg_hdr.msg_namelen = sizeof peers[i];
                in[i].msg_hdr.msg_iov = &iov[i];
                in[i].msg_hdr.msg_iovlen = 1;
            }
            int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0)
                break;
            for (int i = 0; i < n; i++) {
                iov[i].iov_len = in[i].msg_len;
                out[i] = in[i];
                out[i].msg_hdr.msg_flags = 0;
            }
            sendmmsg(fd, out, n, MSG_DONTWAIT);
            if (n < BATCH)
                break;
        }
    }
}
