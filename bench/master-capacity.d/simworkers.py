#!/usr/bin/python3
"""Simulated Locust workers for bench/master-capacity.

One process plays N workers. Each is a ZeroMQ DEALER whose identity is
"<host>_<32 hex>" and speaks Locust 2.12.1's protocol as written down in
research/locust-protocol.md:

- client_ready with "2.12.1", resent every 5 s until the ack;
- after the ack, a heartbeat every 1 s ({state, current_cpu_usage,
  current_memory_usage}) and a stats report every 3 s;
- spawn -> spawning (always, first), then spawning_complete unless the
  timestamp is stale; stop -> client_stopped + client_ready;
  quit -> one final stats report, then quit; reconnect -> new socket.

While running, every report carries NAMES request names, each a full
StatsEntry.serialize() map (14 keys, Locust-rounded response_times buckets
with int and float keys, num_reqs_per_sec, num_fail_per_sec), as a delta of
RATE requests per second per name over the 3 s window, plus the Aggregated
stats_total and an errors map for the few names that fail. Before the first
spawn (and after a stop) reports are empty, as a real worker's are.

The entry maps are built once at start-up and shared by all simulated
workers: for each report only the timestamps are rewritten, then the map is
packed, so the simulator spends its CPU on msgpack and sockets, not on
building dicts. What it sent (request and failure totals, and a timeline of
the cumulative count) is written as JSON to --out when every worker has
quit or the deadline passes.

It does not measure anything itself, does no real requests, and talks only
to the address it is given.
"""

import argparse
import hashlib
import heapq
import json
import os
import random
import sys
import time
import uuid

import msgpack
import zmq

VERSION = "2.12.1"
HEARTBEAT_INTERVAL = 1.0
REPORT_INTERVAL = 3.0
CONNECT_RETRY = 5.0


def locust_bucket(rt):
    """Locust 2.12's StatsEntry._log_time_of_request rounding: an int key
    under 100 ms, a float key (round(x, -n) of a float) above."""
    if rt < 100:
        return round(rt)
    if rt < 1000:
        return round(rt, -1)
    if rt < 10000:
        return round(rt, -2)
    return round(rt, -3)


class Templates:
    """The request names, their per-report deltas, and the Aggregated row,
    built once. Every report of every worker reuses these maps after
    rewriting their timestamps."""

    def __init__(self, names, rate, seed):
        rng = random.Random(seed)
        per_report = int(round(rate * REPORT_INTERVAL))
        self.rate = rate
        self.per_report = per_report
        self.entries = []
        self.errors = {}
        total_rt = {}
        agg = dict(num_requests=0, num_failures=0, total_response_time=0.0,
                   max_response_time=0.0, min_response_time=None,
                   total_content_length=0)
        kinds = ["/api/items/{}", "/api/users/{}/profile", "/static/app-{}.js",
                 "/search?q={}", "/cart/{}/checkout"]
        for k in range(names):
            method = "POST" if k % 7 == 0 else "GET"
            name = kinds[k % len(kinds)].format(k)
            median = rng.lognormvariate(3.0, 1.2)  # ms; most 5-100, a tail to seconds
            times = [max(0.05, rng.lognormvariate(0, 0.35) * median) for _ in range(per_report)]
            buckets = {}
            for t in times:
                b = locust_bucket(t)
                buckets[b] = buckets.get(b, 0) + 1
                total_rt[b] = total_rt.get(b, 0) + 1
            size = rng.randrange(200, 20000)
            fails = 3 if k % 50 == 1 else 0   # 2% of the names fail once a second
            e = {
                "name": name,
                "method": method,
                "last_request_timestamp": None,
                "start_time": None,
                "num_requests": per_report,
                "num_none_requests": 0,
                "num_failures": fails,
                "total_response_time": sum(times),
                "max_response_time": max(times),
                "min_response_time": min(times),
                "total_content_length": size * per_report,
                "response_times": buckets,
                "num_reqs_per_sec": None,
                "num_fail_per_sec": None,
            }
            self.entries.append(e)
            if fails:
                err = "HTTPError('500 Server Error: Internal Server Error for url: %s')" % name
                key = hashlib.sha256(("%s.%s.%r" % (method, name, err)).encode()).hexdigest()
                self.errors[key] = {"name": name, "method": method, "error": err,
                                    "occurrences": fails}
            agg["num_requests"] += per_report
            agg["num_failures"] += fails
            agg["total_response_time"] += e["total_response_time"]
            agg["max_response_time"] = max(agg["max_response_time"], e["max_response_time"])
            m = agg["min_response_time"]
            agg["min_response_time"] = e["min_response_time"] if m is None else min(m, e["min_response_time"])
            agg["total_content_length"] += e["total_content_length"]
        self.failing = [e for e in self.entries if e["num_failures"]]
        self.total = {
            "name": "Aggregated", "method": "", "last_request_timestamp": None,
            "start_time": None, "num_requests": agg["num_requests"], "num_none_requests": 0,
            "num_failures": agg["num_failures"],
            "total_response_time": agg["total_response_time"],
            "max_response_time": agg["max_response_time"],
            "min_response_time": agg["min_response_time"],
            "total_content_length": agg["total_content_length"],
            "response_times": total_rt, "num_reqs_per_sec": None, "num_fail_per_sec": None,
        }
        self.req_per_report = agg["num_requests"]
        self.fail_per_report = agg["num_failures"]
        self.empty_total = {
            "name": "Aggregated", "method": None, "last_request_timestamp": None,
            "start_time": time.time(), "num_requests": 0, "num_none_requests": 0,
            "num_failures": 0, "total_response_time": 0, "max_response_time": 0,
            "min_response_time": None, "total_content_length": 0, "response_times": {},
            "num_reqs_per_sec": {}, "num_fail_per_sec": {},
        }

    def full_report(self, now, window_start, ucc):
        """Packed stats payload data for one worker's window ending now."""
        sec = int(now)
        nreq = int(round(self.rate))
        per_sec = {sec - 2: nreq, sec - 1: nreq, sec: self.per_report - 2 * nreq}
        fail_sec = {sec - 2: 1, sec - 1: 1, sec: 1}
        no_fail = {}
        for e in self.entries:
            e["last_request_timestamp"] = now
            e["start_time"] = window_start
            e["num_reqs_per_sec"] = per_sec
            e["num_fail_per_sec"] = no_fail
        for e in self.failing:
            e["num_fail_per_sec"] = fail_sec
        t = self.total
        t["last_request_timestamp"] = now
        t["start_time"] = window_start
        t["num_reqs_per_sec"] = {s: n * len(self.entries) for s, n in per_sec.items()}
        t["num_fail_per_sec"] = {s: n * len(self.failing) for s, n in fail_sec.items()}
        return {"stats": self.entries, "stats_total": t, "errors": self.errors,
                "user_classes_count": ucc, "user_count": sum(ucc.values())}

    def empty_report(self, ucc):
        return {"stats": [], "stats_total": self.empty_total, "errors": {},
                "user_classes_count": ucc, "user_count": 0}


class Worker:
    def __init__(self, sim, idx, host):
        self.sim = sim
        self.idx = idx
        self.node_id = "%s_%s" % (host, uuid.uuid4().hex)
        self.state = "connecting"
        self.ucc = {}
        self.last_spawn_ts = -1.0
        self.window_start = time.time()
        self.sock = None
        self.done = False
        self.sent_requests = 0
        self.sent_failures = 0
        self.reports = 0
        self.connect()

    def connect(self):
        if self.sock is not None:
            self.sim.poller.unregister(self.sock)
            self.sock.close(linger=0)
        s = self.sim.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, self.node_id.encode())
        s.setsockopt(zmq.TCP_KEEPALIVE, 1)
        s.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 30)
        s.setsockopt(zmq.LINGER, 2000)
        s.connect(self.sim.endpoint)
        self.sock = s
        self.sim.poller.register(s, zmq.POLLIN)
        self.sim.by_sock[s] = self

    def send(self, mtype, data):
        payload = msgpack.packb((mtype, data, self.node_id), use_bin_type=True)
        try:
            # Blocking, as the master being slow must show as lag, not as loss.
            self.sock.send(payload)
        except zmq.ZMQError as e:
            self.sim.send_errors += 1
            print("sim: %s: send %s: %s" % (self.node_id, mtype, e), file=sys.stderr)
        return len(payload)

    def send_ready(self, now):
        self.send("client_ready", VERSION)
        if self.state == "connecting":
            self.sim.schedule(now + CONNECT_RETRY, "ready_retry", self)

    def heartbeat(self, now):
        if self.done:
            return
        state = self.state if self.state in ("ready", "spawning", "running") else "ready"
        self.send("heartbeat", {"state": state,
                                "current_cpu_usage": 1.5 + (self.idx % 10),
                                "current_memory_usage": 60_000_000 + self.idx * 4096})
        self.sim.schedule(now + HEARTBEAT_INTERVAL, "heartbeat", self)

    def report(self, now, final=False):
        if self.done:
            return
        t = self.sim.tpl
        if self.state == "running":
            data = t.full_report(now, self.window_start, self.ucc)
            n = self.send("stats", data)
            self.sent_requests += t.req_per_report
            self.sent_failures += t.fail_per_report
            self.sim.note_sent(now, t.req_per_report, n)
        else:
            self.send("stats", t.empty_report(self.ucc))
        self.reports += 1
        self.window_start = now
        if not final:
            self.sim.schedule(now + REPORT_INTERVAL, "report", self)

    def on_message(self, raw, now):
        try:
            mtype, data, _node = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except Exception as e:  # a benchmark tool: say it, keep going
            print("sim: undecodable message: %s" % e, file=sys.stderr)
            return
        self.sim.received[mtype] = self.sim.received.get(mtype, 0) + 1
        if mtype == "ack":
            if self.state == "connecting":
                self.state = "ready"
                self.sim.acked += 1
                # Spread the 1 s and 3 s timers of the workers over their
                # periods, as real workers started at different times are.
                self.sim.schedule(now + (self.idx % 10) / 10.0, "heartbeat", self)
                self.sim.schedule(now + 0.05 + self.sim.stagger(self.idx), "report", self)
        elif mtype == "spawn":
            self.send("spawning", None)  # before the timestamp check, as Locust
            ts = data.get("timestamp", 0) if isinstance(data, dict) else 0
            if ts <= self.last_spawn_ts:
                return
            self.last_spawn_ts = ts
            self.ucc = dict(data.get("user_classes_count") or {})
            if self.state != "running":
                self.window_start = now
                self.sim.first_spawn = self.sim.first_spawn or now
            self.state = "running"
            self.sim.spawns += 1
            self.send("spawning_complete", {"user_classes_count": self.ucc,
                                            "user_count": sum(self.ucc.values())})
        elif mtype == "stop":
            self.state = "ready"
            self.ucc = {k: 0 for k in self.ucc}
            self.send("client_stopped", None)
            self.send("client_ready", VERSION)
        elif mtype == "quit":
            if self.done:
                return
            self.report(now, final=True)
            self.send("quit", None)
            self.done = True
            self.sim.quits += 1
            self.sim.last_quit = now
        elif mtype == "reconnect":
            self.state = "connecting"
            self.connect()
            self.send_ready(now)
        # Anything else: dropped, as a 2.12.1 worker drops unknown types.


class Sim:
    def __init__(self, args):
        self.args = args
        self.endpoint = "tcp://%s:%d" % (args.host, args.port)
        self.ctx = zmq.Context(io_threads=1)
        self.poller = zmq.Poller()
        self.by_sock = {}
        self.heap = []
        self.seq = 0
        self.tpl = Templates(args.names, args.rate, args.seed)
        self.received = {}
        self.acked = self.spawns = self.quits = self.send_errors = 0
        self.first_spawn = None
        self.last_quit = None
        self.cum = 0
        self.bytes = 0
        self.timeline = []      # (unix time, cumulative requests sent)
        self.max_late = 0.0
        self.workers = []

    def stagger(self, idx):
        return REPORT_INTERVAL * idx / max(1, self.args.workers)

    def schedule(self, due, kind, w):
        self.seq += 1
        heapq.heappush(self.heap, (due, self.seq, kind, w))

    def note_sent(self, now, n, nbytes):
        self.cum += n
        self.bytes += nbytes
        self.timeline.append((round(now, 3), self.cum))

    def run(self):
        a = self.args
        deadline = time.time() + a.deadline
        now = time.time()
        for i in range(a.workers):
            w = Worker(self, i, "%s%d" % (a.host_prefix, i % a.hosts))
            self.workers.append(w)
            w.send_ready(now)
        while time.time() < deadline:
            if self.workers and all(w.done for w in self.workers):
                break
            now = time.time()
            while self.heap and self.heap[0][0] <= now:
                due, _, kind, w = heapq.heappop(self.heap)
                if kind in ("report", "heartbeat"):
                    self.max_late = max(self.max_late, now - due) if self.first_spawn else self.max_late
                if kind == "heartbeat":
                    w.heartbeat(now)
                elif kind == "report":
                    w.report(now)
                elif kind == "ready_retry" and w.state == "connecting":
                    w.send_ready(now)
                now = time.time()
            wait = 0.2 if not self.heap else max(0.0, min(0.2, self.heap[0][0] - time.time()))
            for s, _ in self.poller.poll(wait * 1000):
                w = self.by_sock.get(s)
                while w is not None:
                    try:
                        raw = s.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    w.on_message(raw, time.time())
                    if w.sock is not s:  # reconnected
                        break
        self.finish()

    def finish(self):
        t = self.tpl
        out = {
            "workers": self.args.workers, "names": self.args.names,
            "rate_per_name": self.args.rate,
            "acked": self.acked, "spawns": self.spawns, "quits": self.quits,
            "received": self.received, "send_errors": self.send_errors,
            "sent_requests": sum(w.sent_requests for w in self.workers),
            "sent_failures": sum(w.sent_failures for w in self.workers),
            "requests_per_report": t.req_per_report,
            "bytes_sent_in_full_reports": self.bytes,
            "first_spawn": self.first_spawn, "last_quit": self.last_quit,
            "max_timer_late_s": round(self.max_late, 3),
            "timeline": self.timeline,
            "workers_not_quit": sum(1 for w in self.workers if not w.done),
        }
        tmp = self.args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f)
        os.replace(tmp, self.args.out)
        for w in self.workers:
            w.sock.close(linger=0)
        self.ctx.term()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=100)
    p.add_argument("--names", type=int, default=1000)
    p.add_argument("--rate", type=float, default=100.0, help="requests/s per name per worker")
    p.add_argument("--hosts", type=int, default=10, help="distinct <host> parts of node ids")
    p.add_argument("--host-prefix", default="simhost")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--deadline", type=float, default=180.0, help="give up after this many s")
    p.add_argument("--out", required=True)
    Sim(p.parse_args()).run()


if __name__ == "__main__":
    main()
