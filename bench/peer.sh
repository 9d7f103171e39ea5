#!/bin/sh
# peer.sh: time poppler's `pdfsig -add-signature`, one process per corpus PDF,
# with a throw-away RSA-2048 signer in a temporary NSS database.
# Needs: pdfsig (poppler-utils), certutil + pk12util (libnss3-tools), openssl.
# Usage: bench/peer.sh [corpus-dir]
set -eu
corpus=$(cd "${1:-$(dirname "$0")/../testdata/corpus}" && pwd)
for t in pdfsig certutil pk12util openssl; do
	command -v "$t" >/dev/null || { echo "peer.sh: $t not installed" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
	-subj "/CN=Peer Bench Signer" -addext "basicConstraints=critical,CA:TRUE" >/dev/null 2>&1
openssl pkcs12 -export -inkey key.pem -in cert.pem -out signer.p12 -passout pass:test -name peer-signer
mkdir nssdb
certutil -N -d "sql:$tmp/nssdb" --empty-password
pk12util -i signer.p12 -d "sql:$tmp/nssdb" -W test >/dev/null
find "$corpus" -name '*.pdf' | sort > files
n=$(wc -l < files)
start=$(date +%s%N)
i=0
while read -r f; do
	i=$((i + 1))
	pdfsig -nssdir "sql:$tmp/nssdb" -add-signature -nick peer-signer -reason bench "$f" "out$i.pdf" >/dev/null 2>&1 ||
		echo "peer.sh: pdfsig failed on $f" >&2
	rm -f "out$i.pdf"
done < files
end=$(date +%s%N)
echo "pdfsig -add-signature: $n files, $(( (end - start) / n / 1000 )) us per file (one process per file)"
