#!/usr/bin/env bash
# Renders a host configuration template of this directory to stdout, its @VARS@ filled in from the
# environment. Used by the container's entrypoint (deploy/docker/entrypoint.sh), the tests
# (Tests/e2e/test_hosts.py) and the CGI benchmark (scripts/bench-cgi).
#
#   render.sh nginx|lighttpd > FILE
#
# Variables (default):
#   PODINJECT_ADDRESS      listen address (0.0.0.0)
#   PODINJECT_PORT         HTTPS port (8443)
#   PODINJECT_TLS_CERT     serving certificate, PEM (/etc/podinject-tls/tls.crt)
#   PODINJECT_TLS_KEY      its key, PEM (/etc/podinject-tls/tls.key)
#   PODINJECT_BINARY       the CGI program (/usr/local/bin/podinject)
#   PODINJECT_CONFIG       podinject's configuration (/etc/podinject/config.yaml)
#   PODINJECT_RUN_DIR      pid file, temp files, the fcgiwrap socket (/tmp/podinject-host)
#   PODINJECT_FCGI_SOCKET  fcgiwrap's socket (PODINJECT_RUN_DIR/fcgiwrap.sock)
#   PODINJECT_ERROR_LOG    the host's error log (nginx: stderr; lighttpd: /dev/stderr)
#   PODINJECT_METRICS_PORT plain-HTTP port of GET /metrics (9090)
#   PODINJECT_METRICS_FILE the counters every admission shares (PODINJECT_RUN_DIR/metrics)
# Optional (nginx; unset: off):
#   PODINJECT_CLIENT_CA    mutual TLS: the CA file (PEM) that signs the API server's client certificate;
#                          the webhook path then answers 403 to a caller without a certificate it signed
#   PODINJECT_CLIENT_NAME  and, with it, the certificate's common name that is required (e.g. the name in
#                          the API server's AdmissionConfiguration kubeConfigFile); unset: any it signed
# A template line that starts with @?NAME@ is kept (without the marker) only when NAME is set.
set -euo pipefail

usage() { echo "usage: render.sh nginx|lighttpd" >&2; exit 64; }
(($# == 1)) || usage
host=$1
case $host in
  nginx) default_log=stderr ;;
  lighttpd) default_log=/dev/stderr ;;
  *) usage ;;
esac
template="$(dirname "${BASH_SOURCE[0]}")/$host.conf"
[[ -r $template ]] || { echo "render.sh: no template $template" >&2; exit 1; }

run_dir=${PODINJECT_RUN_DIR:-/tmp/podinject-host}
declare -A vars=(
  [ADDRESS]=${PODINJECT_ADDRESS:-0.0.0.0}
  [PORT]=${PODINJECT_PORT:-8443}
  [TLS_CERT]=${PODINJECT_TLS_CERT:-/etc/podinject-tls/tls.crt}
  [TLS_KEY]=${PODINJECT_TLS_KEY:-/etc/podinject-tls/tls.key}
  [BINARY]=${PODINJECT_BINARY:-/usr/local/bin/podinject}
  [CONFIG]=${PODINJECT_CONFIG:-/etc/podinject/config.yaml}
  [RUN_DIR]=$run_dir
  [FCGI_SOCKET]=${PODINJECT_FCGI_SOCKET:-$run_dir/fcgiwrap.sock}
  [ERROR_LOG]=${PODINJECT_ERROR_LOG:-$default_log}
  [METRICS_PORT]=${PODINJECT_METRICS_PORT:-9090}
  [METRICS_FILE]=${PODINJECT_METRICS_FILE:-$run_dir/metrics}
)
declare -A optional=(
  [CLIENT_CA]=${PODINJECT_CLIENT_CA:-}
  [CLIENT_NAME]=${PODINJECT_CLIENT_NAME:-}
)

# The values land unquoted in nginx's syntax and quoted in lighttpd's: refuse anything that could end a
# token or a string there.
for name in "${!vars[@]}"; do
  value=${vars[$name]}
  if [[ -z $value || ! $value =~ ^[][A-Za-z0-9_./:@%+,=-]+$ ]]; then
    echo "render.sh: unsafe or empty value for @$name@: '$value'" >&2
    exit 1
  fi
done
for name in "${!optional[@]}"; do
  value=${optional[$name]}
  if [[ -n $value && ! $value =~ ^[][A-Za-z0-9_./:@%+,=-]+$ ]]; then
    echo "render.sh: unsafe value for @$name@: '$value'" >&2
    exit 1
  fi
done
[[ -z ${optional[CLIENT_CA]} || ${optional[CLIENT_CA]} == /* ]] ||
  { echo "render.sh: @CLIENT_CA@ must be an absolute path: ${optional[CLIENT_CA]}" >&2; exit 1; }
[[ -z ${optional[CLIENT_NAME]} || -n ${optional[CLIENT_CA]} ]] ||
  { echo "render.sh: PODINJECT_CLIENT_NAME needs PODINJECT_CLIENT_CA" >&2; exit 1; }
[[ ${vars[PORT]} =~ ^[0-9]+$ ]] || { echo "render.sh: PODINJECT_PORT must be a number" >&2; exit 1; }
[[ ${vars[METRICS_PORT]} =~ ^[0-9]+$ ]] || { echo "render.sh: PODINJECT_METRICS_PORT must be a number" >&2; exit 1; }
[[ ${vars[METRICS_PORT]} != "${vars[PORT]}" ]] ||
  { echo "render.sh: PODINJECT_METRICS_PORT must differ from PODINJECT_PORT" >&2; exit 1; }
for name in TLS_CERT TLS_KEY BINARY CONFIG RUN_DIR FCGI_SOCKET METRICS_FILE; do
  [[ ${vars[$name]} == /* ]] || { echo "render.sh: @$name@ must be an absolute path: ${vars[$name]}" >&2; exit 1; }
done

# lighttpd's mod_cgi starts programs with only the CGI variables: list what podinject needs, with the
# proxy settings an operator gives the container (HTTPS_PROXY, NO_PROXY: Event delivery reads them as
# client-go does). HTTP_PROXY is set empty: lighttpd already never passes a client's `Proxy:` header as
# HTTP_PROXY ("httpoxy"), and this says so.
lighttpd_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
cgi_env=$(printf '"PODINJECT_CONFIG" => %s, "PODINJECT_METRICS_FILE" => %s, "HTTP_PROXY" => ""' \
  "$(lighttpd_string "${vars[CONFIG]}")" "$(lighttpd_string "${vars[METRICS_FILE]}")")
for name in POD_NAME KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT KUBECONFIG PODINJECT_SERVICEACCOUNT_DIR \
  HTTPS_PROXY https_proxy NO_PROXY no_proxy; do
  if [[ -n ${!name:-} ]]; then
    value=${!name}
    [[ $value != *$'\n'* ]] || { echo "render.sh: newline in \$$name" >&2; exit 1; }
    cgi_env+=$(printf ', "%s" => %s' "$name" "$(lighttpd_string "$value")")
  fi
done
vars[CGI_ENV]=$cgi_env

# Substitute on configuration lines only: comments keep naming the @VARS@ they document.
for name in "${!optional[@]}"; do vars[$name]=${optional[$name]}; done
export RENDER_NAMES="${!vars[*]}"
for name in "${!vars[@]}"; do export "RENDER_VALUE_$name=${vars[$name]}"; done
awk '
  BEGIN { n = split(ENVIRON["RENDER_NAMES"], names, " ") }
  /^[ \t]*#/ { print; next }
  {
    line = $0
    # @?NAME@ at the start of a line: keep the line only when NAME is set.
    if (match(line, /^[ \t]*@\?[A-Z_]+@/)) {
      marker = substr(line, RSTART, RLENGTH); sub(/^[ \t]*@\?/, "", marker); sub(/@$/, "", marker)
      if (ENVIRON["RENDER_VALUE_" marker] == "") next
      sub(/@\?[A-Z_]+@/, "", line)
    }
    for (i = 1; i <= n; i++) {
      key = "@" names[i] "@"; value = ENVIRON["RENDER_VALUE_" names[i]]; out = ""
      while ((at = index(line, key)) > 0) { out = out substr(line, 1, at - 1) value; line = substr(line, at + length(key)) }
      line = out line
    }
    if (match(line, /@[A-Z_]+@/)) { printf "render.sh: line %d: unknown variable %s\n", NR, substr(line, RSTART, RLENGTH) > "/dev/stderr"; bad = 1 }
    print line
  }
  END { exit bad }
' "$template"
