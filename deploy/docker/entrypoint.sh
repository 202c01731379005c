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
#   - SIGTERM/SIGINT: nginx finishes the admissions in flight (graceful quit), then fcgiwrap stops.
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

stop() {
  trap - TERM INT
  if [[ -n $nginx_pid ]]; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true   # graceful: the admissions in flight are answered
    wait "$nginx_pid" 2>/dev/null || true
  fi
  kill -TERM -- "-$fcgiwrap_pid" 2>/dev/null || true
  wait "$fcgiwrap_pid" 2>/dev/null || true
  [[ -z $sleeper ]] || kill "$sleeper" 2>/dev/null || true
  exit "$1"
}
trap 'stop 0' TERM INT

tls_sum() { cat -- "$PODINJECT_TLS_CERT" "$PODINJECT_TLS_KEY" 2>/dev/null | cksum; }
period=$reload_seconds
((period > 0)) || period=86400
last=$(tls_sum)
while :; do
  sleep "$period" &
  sleeper=$!
  done_pid=
  status=0
  wait -n -p done_pid "$nginx_pid" "$fcgiwrap_pid" "$sleeper" || status=$?
  if [[ $done_pid == "$sleeper" ]]; then
    sleeper=
    ((reload_seconds > 0)) || continue
    now=$(tls_sum)
    if [[ $now != "$last" ]]; then
      last=$now
      say "TLS certificate changed: reloading nginx"
      kill -HUP "$nginx_pid" 2>/dev/null || true
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
