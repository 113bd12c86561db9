package cmd

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/forward"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// withPorts is a Deployment whose containers declare ports (the app: "web", then "sidecar").
func withPorts(name string, web ...corev1.ContainerPort) *appsv1.Deployment {
	d := deployment(name, nil)
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Ports: web},
		{Name: "sidecar", Ports: []corev1.ContainerPort{{ContainerPort: 9999}}}}
	return d
}

// upForwards is `up`'s options for the Deployments given (all with rules r), after the flags.
func upForwards(t *testing.T, r *rules.Rules, args []string, deps ...*appsv1.Deployment) (*UpOptions, error) {
	t.Helper()
	o := NewUpOptions(nil, genericiooptions.IOStreams{})
	fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
	o.forwards.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	o.rules = map[string]*rules.Rules{}
	for _, d := range deps {
		o.targets = append(o.targets, workload.Of(d))
		o.rules[d.Name] = r
	}
	return o, o.Validate()
}

// TestUpForwardSpecs: which forwards `up` opens for the flags, the rules and the declared ports.
func TestUpForwardSpecs(t *testing.T) {
	web := withPorts("web", corev1.ContainerPort{ContainerPort: 8080}, corev1.ContainerPort{ContainerPort: 5353, Protocol: corev1.ProtocolUDP})
	api := withPorts("api", corev1.ContainerPort{ContainerPort: 3000})
	withList := &rules.Rules{Forward: []rules.Forward{{Local: 18080, Remote: 8080, Line: 4}}}
	tests := []struct {
		name string
		r    *rules.Rules
		args []string
		deps []*appsv1.Deployment
		want []string // Deployment local remote auto
	}{
		{"declared TCP ports of the app container", &rules.Rules{}, nil, []*appsv1.Deployment{web}, []string{"web 8080 8080 true"}},
		{"the named container's", &rules.Rules{Container: "sidecar"}, nil, []*appsv1.Deployment{web}, []string{"web 9999 9999 true"}},
		{"every listed container's", &rules.Rules{Listed: true, Container: "sidecar", More: []rules.App{{Container: "web"}}}, nil, []*appsv1.Deployment{web},
			[]string{"web 9999 9999 true", "web 8080 8080 true"}},
		{"the rules' list", withList, nil, []*appsv1.Deployment{web}, []string{"web 18080 8080 false"}},
		{"a flag replaces the list", withList, []string{"--forward", "28080:8080"}, []*appsv1.Deployment{web}, []string{"web 28080 8080 false"}},
		{"per Deployment", &rules.Rules{}, []string{"--forward", "api=3001:3000"}, []*appsv1.Deployment{web, api}, []string{"web 8080 8080 true", "api 3001 3000 false"}},
		{"per target in kubectl's form", &rules.Rules{}, []string{"--forward", "deploy/api=3001:3000"}, []*appsv1.Deployment{web, api}, []string{"web 8080 8080 true", "api 3001 3000 false"}},
		{"none", withList, []string{"--no-forward"}, []*appsv1.Deployment{web}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := upForwards(t, tt.r, tt.args, tt.deps...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range o.forwards.specs {
				got = append(got, fmt.Sprintf("%s %d %d %v", s.Deployment, s.Local, s.Remote, s.Auto))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("specs %v, want %v", got, tt.want)
			}
		})
	}
}

// TestUpForwardErrors: bad forward flags are refused by Validate, naming the flag.
func TestUpForwardErrors(t *testing.T) {
	web, api := withPorts("web"), withPorts("api")
	tests := []struct {
		args []string
		deps []*appsv1.Deployment
		want string
	}{
		{[]string{"--forward", "8080"}, []*appsv1.Deployment{web, api}, "--forward 8080: up serves 2 Deployments (web, api): say which one, as in --forward web=8080"},
		{[]string{"--forward", "0:8080"}, []*appsv1.Deployment{web}, "--forward 0:8080: the local port 0 is out of range"},
		{[]string{"--forward", "web=8080", "--forward", "api=8080:3000"}, []*appsv1.Deployment{web, api}, "local port 8080 is forwarded twice"},
		{[]string{"--forward", "8080", "--no-forward"}, []*appsv1.Deployment{web}, "--forward and --no-forward together"},
		{[]string{"--address", "laptop"}, []*appsv1.Deployment{web}, `--address "laptop"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if _, err := upForwards(t, &rules.Rules{}, tt.args, tt.deps...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestUpForwardFlagDefaults: forwards listen on loopback unless told otherwise, as kubectl port-forward.
func TestUpForwardFlagDefaults(t *testing.T) {
	cmd := NewCmdUp(nil, genericiooptions.IOStreams{})
	if a := cmd.Flags().Lookup("address"); a == nil || a.DefValue != "["+forward.DefaultAddress+"]" {
		t.Errorf("--address: %+v", a)
	}
	for _, name := range []string{"forward", "no-forward"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
}
