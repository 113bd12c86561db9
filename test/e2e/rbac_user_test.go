package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// developerRole is the Role in manifests/rbac.yaml; the file's RoleBinding must bind it.
func (e *env) developerRole() *rbacv1.Role {
	t := e.t
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.repoRoot, "manifests/rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.Role
	var binding *rbacv1.RoleBinding
	for _, d := range e.documents(raw) {
		doc := d.raw
		var err error
		switch d.kind {
		case "Role":
			role = &rbacv1.Role{}
			err = yaml.UnmarshalStrict(doc, role)
		case "RoleBinding":
			binding = &rbacv1.RoleBinding{}
			err = yaml.UnmarshalStrict(doc, binding)
		default:
			err = fmt.Errorf("unexpected kind %q", d.kind)
		}
		if err != nil {
			t.Fatalf("manifests/rbac.yaml: %v", err)
		}
	}
	if role == nil || binding == nil || binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != role.Name {
		t.Fatalf("manifests/rbac.yaml: want a Role and a RoleBinding of it, got %v and %v", role, binding)
	}
	return role
}

// without returns a copy of role with verb taken away from resource (and the rule dropped if empty).
func (e *env) without(role *rbacv1.Role, group, resource, verb string) *rbacv1.Role {
	t := e.t
	t.Helper()
	out := role.DeepCopy()
	out.Rules = nil
	found := false
	for _, r := range role.Rules {
		r = *r.DeepCopy()
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			found = true
			if len(r.Resources) > 1 {
				// keep the verb for the rule's other resources
				other := *r.DeepCopy()
				other.Resources = slices.DeleteFunc(other.Resources, func(s string) bool { return s == resource })
				out.Rules = append(out.Rules, other)
				r.Resources = []string{resource}
			}
			r.Verbs = slices.DeleteFunc(r.Verbs, func(s string) bool { return s == verb })
		}
		if len(r.Verbs) > 0 {
			out.Rules = append(out.Rules, r)
		}
	}
	if !found {
		t.Fatalf("manifests/rbac.yaml grants no %s on %s/%s", verb, group, resource)
	}
	return out
}

// bindRole creates role (renamed for the user) in ns and binds it to user alone.
func (e *env) bindRole(ns, user string, role *rbacv1.Role) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "fastdev-" + user, Namespace: ns}, Rules: role.Rules}
	if _, err := e.cs.RbacV1().Roles(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: ns},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name}}
	if _, err := e.cs.RbacV1().RoleBindings(ns).Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// newUser makes a client certificate for a new non-admin user (no groups but system:authenticated),
// signed by the local cluster's CA, and a kubeconfig for it in a temp dir. It returns the user name
// and the kubeconfig's path.
func (e *env) newUser() (string, string) {
	t := e.t
	t.Helper()
	pki := os.Getenv("FASTDEV_PKI")
	if pki == "" {
		pki = e.clusterEnv()["FASTDEV_PKI"]
	}
	caCert, caKey := e.loadCA(pki)
	user := fmt.Sprintf("fastdev-dev-%d", time.Now().UnixNano()%1_000_000_000)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: user},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: e.restConfig.Host, CertificateAuthority: filepath.Join(pki, "ca.crt")}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		ClientKeyData:         pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user}
	cfg.CurrentContext = "local"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return user, path
}

func (e *env) loadCA(pki string) (*x509.Certificate, any) {
	t := e.t
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(pki, name))
		if err != nil {
			t.Fatalf("the local cluster's CA: %v (run as the user that ran `make cluster-up`)", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", name)
		}
		return blk.Bytes
	}
	cert, err := x509.ParseCertificate(read("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	der := read("ca.key")
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			t.Fatalf("ca.key: %v", err)
		}
	}
	return cert, key
}

// canExactly asks the API server, as the user, about what the Role must and must not allow in ns.
func (e *env) canExactly(kc, ns string) {
	t := e.t
	t.Helper()
	config, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	user := kubernetes.NewForConfigOrDie(config)
	type access struct{ group, resource, sub, verb string }
	allowed := []access{
		{"apps", "deployments", "", "get"}, {"apps", "deployments", "", "list"}, {"apps", "deployments", "", "watch"}, {"apps", "deployments", "", "patch"},
		{"apps", "statefulsets", "", "get"}, {"apps", "statefulsets", "", "list"}, {"apps", "statefulsets", "", "watch"}, {"apps", "statefulsets", "", "patch"},
		{"apps", "daemonsets", "", "get"}, {"apps", "daemonsets", "", "list"}, {"apps", "daemonsets", "", "watch"}, {"apps", "daemonsets", "", "patch"},
		{"", "pods", "", "list"}, {"", "pods", "", "watch"}, {"", "pods", "portforward", "create"},
		{"", "pods", "log", "get"}, {"", "events", "", "list"}, {"", "events", "", "watch"},
		{"coordination.k8s.io", "leases", "", "get"}, {"coordination.k8s.io", "leases", "", "create"},
		{"coordination.k8s.io", "leases", "", "update"}, {"coordination.k8s.io", "leases", "", "delete"},
	}
	denied := []access{
		{"", "secrets", "", "get"}, {"", "secrets", "", "list"}, {"", "configmaps", "", "get"}, {"", "pods", "exec", "create"},
		{"", "pods", "attach", "create"}, {"", "pods", "", "create"}, {"", "pods", "", "delete"}, {"", "pods", "", "patch"},
		{"apps", "deployments", "", "create"}, {"apps", "deployments", "", "delete"}, {"apps", "deployments", "", "update"},
		{"apps", "statefulsets", "", "create"}, {"apps", "statefulsets", "", "delete"}, {"apps", "daemonsets", "", "create"}, {"apps", "daemonsets", "", "update"},
		{"apps", "deployments", "scale", "update"}, {"apps", "replicasets", "", "list"}, {"", "serviceaccounts", "token", "create"},
		{"rbac.authorization.k8s.io", "roles", "", "create"}, {"rbac.authorization.k8s.io", "rolebindings", "", "create"},
		{"", "services", "proxy", "get"}, {"", "pods", "ephemeralcontainers", "patch"},
	}
	ask := func(a access, namespace string) bool {
		r, err := user.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
				Namespace: namespace, Group: a.group, Resource: a.resource, Subresource: a.sub, Verb: a.verb}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("asking the API server what the developer may do: %v", err)
		}
		return r.Status.Allowed
	}
	for _, a := range allowed {
		if !ask(a, ns) {
			t.Errorf("the Role does not allow %s %s/%s %s", a.verb, a.group, a.resource, a.sub)
		}
		if ask(a, "default") {
			t.Errorf("the developer may %s %s/%s %s outside their namespace", a.verb, a.group, a.resource, a.sub)
		}
	}
	for _, a := range denied {
		if ask(a, ns) {
			t.Errorf("the Role allows %s %s/%s %s, which kubectl-fastdev never needs", a.verb, a.group, a.resource, a.sub)
		}
	}
}
