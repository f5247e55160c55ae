#!/bin/sh
# run-demo.sh: what `make run` runs. Starts the built-in demo site and
# cicada's web UI for examples/demo.lua against it (or, with HEADLESS=1, a
# headless run), stops the site, and exits with cicada's exit code.
#
#   sh tools/run-demo.sh [extra cicada arguments...]
#
# Environment (all optional):
#   DEMO_PORT=8080         port of the demo site (loopback only)
#   DEMO_ARGS=             more demo-server flags, e.g. "--fail-ratio 0.3"
#   CICADA=./cicada        the binary
#   SCENARIO=examples/demo.lua  USERS=50  SPAWN_RATE=10  RUN_TIME=30s
#   CSV=out/demo           --csv prefix ("" for no CSV files)
#   HEADLESS=0             1: run headless for RUN_TIME and print the tables;
#                          0: serve the web UI on WEB_PORT (default 8089)
# Extra arguments go to cicada after the defaults (e.g. --html out/demo.html).
#
# The demo's flaky and failing pages fail on purpose, so cicada runs with
# --exit-code-on-error 0: the failures are the demo, not a broken build, and
# `make run` ends with 0 (give --exit-code-on-error 1 to see the CI code).
# Ctrl-C stops cicada, which prints its summary, then the demo site: exit 0.
# Other codes (2 for a bad flag, a site that does not start) stay errors.
set -u

cd "$(dirname "$0")/.." || exit 1

PORT=${DEMO_PORT:-8080}
CICADA=${CICADA:-./cicada}
SCENARIO=${SCENARIO:-examples/demo.lua}
USERS=${USERS:-50}
SPAWN_RATE=${SPAWN_RATE:-10}
RUN_TIME=${RUN_TIME:-30s}
CSV=${CSV-out/demo}
HEADLESS=${HEADLESS:-0}
WEB_PORT=${WEB_PORT:-8089}

say() { echo "run-demo: $*" >&2; }

if [ ! -x "$CICADA" ]; then
    say "$CICADA not found; build it with make"
    exit 1
fi

# Is something listening on 127.0.0.1:$1? nc if there is one, else python3,
# else curl (the site answers / with 200).
port_open() {
    if command -v nc >/dev/null 2>&1; then
        nc -z 127.0.0.1 "$1" >/dev/null 2>&1
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" >/dev/null 2>&1
    else
        curl -s -o /dev/null -m 1 "http://127.0.0.1:$1/"
    fi
}

nap() { sleep 0.1 2>/dev/null || sleep 1; }

if port_open "$PORT"; then
    say "port $PORT is taken already; set DEMO_PORT to a free one"
    exit 1
fi

SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
    fi
}
trap cleanup EXIT
# A handler, not '' (which children would inherit): on Ctrl-C cicada stops
# and reports, and this script carries on to clean up and pass its code on.
trap ':' INT
trap 'exit 143' TERM

# DEMO_ARGS is split into words on purpose.
# shellcheck disable=SC2086
"$CICADA" demo-server --bind 127.0.0.1 --port "$PORT" ${DEMO_ARGS:-} &
SERVER_PID=$!

tries=0
until port_open "$PORT"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID"
        say "the demo site did not start (exit code $?)"
        SERVER_PID=
        exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 100 ]; then
        say "the demo site did not answer on port $PORT within 10 s"
        exit 1
    fi
    nap
done

if [ -n "$CSV" ]; then
    mkdir -p "$(dirname "$CSV")"
    set -- --csv "$CSV" "$@"
fi
set -- --exit-code-on-error 0 "$@"
if [ "$HEADLESS" = 1 ]; then
    "$CICADA" -f "$SCENARIO" -H "http://127.0.0.1:$PORT" --headless \
        -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" "$@"
    rc=$?
else
    say "demo site on http://127.0.0.1:$PORT"
    say "Open http://127.0.0.1:$WEB_PORT in your browser to start the test (Ctrl-C here to quit)"
    "$CICADA" -f "$SCENARIO" -H "http://127.0.0.1:$PORT" --web-port "$WEB_PORT" \
        -u "$USERS" -r "$SPAWN_RATE" "$@"
    rc=$?
fi
cleanup
exit "$rc"
