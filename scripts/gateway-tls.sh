#!/usr/bin/env bash
# A local certificate authority and the Gateway's certificate from it (stage 7,
# kubernetes/stages/7-gateway), for clusters with no cert-manager and no real certificate:
#
#   scripts/gateway-tls.sh [DIR] [HOST]     default DIR ./kub-network-tls, HOST kub-network.test
#
# Writes into DIR (made 0700): ca.crt and ca.key (kept and reused when they exist), tls.crt and
# tls.key (made anew each run, valid 90 days), then prints the kubectl command that stores
# tls.crt and tls.key as the Secret kub-network-tls. Clients verify the Gateway with ca.crt
# (curl --cacert DIR/ca.crt); the CA may sign for HOST and its subdomains only (a name
# constraint), so a copy of ca.key that leaks cannot impersonate any other site to a browser that
# trusts ca.crt.
set -euo pipefail
DIR=${1:-kub-network-tls}
HOST=${2:-kub-network.test}
command -v openssl >/dev/null || { echo "gateway-tls: needs openssl" >&2; exit 1; }
mkdir -p "$DIR"; chmod 0700 "$DIR"
umask 077

if [[ ! -f $DIR/ca.key || ! -f $DIR/ca.crt ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=kub-network local CA for $HOST" -keyout "$DIR/ca.key" -out "$DIR/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "nameConstraints=critical,permitted;DNS:$HOST,permitted;DNS:.$HOST" 2>/dev/null
  echo "gateway-tls: new CA $DIR/ca.crt" >&2
fi

openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
  -keyout "$DIR/tls.key" -out "$DIR/tls.csr" 2>/dev/null
openssl x509 -req -in "$DIR/tls.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
  -days 90 -out "$DIR/tls.crt" -extfile <(printf '%s\n' \
    "subjectAltName=DNS:$HOST" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth") 2>/dev/null
rm -f "$DIR/tls.csr" "$DIR/ca.srl"
openssl verify -CAfile "$DIR/ca.crt" "$DIR/tls.crt" >/dev/null
chmod 0644 "$DIR/ca.crt" "$DIR/tls.crt"
echo "gateway-tls: $DIR/tls.crt for $HOST, until $(openssl x509 -in "$DIR/tls.crt" -noout -enddate | cut -d= -f2)" >&2
echo "kubectl create secret tls kub-network-tls --cert=$DIR/tls.crt --key=$DIR/tls.key"
