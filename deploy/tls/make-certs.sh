#!/usr/bin/env bash
# TLS for podinject without cert-manager: a CA and a serving certificate made with openssl, and a
# kustomize overlay that installs podinject with them.
#
#   deploy/tls/make-certs.sh [OUT_DIR]        # default: deploy/tls/generated (git-ignored)
#   kubectl apply -k OUT_DIR
#
# OUT_DIR gets:
#   ca.crt ca.key            the CA (kept and reused on the next run, so caBundle stays the same while
#                            the serving certificate is renewed; delete them for a new CA)
#   tls.crt tls.key          the serving certificate for SERVICE.NAMESPACE.svc (and its short names)
#   kustomization.yaml       deploy/kubernetes + the Secret podinject-tls (type kubernetes.io/tls) +
#                            the webhook's caBundle
# Environment: NAMESPACE, SERVICE (podinject, podinject: the manifests' own), CA_DAYS (3650), DAYS (365).
# ca.key signs serving certificates the API server trusts: keep OUT_DIR out of version control.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base="$here/../kubernetes"
out=${1:-$here/generated}
namespace=${NAMESPACE:-podinject}
service=${SERVICE:-podinject}
ca_days=${CA_DAYS:-3650}
days=${DAYS:-365}
command -v openssl >/dev/null || { echo "make-certs.sh: openssl not found" >&2; exit 1; }

umask 077
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$out"

# ECDSA P-256: what the API server, nginx and lighttpd all take, with the cheapest handshakes.
if [[ ! -s ca.key || ! -s ca.crt ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout ca.key -out ca.crt -days "$ca_days" -subj "/CN=podinject-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  echo "make-certs.sh: new CA in $out/ca.crt" >&2
else
  echo "make-certs.sh: reusing the CA in $out/ca.crt" >&2
fi

fqdn="$service.$namespace.svc"
cat >tls.ext <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:$service, DNS:$service.$namespace, DNS:$fqdn, DNS:$fqdn.cluster.local
EXT
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout tls.key -out tls.csr -subj "/CN=$fqdn" 2>/dev/null
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
  -days "$days" -extfile tls.ext -out tls.crt 2>/dev/null
rm -f tls.csr tls.ext
openssl verify -CAfile ca.crt -purpose sslserver tls.crt >/dev/null
chmod 0644 ca.crt tls.crt

ca_bundle=$(base64 -w0 <ca.crt)
resources=$(realpath --relative-to="$out" "$base")
cat >kustomization.yaml <<YAML
# Written by deploy/tls/make-certs.sh: podinject ($resources) with TLS from this directory's CA.
#   kubectl apply -k $out
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $resources
# The serving certificate. The generated name carries a hash of its content, so a renewed certificate
# rolls the Deployment out.
secretGenerator:
- name: podinject-tls
  namespace: $namespace
  type: kubernetes.io/tls
  files:
  - tls.crt
  - tls.key
  - ca.crt
  options:
    labels:
      app.kubernetes.io/name: podinject
# The API server verifies podinject's certificate against this CA.
patches:
- target:
    group: admissionregistration.k8s.io
    version: v1
    kind: MutatingWebhookConfiguration
    name: podinject
  patch: |-
    - op: add
      path: /webhooks/0/clientConfig/caBundle
      value: $ca_bundle
YAML
echo "make-certs.sh: serving certificate for $fqdn in $out/tls.crt; apply with: kubectl apply -k $out" >&2
