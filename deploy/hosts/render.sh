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
[[ ${vars[PORT]} =~ ^[0-9]+$ ]] || { echo "render.sh: PODINJECT_PORT must be a number" >&2; exit 1; }
for name in TLS_CERT TLS_KEY BINARY CONFIG RUN_DIR FCGI_SOCKET; do
  [[ ${vars[$name]} == /* ]] || { echo "render.sh: @$name@ must be an absolute path: ${vars[$name]}" >&2; exit 1; }
done

# lighttpd's mod_cgi starts programs with only the CGI variables: list what podinject needs, with the
# proxy settings an operator gives the container (HTTPS_PROXY, NO_PROXY: Event delivery reads them as
# client-go does). HTTP_PROXY is set empty: lighttpd already never passes a client's `Proxy:` header as
# HTTP_PROXY ("httpoxy"), and this says so.
lighttpd_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
cgi_env=$(printf '"PODINJECT_CONFIG" => %s, "HTTP_PROXY" => ""' "$(lighttpd_string "${vars[CONFIG]}")")
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
export RENDER_NAMES="${!vars[*]}"
for name in "${!vars[@]}"; do export "RENDER_VALUE_$name=${vars[$name]}"; done
awk '
  BEGIN { n = split(ENVIRON["RENDER_NAMES"], names, " ") }
  /^[ \t]*#/ { print; next }
  {
    line = $0
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
