#!/usr/bin/env bash
# Generates Muon's development certificates into the directory this script lives in.
#
#   ca.crt / ca.key                 development CA (EC P-256, ~100 years)
#   server.crt / server.key         EC P-256, SAN DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth
#   server-rsa.crt / server-rsa.key RSA-2048, same names, serverAuth (for benchmarks)
#   other.crt / other.key           EC P-256, SAN DNS:other.test, serverAuth (SNI tests)
#   client.crt / client.key         EC P-256, CN=muon-client, clientAuth (mTLS tests)
#
# Idempotent: files that already exist are kept; run with --force to regenerate all.
# Keys are unencrypted PKCS#8 PEM. FOR DEVELOPMENT AND TESTS ONLY.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ "${1:-}" == "--force" ]]; then
    rm -f ca.crt ca.key ca.srl server.crt server.key server-rsa.crt server-rsa.key \
        other.crt other.key client.crt client.key
fi

DAYS_CA=36500
DAYS_LEAF=36500
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# new_key FILE ec|rsa : a PKCS#8 PEM private key.
new_key() {
    case "$2" in
        ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
        rsa) openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" ;;
    esac
    chmod 600 "$1"
}

# leaf NAME KEYTYPE SUBJECT SAN EKU : NAME.key and NAME.crt signed by the CA.
leaf() {
    local name="$1" type="$2" subj="$3" san="$4" eku="$5"
    if [[ -f "$name.crt" && -f "$name.key" ]]; then
        echo "keep $name.crt"
        return
    fi
    new_key "$name.key" "$type"
    # RSA keys may do key transport (TLS 1.2 RSA kx is not enabled, but be correct); EC keys only sign.
    local ku="digitalSignature"
    [[ "$type" == rsa ]] && ku="digitalSignature, keyEncipherment"
    openssl req -new -key "$name.key" -subj "$subj" -out "$tmp/$name.csr"
    cat > "$tmp/$name.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, $ku
extendedKeyUsage = $eku
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${san:+subjectAltName = $san}
EXT
    openssl x509 -req -in "$tmp/$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days "$DAYS_LEAF" -sha256 -extfile "$tmp/$name.ext" -out "$name.crt" 2>/dev/null
    echo "made $name.crt"
}

if [[ ! -f ca.crt || ! -f ca.key ]]; then
    # A new CA invalidates every leaf signed by the old one.
    rm -f server.crt server-rsa.crt other.crt client.crt ca.srl
    new_key ca.key ec
    openssl req -new -x509 -key ca.key -sha256 -days "$DAYS_CA" \
        -subj "/O=Muon Development/CN=Muon Development CA" \
        -addext "basicConstraints = critical, CA:TRUE, pathlen:0" \
        -addext "keyUsage = critical, keyCertSign, cRLSign" \
        -addext "subjectKeyIdentifier = hash" \
        -out ca.crt
    echo "made ca.crt"
else
    echo "keep ca.crt"
fi

LOCAL_SAN="DNS:localhost, IP:127.0.0.1, IP:::1"
leaf server ec "/O=Muon Development/CN=localhost" "$LOCAL_SAN" serverAuth
leaf server-rsa rsa "/O=Muon Development/CN=localhost" "$LOCAL_SAN" serverAuth
leaf other ec "/O=Muon Development/CN=other.test" "DNS:other.test" serverAuth
leaf client ec "/O=Muon Development/CN=muon-client" "" clientAuth
rm -f ca.srl

for name in server server-rsa other client; do
    openssl verify -CAfile ca.crt "$name.crt" >/dev/null
done
echo "all certificates verify against ca.crt"
