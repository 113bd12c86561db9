# A second node on this machine, sourced by cluster.sh when NODES=2 (never run on its own).
#
# Node 2 is its own containerd, kubelet and kube-proxy, each started inside a network namespace of its own
# (nsenter --net: the mount namespace stays the host's, so the kubelet's volume mounts are the ones its
# containerd and runc see). A veth pair links the namespace to the host:
#
#   host  fdnode2 10.245.0.1/30  <->  eth0 10.245.0.2/30  namespace fastdev-node2 (the node's InternalIP)
#   pods  10.244.0.0/24 on cni0 (node 1)                  10.244.1.0/24 on cni0 inside the namespace (node 2)
#
# The host routes 10.244.1.0/24 to the namespace, the namespace's default route is the host, so pods on both
# nodes reach each other and node 2 reaches the API server at the host's address. The host forwards packets
# for that (net.ipv4.ip_forward=1, restored by `down` like the other sysctls), and the network guard drops
# whatever either node forwards towards the uplink. Node 2 keeps its pods' cgroups under /fastdev-node2
# (cgroupRoot), its state under $S/node2 and its containerd socket apart, so `down` can undo each piece.
# With NODE2_TAINT=1 (the default) it registers with the taint fastdev.dev/node2=true:NoSchedule: only pods
# that tolerate it (the multi-node tests) land there, and the rest of the suite runs as on one node.

NODE2=fastdev-node2 NETNS2=fastdev-node2 VETH2=fdnode2
HOST_IP2=10.245.0.1 NODE2_IP=10.245.0.2 NODE2_NET=10.245.0.0/30 POD_CIDR2=10.244.1.0/24
S2=$S/node2
SOCK2=$S2/containerd/containerd.sock
CGROOT2=fastdev-node2
NODE2_TAINT=${NODE2_TAINT:-1}
IN2="nsenter --net=/run/netns/$NETNS2"

node2_certs() {
  [ -f $PKI/kubelet-2.kubeconfig ] && [ "$(cat $PKI/node2 2>/dev/null)" = "$NODE2 $NODE2_IP $NODE_IP" ] && return 0
  (cd $PKI
    sign kubelet-2 system:node:$NODE2 system:nodes
    sign kubelet-serving-2 $NODE2 "" "DNS:$NODE2,IP:$NODE2_IP"
    # from inside the namespace 127.0.0.1 is the namespace's own: node 2 talks to the host's address
    kubeconfig_for kubelet-2 | sed "s#https://127.0.0.1:6443#https://$NODE_IP:6443#" > kubelet-2.kubeconfig
    kubeconfig_for kube-proxy | sed "s#https://127.0.0.1:6443#https://$NODE_IP:6443#" > kube-proxy-2.kubeconfig
    echo "$NODE2 $NODE2_IP $NODE_IP" > node2)
}

node2_net() {
  ip netns list | grep -qw $NETNS2 || ip netns add $NETNS2
  if ! ip link show $VETH2 >/dev/null 2>&1; then
    ip link add $VETH2 type veth peer name eth0 netns $NETNS2
    ip addr add $HOST_IP2/30 dev $VETH2
  fi
  ip link set $VETH2 up
  $IN2 ip link set lo up
  $IN2 ip link set eth0 up
  $IN2 ip addr replace $NODE2_IP/30 dev eth0
  $IN2 ip route replace default via $HOST_IP2
  $IN2 sysctl -qw net.ipv4.ip_forward=1     # the namespace's own: its pods' packets go through it
  sysctl -qw net.ipv4.ip_forward=1
  ip route replace $POD_CIDR2 via $NODE2_IP
  # node 2's own packets (not only its pods') never leave through the uplink either
  local t
  for t in mangle filter; do
    iptables -t $t -C FORWARD -s $NODE2_NET -j $GUARD_CHAIN 2>/dev/null || iptables -t $t -I FORWARD 1 -s $NODE2_NET -j $GUARD_CHAIN
  done
}

# node2_cgroups: the kubelet refuses a cgroupRoot that does not exist in every hierarchy
node2_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d $h$CGROOT2 ] && continue
    mkdir $h$CGROOT2 2>/dev/null || continue
    if [ -f ${h}cpuset.cpus ]; then cat ${h}cpuset.cpus > $h$CGROOT2/cpuset.cpus; cat ${h}cpuset.mems > $h$CGROOT2/cpuset.mems; fi
  done
}

node2_configs() {
  (S=$S2 CONF=$S2/conf SOCK=$SOCK2 POD_CIDR=$POD_CIDR2 NODE=$NODE2 SERVING=kubelet-serving-2 PROXY_KC=kube-proxy-2 configs)
  cat >> $S2/conf/kubelet.yaml <<YAML
cgroupRoot: /$CGROOT2
YAML
  if [ "$NODE2_TAINT" = 1 ]; then
    echo 'registerWithTaints: [{key: fastdev.dev/node2, value: "true", effect: NoSchedule}]' >> $S2/conf/kubelet.yaml
  fi
}

node2_status() {
  local c
  for c in containerd-2 kubelet-2 kube-proxy-2; do alive $c || return 1; done
  [ "$($KUBECTL get node "$NODE2" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

node2_up() {
  say "starting node 2 ($NODE2, $NODE2_IP, pods $POD_CIDR2)"
  node2_certs; node2_net; node2_cgroups; node2_configs
  mkdir -p $S2/kubelet $S2/pod-logs
  start containerd-2 $IN2 containerd --config $S2/containerd/config.toml
  wait_for "node 2's containerd" 60 ctr -a $SOCK2 version
  [ -d $CACHE/images ] && import $CACHE/images
  start kubelet-2 $IN2 $BIN/kubelet --config=$S2/conf/kubelet.yaml --kubeconfig=$PKI/kubelet-2.kubeconfig \
    --root-dir=$S2/kubelet --hostname-override=$NODE2 --node-ip=$NODE2_IP
  start kube-proxy-2 $IN2 $BIN/kube-proxy --config=$S2/conf/kube-proxy.yaml
  echo 2 > $RUN/nodes
  wait_for "node 2 Ready" 120 node2_status
}

# node2_down undoes node2_up; called by down() after the pods are gone, before node 1's containerd stops
node2_down() {
  local CTR2="ctr -a $SOCK2 -n k8s.io" t p h m
  if alive kubelet-2 && alive kube-apiserver; then   # its kubelet tears its pods down (CNI DEL, unmounts)
    $KUBECTL --request-timeout=5s delete pods -A --field-selector spec.nodeName=$NODE2 --grace-period=0 --force >/dev/null 2>&1
    for _ in $(seq 40); do [ -z "$($CTR2 tasks ls -q 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  stop kube-proxy-2; stop kubelet-2
  if [ -S $SOCK2 ] && ! alive containerd-2 && ip netns list | grep -qw $NETNS2; then
    start containerd-2 $IN2 containerd --config $S2/containerd/config.toml; sleep 1
  fi
  if alive containerd-2; then
    for t in $($CTR2 tasks ls -q 2>/dev/null); do $CTR2 tasks kill -s SIGKILL "$t"; done; sleep 0.5
    for t in $($CTR2 tasks ls -q 2>/dev/null); do $CTR2 tasks rm -f "$t" >/dev/null; done
  fi
  stop containerd-2
  for p in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io -id [0-9a-f]+ -address $SOCK2"); do kill -9 "$p"; done
  for m in $(awk '{print $2}' /proc/mounts | grep "^$S2/" | sort -r); do umount -l "$m"; done
  ip route del $POD_CIDR2 2>/dev/null
  for t in mangle filter; do iptables -t $t -D FORWARD -s $NODE2_NET -j $GUARD_CHAIN 2>/dev/null; done
  ip netns del $NETNS2 2>/dev/null          # takes the veth pair and the namespace's iptables with it
  ip link del $VETH2 2>/dev/null
  for h in /sys/fs/cgroup/*/; do [ -d $h$CGROOT2 ] && find $h$CGROOT2 -depth -type d -exec rmdir {} \; 2>/dev/null; done
  rm -rf $S2/kubelet $S2/pod-logs $S2/cni/ipam $S2/containerd/root $S2/containerd/state $S2/containerd/runc \
    $RUN/nodes $RUN/imported-2-*
  alive kube-apiserver && $KUBECTL --request-timeout=5s delete node $NODE2 >/dev/null 2>&1
  return 0
}
