#!/usr/bin/env bash
# Builds the Kubernetes test control plane once and caches it: kube-apiserver, kube-controller-manager and
# kube-scheduler from k8s.io/kubernetes, etcd, and kwok (fake nodes), all through the Go module proxy.
# The binaries land in $STIX_CACHE/k8s-<versions>/bin (default ~/.cache/stix); a warm machine pays nothing.
# Prints the bin directory on stdout. internal/testutil/kubetest finds it the same way (or via $STIX_K8S_BIN).
# Recipe: ../shared/TESTING-INFRA.md section 5. About 17 minutes on 2 idle cores the first time.
set -euo pipefail
K8S=v1.37.2
ETCD=v3.7.3
KWOK=v0.8.0
cache=${STIX_CACHE:-$HOME/.cache/stix}
dir=$cache/k8s-$K8S-etcd-${ETCD#v}-kwok-${KWOK#v}
bin=$dir/bin
want=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
have=1
for b in "${want[@]}"; do [ -x "$bin/$b" ] || have=; done
if [ -n "$have" ]; then echo "$bin"; exit 0; fi
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
mkdir -p "$bin"
work=$(mktemp -d "$dir/build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# The builds are long and the machines are shared: yield to everything else.
renice -n 10 $$ >/dev/null 2>&1 || true
export GOWORK=off GOTOOLCHAIN=local

if [ ! -x "$bin/etcd" ]; then
  echo "k8s-plane: building etcd $ETCD" >&2
  mkdir "$work/etcd" && cd "$work/etcd"
  go mod init stixetcd >/dev/null 2>&1
  printf 'package main\nimport ("os"; "go.etcd.io/etcd/server/v3/etcdmain")\nfunc main(){ etcdmain.Main(os.Args) }\n' > main.go
  go get go.etcd.io/etcd/server/v3@$ETCD go.etcd.io/etcd/api/v3@$ETCD go.etcd.io/etcd/client/pkg/v3@$ETCD \
    go.etcd.io/etcd/client/v3@$ETCD go.etcd.io/etcd/pkg/v3@$ETCD >&2
  go mod tidy >&2
  go build -trimpath -ldflags '-s -w' -o "$bin/etcd.tmp" . && mv "$bin/etcd.tmp" "$bin/etcd"
fi

if [ ! -x "$bin/kube-apiserver" ] || [ ! -x "$bin/kube-controller-manager" ] || [ ! -x "$bin/kube-scheduler" ]; then
  echo "k8s-plane: building kube-apiserver, kube-controller-manager, kube-scheduler $K8S" >&2
  go mod download -json k8s.io/kubernetes@$K8S >/dev/null
  cp -r "$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S" "$work/src" && chmod -R u+w "$work/src"
  cd "$work/src" && rm -f go.work go.work.sum
  staged=${K8S/v1./v0.}
  args=()
  for m in $(sed -n '/^replace (/,/^)/p' go.mod | grep '=> ./staging' | awk '{print $1}'); do
    args+=(-dropreplace="$m" -require="$m@$staged")
  done
  go mod edit "${args[@]}"
  # Not on the module proxy (403) and not needed by the three commands.
  go mod edit -droprequire=k8s.io/sample-cli-plugin -droprequire=k8s.io/sample-controller
  minor=${K8S#v1.}; minor=${minor%%.*}
  ldf="-s -w -X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitMajor=1"
  ldf="$ldf -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ldf="$ldf -X k8s.io/client-go/pkg/version.gitVersion=$K8S -X k8s.io/client-go/pkg/version.gitMajor=1"
  ldf="$ldf -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    [ -x "$bin/$c" ] && continue
    GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldf" -o "$bin/$c.tmp" ./cmd/$c && mv "$bin/$c.tmp" "$bin/$c"
  done
fi

if [ ! -x "$bin/kwok" ]; then
  echo "k8s-plane: building kwok $KWOK" >&2
  GOFLAGS=-mod=mod GOBIN="$work/gobin" go install -trimpath -ldflags '-s -w' sigs.k8s.io/kwok/cmd/kwok@$KWOK
  mv "$work/gobin/kwok" "$bin/kwok"
fi
# kwok's stage definitions the test harness joins into its configuration.
if [ ! -d "$dir/stage" ]; then
  go mod download sigs.k8s.io/kwok@$KWOK >/dev/null 2>&1 || true
  src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK/kustomize/stage"
  mkdir -p "$dir/stage.tmp"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml \
    pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    mkdir -p "$dir/stage.tmp/$(dirname "$f")" && cp "$src/$f" "$dir/stage.tmp/$f"
  done
  chmod -R u+w "$dir/stage.tmp" && mv "$dir/stage.tmp" "$dir/stage"
fi
echo "$bin"
