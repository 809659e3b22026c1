#!/usr/bin/env python3
"""Userspace stand-in for `tc netem`: an L2 forwarder between two interfaces that delays,
jitters and drops frames.

Used because the kernel of the machine this was built on has no sch_netem (and no tc
classifiers or actions), so delay, jitter and loss cannot be set with tc. Rate limiting stays
in the kernel (tc tbf on the end hosts' veths).

    shaper.py IF_A IF_B --delay-ms D --jitter-ms J --loss-pct P --seed S

Each direction is a FIFO: a frame leaves at max(previous departure, arrival + D + N(0, J)),
so jitter never reorders frames (like netem with a rate set). Loss drops IPv4/IPv6 frames
only (ARP always passes) with probability P/100 per frame, per direction independently.
The queue of each direction is bounded (--queue frames); an overflowing frame is dropped and
counted. On SIGTERM/SIGINT it prints one JSON line of counters to stdout and exits.
Standard library only; runs as root (AF_PACKET).
"""
import argparse
import collections
import json
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('if_a')
    ap.add_argument('if_b')
    ap.add_argument('--delay-ms', type=float, default=0.0)
    ap.add_argument('--jitter-ms', type=float, default=0.0)
    ap.add_argument('--loss-pct', type=float, default=0.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--queue', type=int, default=20000)
    a = ap.parse_args()
    if a.delay_ms < 0 or a.jitter_ms < 0 or not (0 <= a.loss_pct < 100) or a.queue < 1:
        print('shaper.py: delay/jitter must be >= 0, loss in [0,100), queue >= 1', file=sys.stderr)
        sys.exit(2)

    rng = random.Random(a.seed)
    socks = [open_sock(a.if_a), open_sock(a.if_b)]
    # queue[i] holds frames that arrived on socks[i], to leave on socks[1 - i]
    queues = [collections.deque(), collections.deque()]
    last_dep = [0.0, 0.0]
    stats = {'in': [0, 0], 'out': [0, 0], 'lost': [0, 0], 'overflow': [0, 0], 'send_err': [0, 0]}
    delay = a.delay_ms / 1000.0
    jitter = a.jitter_ms / 1000.0
    loss = a.loss_pct / 100.0
    running = [True]

    def stop(_sig, _frm):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print('ready', file=sys.stderr, flush=True)

    while running[0]:
        now = time.monotonic()
        # send everything that is due
        nxt = None
        for i in (0, 1):
            q = queues[i]
            while q and q[0][0] <= now:
                _, frame = q.popleft()
                try:
                    socks[1 - i].send(frame)
                    stats['out'][i] += 1
                except OSError:
                    stats['send_err'][i] += 1
            if q and (nxt is None or q[0][0] < nxt):
                nxt = q[0][0]
        timeout = None if nxt is None else max(0.0, nxt - now)
        if timeout is None:
            timeout = 0.5
        try:
            ready, _, _ = select.select(socks, [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            i = 0 if s is socks[0] else 1
            for _ in range(256):
                try:
                    frame, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmissions on this interface
                stats['in'][i] += 1
                ethertype = (frame[12] << 8) | frame[13] if len(frame) >= 14 else 0
                if loss > 0 and ethertype in (0x0800, 0x86DD) and rng.random() < loss:
                    stats['lost'][i] += 1
                    continue
                if len(queues[i]) >= a.queue:
                    stats['overflow'][i] += 1
                    continue
                t = time.monotonic()
                d = delay + (rng.gauss(0.0, jitter) if jitter > 0 else 0.0)
                dep = max(last_dep[i], t + max(0.0, d))
                last_dep[i] = dep
                queues[i].append((dep, frame))
    print(json.dumps(stats), flush=True)


if __name__ == '__main__':
    main()
