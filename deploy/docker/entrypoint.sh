#!/usr/bin/env bash
# The container's entrypoint (deploy/docker/Dockerfile; PID 1 is tini): renders deploy/hosts/nginx.conf,
# starts fcgiwrap and nginx as the container's own non-root user, and supervises them.
#   - fcgiwrap (PODINJECT_FCGI_CHILDREN processes, default 8) listens on a socket in PODINJECT_RUN_DIR and
#     runs one podinject per request, in CGI mode. It passes this environment on (PODINJECT_CONFIG,
#     POD_NAME, KUBERNETES_SERVICE_HOST/PORT for Event delivery) and forwards podinject's stderr (the log
#     line) to its own: the container log.
#   - nginx terminates TLS and serves /healthz itself.
#   - When the certificate or key files change (cert-manager renewal, a new Secret), nginx reloads them
#     (checked every PODINJECT_TLS_RELOAD_SECONDS, default 60; 0 turns it off).
#   - No Event is stranded in the outbox (an emptyDir, gone with the pod): every
#     PODINJECT_FLUSH_SECONDS (default 10; 0 turns it off) it runs `podinject events flush --if-waiting`,
#     which does nothing, silently, when no Event waits. While Events keep waiting (the API server
#     refuses or cannot be reached), the next try waits twice as long, up to PODINJECT_FLUSH_MAX_SECONDS
#     (default 300); an empty outbox brings the period back to PODINJECT_FLUSH_SECONDS.
#   - SIGTERM/SIGINT: nginx finishes the admissions in flight (graceful quit), then fcgiwrap stops, then
#     one last `events flush` (bounded by events.timeoutMilliseconds; it first waits for a deliverer
#     still at work) delivers what still waits, and the
#     entrypoint exits 0: well within the Deployment's terminationGracePeriodSeconds.
#     If nginx or fcgiwrap dies, the other is stopped and the container exits non-zero (restarted).
# Every variable of deploy/hosts/render.sh applies; the tests and scripts/bench-cgi run this same script.
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
hosts=${PODINJECT_HOSTS_DIR:-$here/../hosts}
export PODINJECT_RUN_DIR=${PODINJECT_RUN_DIR:-/tmp/podinject-host}
export PODINJECT_FCGI_SOCKET=${PODINJECT_FCGI_SOCKET:-$PODINJECT_RUN_DIR/fcgiwrap.sock}
# Validated configurations, kept between admissions (podinject checks the file is unchanged).
export PODINJECT_CACHE_DIR=${PODINJECT_CACHE_DIR:-$PODINJECT_RUN_DIR/cache}
export PODINJECT_TLS_CERT=${PODINJECT_TLS_CERT:-/etc/podinject-tls/tls.crt}
export PODINJECT_TLS_KEY=${PODINJECT_TLS_KEY:-/etc/podinject-tls/tls.key}
children=${PODINJECT_FCGI_CHILDREN:-8}
reload_seconds=${PODINJECT_TLS_RELOAD_SECONDS:-60}
flush_seconds=${PODINJECT_FLUSH_SECONDS:-10}
flush_max_seconds=${PODINJECT_FLUSH_MAX_SECONDS:-300}
podinject=${PODINJECT_BINARY:-/usr/local/bin/podinject}
nginx=${PODINJECT_NGINX:-nginx}
fcgiwrap=${PODINJECT_FCGIWRAP:-fcgiwrap}
run=$PODINJECT_RUN_DIR
say() { printf 'podinject-entrypoint: %s\n' "$*" >&2; }

mkdir -p "$run"
"$hosts/render.sh" nginx >"$run/nginx.conf"

rm -f "$PODINJECT_FCGI_SOCKET"
# Its own process group (setsid), so that stopping it also stops the prefork children: fcgiwrap's
# parent exits on SIGTERM and leaves them running.
setsid "$fcgiwrap" -c "$children" -s "unix:$PODINJECT_FCGI_SOCKET" </dev/null &
fcgiwrap_pid=$!
for ((i = 0; i < 100; i++)); do
  [[ -S $PODINJECT_FCGI_SOCKET ]] && break
  kill -0 "$fcgiwrap_pid" 2>/dev/null || { say "fcgiwrap exited at start"; exit 1; }
  sleep 0.1
done
[[ -S $PODINJECT_FCGI_SOCKET ]] || { say "fcgiwrap made no socket at $PODINJECT_FCGI_SOCKET"; exit 1; }

# -e stderr: nothing is opened under /var/log/nginx (the root file system is read-only).
"$nginx" -e stderr -p "$run" -c "$run/nginx.conf" </dev/null &
nginx_pid=$!
sleeper=

# Delivers the Events waiting in the outbox (the config's events.outbox; podinject reads
# $PODINJECT_CONFIG and the in-cluster credentials from this environment). Status: 0 when nothing waits,
# 3 when some Events must wait longer, 1 when the outbox is refused.
flush() {
  local status=0
  "$podinject" events flush "$@" </dev/null || status=$?
  return "$status"
}

stop() {
  trap - TERM INT
  if [[ -n $nginx_pid ]]; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true   # graceful: the admissions in flight are answered
    wait "$nginx_pid" 2>/dev/null || true
  fi
  kill -TERM -- "-$fcgiwrap_pid" 2>/dev/null || true
  wait "$fcgiwrap_pid" 2>/dev/null || true
  [[ -z $sleeper ]] || kill "$sleeper" 2>/dev/null || true
  # The last chance for the Events of this replica: its outbox goes with the pod. A deliverer still
  # draining holds the outbox lock (and the Events it has claimed are no longer "waiting"): flush
  # without --if-waiting waits for it within its budget, then sends what is left.
  if ((flush_seconds > 0)); then
    local status=0
    flush || status=$?
    ((status == 0)) || say "events flush at exit: status $status (Events left in the outbox are lost with it)"
  fi
  exit "$1"
}
trap 'stop 0' TERM INT

tls_sum() { cat -- "$PODINJECT_TLS_CERT" "$PODINJECT_TLS_KEY" 2>/dev/null | cksum; }
# The next TLS check and the next outbox look, in epoch seconds (a period of 0 turns either off).
reload_period=$((reload_seconds > 0 ? reload_seconds : 86400))
flush_delay=$((flush_seconds > 0 ? flush_seconds : 86400))
next_reload=$((EPOCHSECONDS + reload_period))
next_flush=$((EPOCHSECONDS + flush_delay))
last=$(tls_sum)
while :; do
  period=$(((next_reload < next_flush ? next_reload : next_flush) - EPOCHSECONDS))
  ((period > 0)) || period=1
  sleep "$period" &
  sleeper=$!
  done_pid=
  status=0
  wait -n -p done_pid "$nginx_pid" "$fcgiwrap_pid" "$sleeper" || status=$?
  if [[ $done_pid == "$sleeper" ]]; then
    sleeper=
    if ((EPOCHSECONDS >= next_reload)); then
      next_reload=$((EPOCHSECONDS + reload_period))
      sum=$(tls_sum)
      if ((reload_seconds > 0)) && [[ $sum != "$last" ]]; then
        last=$sum
        say "TLS certificate changed: reloading nginx"
        kill -HUP "$nginx_pid" 2>/dev/null || true
      fi
    fi
    if ((EPOCHSECONDS >= next_flush)); then
      if ((flush_seconds > 0)); then
        status=0
        flush --if-waiting || status=$?
        if ((status == 0)); then
          flush_delay=$flush_seconds
        else
          # Still waiting (3) or refused (1): back off, so an API server that is down is not hammered.
          flush_delay=$((flush_delay * 2 < flush_max_seconds ? flush_delay * 2 : flush_max_seconds))
          say "events flush: status $status; next try in ${flush_delay}s"
        fi
      fi
      next_flush=$((EPOCHSECONDS + flush_delay))
    fi
    continue
  fi
  if [[ $done_pid == "$nginx_pid" ]]; then
    nginx_pid=
    say "nginx exited (status $status): stopping"
  else
    say "fcgiwrap exited (status $status): stopping"
  fi
  stop 1
done
