# Sourced by scripts/bench-cgi and scripts/bench-latency: the shipped CGI host, started the way the image
# starts it (deploy/docker/entrypoint.sh with deploy/hosts/nginx.conf, nginx + fcgiwrap over TLS), as a
# non-root user (uid 65532 through setpriv when run as root, as in the image). Expects $tmp and $PY.

run_as=()
if [[ $(id -u) -eq 0 ]]; then run_as=(setpriv --reuid=65532 --regid=65532 --clear-groups); fi

# host_tls: a CA and a serving certificate for podinject.podinject.svc in $tmp/tls (make-certs.sh),
# readable by the host's user.
host_tls() {
  deploy/tls/make-certs.sh "$tmp/tls" >/dev/null 2>&1
  chmod 0755 "$tmp/tls"
  chmod 0644 "$tmp/tls/tls.key"
}

# free_port: a TCP port free on 127.0.0.1 just now.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# host_start PORT PROGRAM RUN_DIR LOG [env options and VAR=value...]: the host on 127.0.0.1:PORT in the
# background, running PROGRAM with $tmp/config.yaml and the certificate of host_tls; its pid in host_pid.
# As in the image (deploy/docker/Dockerfile), the metrics file is in memory: a directory of /dev/shm named
# after RUN_DIR, which host_cleanup removes.
host_start() {
  local port=$1 program=$2 run_dir=$3 log=$4
  shift 4
  env "$@" PODINJECT_METRICS_FILE="$(host_shm_dir "$run_dir")/metrics" PODINJECT_METRICS_PORT="$(free_port)" PODINJECT_ADDRESS=127.0.0.1 PODINJECT_PORT="$port" \
    PODINJECT_BINARY="$program" \
    PODINJECT_CONFIG="$tmp/config.yaml" PODINJECT_RUN_DIR="$run_dir" \
    PODINJECT_TLS_CERT="$tmp/tls/tls.crt" PODINJECT_TLS_KEY="$tmp/tls/tls.key" PODINJECT_TLS_RELOAD_SECONDS=0 \
    "${run_as[@]}" deploy/docker/entrypoint.sh </dev/null >"$log" 2>&1 &
  host_pid=$!
}

# host_shm_dir RUN_DIR: the host's directory in /dev/shm (one per host of one run).
host_shm_dir() { echo "/dev/shm/$(basename "$tmp")-$(basename "$1")"; }

# host_cleanup: removes what the hosts of this run left in /dev/shm.
host_cleanup() { rm -rf "/dev/shm/$(basename "$tmp")"-*; }
