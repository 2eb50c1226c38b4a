#!/usr/bin/env bash
# Generates Muon's development certificates into the directory this script lives in.
#
#   ca.crt / ca.key                 development CA (EC P-256, ~100 years)
#   server.crt / server.key         EC P-256, SAN DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth
#   server-rsa.crt / server-rsa.key RSA-2048, same names, serverAuth (for benchmarks)
#   other.crt / other.key           EC P-256, SAN DNS:other.test, serverAuth (SNI tests)
#   client.crt / client.key         EC P-256, CN=muon-client, clientAuth (mTLS tests)
#
# A three-level chain, root -> intermediate -> leaf (chain files hold leaf + intermediate):
#   root-ca.crt / root-ca.key       development root CA (EC P-256, pathlen 1)
#   intermediate-ca.crt / .key      intermediate CA signed by the root (pathlen 0)
#   chain.crt / chain.key           EC P-256, localhost names (as server.crt), + intermediate
#   wildcard.crt / wildcard.key     EC P-256, SAN DNS:*.example.com, + intermediate (SNI)
#   wildcard-rsa.crt / .key         RSA-2048, SAN DNS:*.example.com, + intermediate (SNI)
#   exact.crt / exact.key           EC P-256, SAN DNS:api.example.com, + intermediate (SNI)
#
# Idempotent: files that already exist are kept; run with --force to regenerate all.
# Keys are unencrypted PKCS#8 PEM. FOR DEVELOPMENT AND TESTS ONLY.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ "${1:-}" == "--force" ]]; then
    rm -f ca.crt ca.key ca.srl server.crt server.key server-rsa.crt server-rsa.key \
        other.crt other.key client.crt client.key \
        root-ca.crt root-ca.key root-ca.srl intermediate-ca.crt intermediate-ca.key \
        intermediate-ca.srl chain.crt chain.key wildcard.crt wildcard.key \
        wildcard-rsa.crt wildcard-rsa.key exact.crt exact.key
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

# leaf NAME KEYTYPE SUBJECT SAN EKU [ISSUER] : NAME.key and NAME.crt signed by ISSUER
# (default: ca). Signed by an intermediate, NAME.crt is the chain: leaf, then ISSUER.crt.
leaf() {
    local name="$1" type="$2" subj="$3" san="$4" eku="$5" issuer="${6:-ca}"
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
    openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
        -CAcreateserial -days "$DAYS_LEAF" -sha256 -extfile "$tmp/$name.ext" \
        -out "$name.crt" 2>/dev/null
    [[ "$issuer" == ca ]] || cat "$issuer.crt" >> "$name.crt"
    echo "made $name.crt"
}

# ca_cert NAME SUBJECT PATHLEN [ISSUER] : a CA certificate, self-signed without ISSUER.
ca_cert() {
    local name="$1" subj="$2" pathlen="$3" issuer="${4:-}"
    new_key "$name.key" ec
    local ext="basicConstraints = critical, CA:TRUE, pathlen:$pathlen
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash"
    if [[ -z "$issuer" ]]; then
        openssl req -new -x509 -key "$name.key" -sha256 -days "$DAYS_CA" -subj "$subj" \
            -addext "basicConstraints = critical, CA:TRUE, pathlen:$pathlen" \
            -addext "keyUsage = critical, keyCertSign, cRLSign" \
            -addext "subjectKeyIdentifier = hash" -out "$name.crt"
    else
        openssl req -new -key "$name.key" -subj "$subj" -out "$tmp/$name.csr"
        printf '%s\nauthorityKeyIdentifier = keyid\n' "$ext" > "$tmp/$name.ext"
        openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
            -CAcreateserial -days "$DAYS_CA" -sha256 -extfile "$tmp/$name.ext" \
            -out "$name.crt" 2>/dev/null
    fi
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

if [[ ! -f root-ca.crt || ! -f root-ca.key ]]; then
    rm -f intermediate-ca.crt chain.crt wildcard.crt wildcard-rsa.crt exact.crt
    ca_cert root-ca "/O=Muon Development/CN=Muon Development Root CA" 1
else
    echo "keep root-ca.crt"
fi
if [[ ! -f intermediate-ca.crt || ! -f intermediate-ca.key ]]; then
    rm -f chain.crt wildcard.crt wildcard-rsa.crt exact.crt
    ca_cert intermediate-ca "/O=Muon Development/CN=Muon Development Intermediate CA" 0 root-ca
else
    echo "keep intermediate-ca.crt"
fi
leaf chain ec "/O=Muon Development/CN=localhost" "$LOCAL_SAN" serverAuth intermediate-ca
leaf wildcard ec "/O=Muon Development/CN=*.example.com" "DNS:*.example.com" serverAuth intermediate-ca
leaf wildcard-rsa rsa "/O=Muon Development/CN=*.example.com" "DNS:*.example.com" serverAuth intermediate-ca
leaf exact ec "/O=Muon Development/CN=api.example.com" "DNS:api.example.com" serverAuth intermediate-ca
rm -f ca.srl root-ca.srl intermediate-ca.srl

for name in server server-rsa other client; do
    openssl verify -CAfile ca.crt "$name.crt" >/dev/null
done
echo "server, server-rsa, other and client verify against ca.crt"
for name in chain wildcard wildcard-rsa exact; do
    # Only the root is trusted: the intermediate must come from the chain file itself.
    openssl verify -CAfile root-ca.crt -untrusted "$name.crt" "$name.crt" >/dev/null
done
echo "chain, wildcard, wildcard-rsa and exact verify against root-ca.crt through their intermediate"
