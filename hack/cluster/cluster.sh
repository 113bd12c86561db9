#!/bin/bash
# Local single-node Kubernetes for kubectl-fastdev's tests and demo: etcd, kube-apiserver,
# controller-manager, scheduler, kubelet and kube-proxy built from the k8s.io/kubernetes Go module;
# containerd, runc and CNI plugins from Debian packages; no Docker engine, no registry.
#
#   cluster.sh deps        install the Debian packages (apt-get update first)
#   cluster.sh build       build the Kubernetes binaries into the cache (skipped when cached)
#   cluster.sh up          deps + build + PKI/config + network guard + start everything; reuses a running cluster
#   cluster.sh import DIR  import every docker-archive tarball in DIR into the cluster's containerd
#   cluster.sh down        stop what this harness started (by PID) and undo every host change
#   cluster.sh node2-down  remove only the second node (NODES=2 cluster.sh up adds it to a running cluster)
#   cluster.sh status      print whether the cluster is up (exit 0) or not (exit 1)
#   cluster.sh version     print the running cluster's Kubernetes version (exit 1 when none runs)
#   cluster.sh kubeconfig  print the admin kubeconfig path
#   cluster.sh env         print the harness facts as shell variables (for tests)
#
# K8S_VERSION (default below): the release built and run; binaries are cached per version, the cluster
# state is one, so `up` refuses while a cluster of another version runs (`make test-compat` uses this).
# NODES=2 (up): a second node on this machine, in a network namespace of its own (hack/cluster/node2.sh).
#
# Runs as root: it mounts, writes cgroups, iptables rules and sysctls. Every step is safe to rerun, and
# `up` first cleans up after an earlier run that was killed halfway.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.33.13}
STAGING_VERSION=v0.${K8S_VERSION#v1.}
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
CACHE=${FASTDEV_CACHE:-$HOME/.cache/kubectl-fastdev}
BIN=$CACHE/k8s-$K8S_VERSION/bin          # keyed by version: a second machine-local `up` never rebuilds
S=$CACHE/cluster                          # all cluster state; fixed host paths are listed in down()
PKI=$S/pki CONF=$S/conf RUN=$S/run LOGS=$S/logs
SOCK=$S/containerd/containerd.sock
POD_CIDR=10.244.0.0/24                    # this node's; a second node (node2.sh) has 10.244.1.0/24
CLUSTER_CIDR=10.244.0.0/16
SVC_CIDR=10.96.0.0/12
GUARD_BRIDGE=fdsvc0
GUARD_CHAIN=FASTDEV-LOCAL-ONLY
NODE=$(hostname)
UPLINK=$(ip -4 route show default | awk '{print $5; exit}')
NODE_IP=$(ip -4 -o addr show dev "$UPLINK" | awk '{print $4; exit}' | cut -d/ -f1)
export KUBECONFIG=$PKI/admin.kubeconfig
KUBECTL="$BIN/kubectl --kubeconfig=$KUBECONFIG"
T0=$(date +%s.%N)
say() { printf '[cluster %6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*" >&2; }

NODES=${NODES:-1}                        # 2: also a second node in a network namespace (hack/cluster/node2.sh)
# shellcheck source=node2.sh
. "$(dirname "$0")/node2.sh"

need_root() { [ "$(id -u)" = 0 ] || { echo "cluster.sh must run as root (it changes mounts, iptables and sysctls)" >&2; exit 1; }; }

deps() {
  local missing=""
  for c in containerd runc etcd iptables conntrack bc openssl gcc tmux chromium; do command -v $c >/dev/null || missing=1; done
  [ -d /usr/lib/cni ] && [ -x /bin/busybox ] || missing=1   # busybox-static: the web-static sample image
  # web-python: Debian's python3 and pip wheel; web-node: node with its bundled npm (hack/mkimage/node.go)
  [ -x /usr/bin/python3 ] && [ -d /usr/share/python-wheels ] && command -v node >/dev/null || missing=1
  [ -z "$missing" ] && return 0
  say "installing Debian packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc containernetworking-plugins \
    etcd-server iptables conntrack bc openssl gcc libc6-dev busybox-static tmux python3 python3-pip-whl \
    chromium >/dev/null   # chromium: the web view's e2e test (test/e2e/web_test.go)
  command -v node >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
}

build() {
  [ -x $BIN/kubelet ] && [ -f $BIN/.complete ] && return 0
  say "building Kubernetes $K8S_VERSION (first run only, a few minutes)"
  local src=$CACHE/k8s-$K8S_VERSION/src; mkdir -p $src $BIN; cd $src
  export GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOTOOLCHAIN=local
  rm -f go.mod go.sum; go mod init fastdevk8s >/dev/null 2>&1
  go mod download k8s.io/kubernetes@$K8S_VERSION
  local mod; mod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  go mod edit -go="$(awk '/^go /{print $2}' "$mod")"
  go mod edit -godebug "$(awk '/^godebug default=/{print $2}' "$mod")"
  # k8s.io/kubernetes points its staging modules at ./staging; pin each to its published tag instead
  for m in $(sed -n '/^replace (/,/^)/p' "$mod" | awk '/=>/{print $1}' | grep -v -E 'sample-|code-generator'); do
    go mod edit -replace "$m=$m@$STAGING_VERSION"
  done
  go mod edit -require k8s.io/kubernetes@$K8S_VERSION
  local cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl" ld=""
  go get $(for c in $cmds; do echo k8s.io/kubernetes/cmd/$c@$K8S_VERSION; done) >/dev/null 2>&1
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
  done
  go build -p 2 -trimpath -ldflags "-s -w $ld" -o $BIN/ $(for c in $cmds; do echo k8s.io/kubernetes/cmd/$c; done)
  # the sandbox image's pause binary, from the same Kubernetes source
  gcc -Os -static -DVERSION=3.10 -o $BIN/pause "$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
  strip $BIN/pause
  touch $BIN/.complete
  say "built $(ls $BIN | tr '\n' ' ')"
}

# sign NAME CN O [SAN], in $PKI: with a SAN a server+client certificate, else a client certificate
sign() {
  local n=$1 cn=$2 o=$3 san=${4:-}
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "/CN=$cn${o:+/O=$o}" 2>/dev/null
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi; } > $n.ext
  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 3650 -extfile $n.ext 2>/dev/null
  rm -f $n.csr $n.ext
}

certs() {
  # regenerate when the node's name or address changed (its certificates name both)
  [ -f $PKI/ca.crt ] && [ "$(cat $PKI/node 2>/dev/null)" = "$NODE $NODE_IP" ] && return 0
  rm -rf $PKI; mkdir -p $PKI; cd $PKI
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=fastdev-local-ca" 2>/dev/null
  sign apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE,IP:127.0.0.1,IP:10.96.0.1,IP:$NODE_IP"
  sign admin admin system:masters
  sign apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  sign kubelet system:node:$NODE system:nodes
  sign controller-manager system:kube-controller-manager ""
  sign scheduler system:kube-scheduler ""
  sign kube-proxy system:kube-proxy ""
  sign kubelet-serving $NODE "" "DNS:$NODE,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
  openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  for u in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig_for $u > $u.kubeconfig; done
  echo "$NODE $NODE_IP" > node
}

# kubeconfig_for USER: a kubeconfig using $PKI/USER.{crt,key} (also used by tests for a non-admin user)
kubeconfig_for() {
  cat <<KC
apiVersion: v1
kind: Config
clusters:
- name: fastdev-local
  cluster: {certificate-authority: $PKI/ca.crt, server: "https://127.0.0.1:6443"}
users:
- name: $1
  user: {client-certificate: $PKI/$1.crt, client-key: $PKI/$1.key}
contexts:
- name: fastdev-local
  context: {cluster: fastdev-local, user: $1}
current-context: fastdev-local
KC
}

# configs writes one node's containerd, CNI, kubelet and kube-proxy configuration from $S, $CONF, $SOCK,
# $POD_CIDR and $NODE (node2.sh runs it in a subshell with its own), with $SERVING and $PROXY_KC naming
# the node's certificates.
configs() {
  mkdir -p $CONF $S/containerd $S/cni/net.d
  echo "nameserver 127.0.0.1" > $CONF/resolv.conf   # pods never use the host's (off-machine) resolver
  cat > $S/containerd/config.toml <<TOML
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
[grpc]
  address = "$SOCK"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "fastdev.local/pause:3.10"
    # this VM lacks CAP_SYS_RESOURCE: runc cannot set the negative oom_score_adj CRI asks for the sandbox
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "/usr/sbin/runc"
          Root = "$S/containerd/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$S/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "$S/containerd/opt"
TOML
  cat > $S/cni/net.d/10-bridge.conflist <<JSON
{"cniVersion": "1.0.0", "name": "fastdev-pod-network", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$S/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
  cat > $CONF/kubelet.yaml <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/${SERVING:-kubelet-serving}.crt
tlsPrivateKeyFile: $PKI/${SERVING:-kubelet-serving}.key
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
resolvConf: $CONF/resolv.conf
podLogsDir: $S/pod-logs
volumePluginDir: $S/kubelet-plugins/volume/exec
clusterDomain: cluster.local
# imported images exist nowhere else: never garbage-collect them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
YAML
  cat > $CONF/kube-proxy.yaml <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/${PROXY_KC:-kube-proxy}.kubeconfig}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE
conntrack: {maxPerCore: 0}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
YAML
}

# guard keeps every packet of the cluster on this machine. Without kube-proxy rules a ClusterIP packet
# would follow the default route off the machine, and pod traffic would be forwarded out of the uplink:
# route the service range to a port-less bridge, and reject forwarded pod traffic leaving via the uplink.
# The mangle table's FORWARD chain runs before the filter table's, where kube-proxy later prepends its
# own ACCEPT rules, so the drop there cannot be bypassed; the filter REJECT is a second layer.
# Installed before any component starts; verified by test/e2e (routes and rules, never by sending traffic).
guard() {
  ip link show $GUARD_BRIDGE >/dev/null 2>&1 || { ip link add $GUARD_BRIDGE type bridge; ip link set $GUARD_BRIDGE up; }
  ip route show $SVC_CIDR | grep -q "dev $GUARD_BRIDGE" || ip route replace $SVC_CIDR dev $GUARD_BRIDGE
  local t verdict
  for t in mangle filter; do
    verdict=REJECT; [ $t = mangle ] && verdict=DROP
    iptables -t $t -N $GUARD_CHAIN 2>/dev/null || true
    iptables -t $t -C $GUARD_CHAIN -o "$UPLINK" -j $verdict 2>/dev/null || iptables -t $t -A $GUARD_CHAIN -o "$UPLINK" -j $verdict
    iptables -t $t -C FORWARD -s 10.244.0.0/16 -j $GUARD_CHAIN 2>/dev/null || iptables -t $t -I FORWARD 1 -s 10.244.0.0/16 -j $GUARD_CHAIN
  done
}

start() { local name=$1; shift; "$@" > $LOGS/$name.log 2>&1 & echo $! > $RUN/$name.pid; }
alive() { [ -f $RUN/$1.pid ] && kill -0 "$(cat $RUN/$1.pid)" 2>/dev/null; }
wait_for() { # what timeout_s cmd...
  local what=$1 t=$2; shift 2; local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt $end ] || { say "timed out waiting for $what; logs in $LOGS"; tail -n 20 $LOGS/*.log >&2 || true; return 1; }
    sleep 0.1
  done
}

status() {
  for c in etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do alive $c || return 1; done
  [ "$($KUBECTL get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] || return 1
  [ ! -f $RUN/nodes ] || node2_status
}

# running_version prints the Kubernetes version of the running cluster ("" when none runs): the one
# `up` recorded, else (a cluster started before the record) what its API server says.
running_version() {
  alive kube-apiserver || return 0
  if [ -f $RUN/k8s-version ]; then cat $RUN/k8s-version; return 0; fi
  curl -sf --max-time 5 --cacert $PKI/ca.crt --cert $PKI/admin.crt --key $PKI/admin.key https://127.0.0.1:6443/version |
    sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' || true   # not answering yet: "" (an earlier run's leftovers)
}

up() {
  need_root
  # one cluster state for every version: a cluster of another version is never reused, nor torn down
  # here as "an earlier run" (its users may be running tests on it)
  local v; v=$(running_version)
  if [ -n "$v" ] && [ "$v" != "$K8S_VERSION" ]; then
    say "a cluster of Kubernetes $v is running, not $K8S_VERSION: stop it first (K8S_VERSION=$v $0 down, or make cluster-down)"; exit 1
  fi
  if status; then
    if [ "$NODES" = 2 ] && [ ! -f $RUN/nodes ]; then node2_up; fi
    say "cluster already running"; return 0
  fi
  # anything half-alive from an earlier run that was killed: stop it and undo its host changes first
  [ -d $RUN ] && { say "cleaning up an earlier run"; down >/dev/null 2>&1 || true; }
  deps; build; certs; configs
  mkdir -p $LOGS $RUN $S/kubelet $S/pod-logs
  [ -f $S/sysctl-before.txt ] || sysctl kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward \
    net.ipv4.conf.all.route_localnet > $S/sysctl-before.txt
  guard
  start etcd etcd --name node --data-dir $S/etcd-data --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster node=http://127.0.0.1:2380 \
    --listen-metrics-urls http://127.0.0.1:2381
  start containerd containerd --config $S/containerd/config.toml
  wait_for etcd 60 curl -sf http://127.0.0.1:2379/health
  start kube-apiserver $BIN/kube-apiserver \
    --etcd-servers=http://127.0.0.1:2379 --secure-port=6443 --advertise-address=$NODE_IP \
    --tls-cert-file=$PKI/apiserver.crt --tls-private-key-file=$PKI/apiserver.key --client-ca-file=$PKI/ca.crt \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file=$PKI/sa.pub --service-account-signing-key-file=$PKI/sa.key \
    --service-cluster-ip-range=$SVC_CIDR --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --kubelet-client-certificate=$PKI/apiserver-kubelet-client.crt --kubelet-client-key=$PKI/apiserver-kubelet-client.key \
    --kubelet-preferred-address-types=InternalIP,Hostname --allow-privileged=true
  wait_for containerd 60 ctr -a $SOCK version
  [ -d $CACHE/images ] && import $CACHE/images
  wait_for kube-apiserver 120 $KUBECTL get --raw /readyz
  # the controller-manager exits when started before the RBAC bootstrap is done, hence after /readyz
  start kube-controller-manager $BIN/kube-controller-manager --kubeconfig=$PKI/controller-manager.kubeconfig \
    --authentication-kubeconfig=$PKI/controller-manager.kubeconfig --authorization-kubeconfig=$PKI/controller-manager.kubeconfig \
    --bind-address=127.0.0.1 --leader-elect=false --service-account-private-key-file=$PKI/sa.key --root-ca-file=$PKI/ca.crt \
    --cluster-signing-cert-file=$PKI/ca.crt --cluster-signing-key-file=$PKI/ca.key \
    --use-service-account-credentials=true --service-cluster-ip-range=$SVC_CIDR
  start kube-scheduler $BIN/kube-scheduler --kubeconfig=$PKI/scheduler.kubeconfig \
    --authentication-kubeconfig=$PKI/scheduler.kubeconfig --authorization-kubeconfig=$PKI/scheduler.kubeconfig \
    --bind-address=127.0.0.1 --leader-elect=false
  start kubelet $BIN/kubelet --config=$CONF/kubelet.yaml --kubeconfig=$PKI/kubelet.kubeconfig \
    --root-dir=$S/kubelet --hostname-override=$NODE --node-ip=$NODE_IP
  start kube-proxy $BIN/kube-proxy --config=$CONF/kube-proxy.yaml
  wait_for "node Ready" 120 status
  wait_for "default ServiceAccount" 60 $KUBECTL get sa default
  if [ "$NODES" = 2 ]; then node2_up; fi
  echo "$K8S_VERSION" > $RUN/k8s-version
  say "cluster up; export KUBECONFIG=$KUBECONFIG"
}

# import DIR: docker-archive tarballs into containerd's k8s.io namespace (what the kubelet sees)
# A stamp per tarball (in $RUN, which `down` removes with containerd's store) skips re-imports.
import() {
  local n=0 stamp sock node
  mkdir -p $RUN
  for node in 1 2; do
    sock=$SOCK; [ $node = 2 ] && { alive containerd-2 || continue; sock=$SOCK2; }
    for f in "$1"/*.tar; do
      [ -e "$f" ] || continue
      stamp=$RUN/imported-$node-$(basename "$f")
      [ "$stamp" -nt "$f" ] && continue
      ctr -a $sock -n k8s.io images import "$f" >/dev/null; touch "$stamp"; n=$((n+1))
    done
  done
  say "imported $n new images from $1"
}

stop() {
  local f=$RUN/$1.pid; [ -f $f ] || return 0; local p; p=$(cat $f)
  if kill -0 "$p" 2>/dev/null; then
    kill "$p"; for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null || true
  fi
  rm -f $f
}

down() {
  need_root; set +e
  local K="$KUBECTL --request-timeout=5s" CTR="ctr -a $SOCK -n k8s.io" v; v=$(running_version)
  # the running cluster's own kubectl when K8S_VERSION names another version (maybe not built)
  [ -n "$v" ] && [ -x $CACHE/k8s-$v/bin/kubectl ] && K="$CACHE/k8s-$v/bin/kubectl --kubeconfig=$KUBECONFIG --request-timeout=5s"
  if alive kubelet && alive kube-apiserver; then   # let the kubelet tear pods down (CNI DEL, unmounts)
    stop kube-controller-manager; stop kube-scheduler
    $K delete pods --all -A --grace-period=0 --force >/dev/null 2>&1
    for _ in $(seq 60); do [ -z "$($K get pods -A -o name 2>/dev/null)" ] && break; sleep 0.5; done
    for _ in $(seq 40); do [ -z "$($CTR tasks ls -q 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  node2_down
  stop kube-proxy; stop kubelet; stop kube-controller-manager; stop kube-scheduler
  if [ -S $SOCK ] && ! alive containerd; then start containerd containerd --config $S/containerd/config.toml; sleep 1; fi
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks kill -s SIGKILL "$t"; done; sleep 0.5
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks rm -f "$t" >/dev/null; done
  stop containerd
  # shims of this harness's containerd only (matched on its socket), so another containerd is never touched
  for p in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io -id [0-9a-f]+ -address $SOCK"); do kill -9 "$p"; done
  stop kube-apiserver; stop etcd
  for m in $(awk '{print $2}' /proc/mounts | grep -E "^$S/|^/run/netns/cni-" | sort -r); do umount -l "$m"; done
  # `ip netns add` bind-mounts /run/netns over itself; pod netns mounted before that sit underneath the
  # bind mount, where umount cannot reach them: peel those layers off (lazily) and unmount what appears.
  if grep -q " /run/netns/cni-" /proc/mounts; then
    while awk '$5 == "/run/netns" {f=1} END {exit !f}' /proc/self/mountinfo; do umount -l /run/netns || break; done
    for m in $(awk '{print $2}' /proc/mounts | grep -E "^/run/netns/cni-"); do umount -l "$m"; done
  fi
  rm -f /run/netns/cni-*
  for h in /sys/fs/cgroup/*/; do [ -d ${h}kubepods ] && find ${h}kubepods -depth -type d -exec rmdir {} \; 2>/dev/null; done
  ip link del cni0 2>/dev/null; ip link del $GUARD_BRIDGE 2>/dev/null
  for ipt in iptables ip6tables; do $ipt-save | grep -v -E 'KUBE|CNI-|FASTDEV-LOCAL-ONLY|cni0' | $ipt-restore; done
  [ -f $S/sysctl-before.txt ] && sed 's/ //g' $S/sysctl-before.txt | xargs -n1 sysctl -qw && rm -f $S/sysctl-before.txt
  rm -rf $S/etcd-data $S/containerd/root $S/containerd/state $S/containerd/runc $S/kubelet $S/pod-logs $S/cni/ipam $RUN \
    /var/lib/cni/results/fastdev-pod-network-* /var/lib/cni/results/cni-loopback-* /var/lib/cni/networks/fastdev-pod-network \
    /run/containerd/s /run/containerd/fifo /var/lib/kubelet/device-plugins
  say "cluster down"
  set -e
}

envvars() {
  cat <<ENV
FASTDEV_KUBECONFIG=$KUBECONFIG
FASTDEV_PKI=$PKI
FASTDEV_CLUSTER_STATE=$S
FASTDEV_KUBECTL=$BIN/kubectl
FASTDEV_SVC_CIDR=$SVC_CIDR
FASTDEV_POD_CIDR=$POD_CIDR
FASTDEV_GUARD_BRIDGE=$GUARD_BRIDGE
FASTDEV_GUARD_CHAIN=$GUARD_CHAIN
FASTDEV_UPLINK=$UPLINK
FASTDEV_CONTAINERD_SOCK=$SOCK
FASTDEV_NODE2=$([ -f $RUN/nodes ] && echo $NODE2)
FASTDEV_NODE2_TAINTED=$NODE2_TAINT
FASTDEV_NODE2_CONTAINERD_SOCK=$SOCK2
FASTDEV_NODE2_NETNS=$NETNS2
FASTDEV_NODE2_LINK=$VETH2
FASTDEV_NODE2_CGROUP=$CGROOT2
ENV
}

case "${1:-}" in
  deps) need_root; deps;;
  build) build;;
  up) up;;
  down) down;;
  node2-down) need_root; set +e; node2_down; set -e; say "node 2 removed";;
  status) status && echo "cluster running (KUBECONFIG=$KUBECONFIG)" || { echo "cluster not running"; exit 1; };;
  version) v=$(running_version); [ -n "$v" ] && echo "$v" || { echo "no cluster running" >&2; exit 1; };;
  import) need_root; import "${2:?usage: cluster.sh import DIR}";;
  kubeconfig) echo "$KUBECONFIG";;
  kubeconfig-for) kubeconfig_for "${2:?usage: cluster.sh kubeconfig-for USER}";;
  env) envvars;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2;;
esac
