#!/bin/bash
# kiln-seaweedfs: SeaweedFS for the compose farm: master, volume, filer and the
# S3 gateway in one `weed server` process, data in /data (the s3data volume).
# The S3 gateway listens on :8333 for the compose network; everything else on
# the container's loopback. Requests must be signed with KILN_S3_ACCESS_KEY /
# KILN_S3_SECRET_KEY. Once S3 answers, the bucket KILN_S3_BUCKET is created if
# missing and /tmp/kiln-s3-ready marks the container healthy.
set -euo pipefail

key=${KILN_S3_ACCESS_KEY:?} secret=${KILN_S3_SECRET_KEY:?} bucket=${KILN_S3_BUCKET:-kiln}
region=${KILN_S3_REGION:-us-east-1}
rm -f /tmp/kiln-s3-ready
KEY=$key SECRET=$secret python3 - >/tmp/s3.json <<'PY'
import json, os
print(json.dumps({"identities": [{"name": "kiln",
    "credentials": [{"accessKey": os.environ["KEY"], "secretKey": os.environ["SECRET"]}],
    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
PY
chmod 600 /tmp/s3.json

weed server -dir=/data -ip=127.0.0.1 -ip.bind=0.0.0.0 \
    -master.port=9333 -master.telemetry=false -master.volumeSizeLimitMB=1024 \
    -volume.port=9340 -volume.max=0 \
    -filer -filer.port=8888 \
    -s3 -s3.port=8333 -s3.port.iceberg=0 -s3.port.lance=0 -s3.config=/tmp/s3.json &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' TERM INT

signed() {
    curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --aws-sigv4 "aws:amz:$region:s3" \
        --user "$key:$secret" "$@" || true
}
for ((i = 0; i < 240; i++)); do
    [[ $(signed http://127.0.0.1:8333/) == 200 ]] && break
    kill -0 $pid 2>/dev/null || { wait $pid; exit 1; }
    sleep 0.5
done
case $(signed -I "http://127.0.0.1:8333/$bucket") in
    200) ;;
    *) code=$(signed -X PUT "http://127.0.0.1:8333/$bucket")
       [[ $code == 200 ]] || { echo "kiln-seaweedfs: error: creating bucket $bucket: HTTP $code" >&2; exit 1; } ;;
esac
echo "kiln-seaweedfs: S3 ready on :8333, bucket $bucket" >&2
touch /tmp/kiln-s3-ready
wait $pid
