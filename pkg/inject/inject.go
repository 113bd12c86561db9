// Package inject builds the one patch that turns a Deployment into a dev Deployment (synclet binary
// installed by an init container, sync targets seeded and mounted, synclet sidecar, app process wrapped
// by the supervisor) and the patch that restores it exactly. Both are planned on the Deployment's JSON
// as the API server sent it and touch only the paths injection changes, so fields newer than this
// client's k8s.io/api types survive. Pure: no client-go, no I/O.
package inject

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// Annotations kubectl-fastdev records on an injected Deployment.
const (
	// AnnotationOriginal holds the pod template as it was before injection (JSON), for `down`.
	AnnotationOriginal = "fastdev.dev/original-template"
	// AnnotationKeys holds the public keys the synclet accepts (pkg/auth's list): nothing secret.
	AnnotationKeys = "fastdev.dev/authorized-keys"
	// AnnotationToken held the bearer token of injections before protocol version 2; re-injection
	// and `down` remove it.
	AnnotationToken = "fastdev.dev/token"
	// AnnotationPort holds the synclet's in-pod loopback port.
	AnnotationPort = "fastdev.dev/synclet-port"
	// AnnotationInjected, on the pod template, marks pods that carry a synclet (value: synclet image).
	AnnotationInjected = "fastdev.dev/injected"
)

// Names of what injection adds to the pod.
const (
	InstallContainer = "fastdev-install"
	SeedContainer    = "fastdev-seed"
	SyncletContainer = "fastdev-synclet"
	ToolsVolume      = "fastdev"
	syncVolumePrefix = "fastdev-sync-"
	toolsDir         = "/fastdev"
	syncletBin       = toolsDir + "/bin/synclet"
	runDir           = protocol.RunDir // on the tools volume: see TestRunDirOnToolsVolume
	syncMountPrefix  = "/fastdev-sync/"
)

// ErrHostNetwork refuses a pod template with hostNetwork: the synclet's loopback port would be the
// node's, shared by every such pod on it (two replicas on one node clash) and open to the node's processes.
var ErrHostNetwork = errors.New("the pod template sets hostNetwork: true, so the synclet would listen on the node's loopback, " +
	"where two replicas on one node share its port and every process of the node can reach it: develop a copy of the workload without hostNetwork")

// Options are the injection settings that do not come from the rules.
type Options struct {
	SyncletImage  string
	Port          int
	Keys          string // the public keys the synclet accepts (pkg/auth's authorized-keys list)
	NativeSidecar bool   // the server supports init containers with restartPolicy: Always (1.29+)
}

// Template returns the dev pod template for original under r. It does not modify original.
func Template(original *corev1.PodTemplateSpec, r *rules.Rules, opts Options) (*corev1.PodTemplateSpec, error) {
	t := original.DeepCopy()
	spec := &t.Spec
	idx, argvs, err := appContainers(spec, r)
	if err != nil {
		return nil, err
	}
	app := &spec.Containers[idx[0]]
	if err := checkNames(spec, idx, r); err != nil {
		return nil, err
	}
	if spec.HostNetwork {
		return nil, ErrHostNetwork
	}

	// The tools volume is writable only where the synclet binary is installed and the run directory
	// made (the init containers); the sidecar and the app see it read-only, but for the run directory
	// (mounted on its own, so it cannot be renamed away), which the seed makes private to the app's
	// user: no other user of the app container can replace the binary, the socket or pending steps.
	toolsMount := corev1.VolumeMount{Name: ToolsVolume, MountPath: toolsDir}
	private := []corev1.VolumeMount{{Name: ToolsVolume, MountPath: toolsDir, ReadOnly: true},
		{Name: ToolsVolume, MountPath: runDir, SubPath: path.Base(runDir)}}
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: ToolsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	seeds := make([]injected, len(idx))
	for k := range seeds {
		seeds[k] = seedFor(k, toolsMount)
	}
	side := injected{
		args: []string{syncletBin, "serve", "--listen", "127.0.0.1:" + strconv.Itoa(opts.Port),
			"--supervisor", protocol.SupervisorSocket, "--pending", protocol.PendingFile},
		mounts: append([]corev1.VolumeMount{}, private...),
	}
	for _, a := range r.More {
		side.args = append(side.args, "--app", a.Container)
	}
	for i, s := range r.Sync {
		vol := syncVolumePrefix + strconv.Itoa(i)
		mnt := syncMountPrefix + strconv.Itoa(i)
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMedium(s.Medium), SizeLimit: s.SizeLimit}}})
		seed := &seeds[s.App]
		seed.mounts = append(seed.mounts, corev1.VolumeMount{Name: vol, MountPath: mnt})
		side.mounts = append(side.mounts, corev1.VolumeMount{Name: vol, MountPath: mnt})
		c := &spec.Containers[idx[s.App]]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: s.To})
		seed.args = append(seed.args, s.To+"="+mnt)
		side.args = append(side.args, "--root", mnt+"="+s.To)
	}
	for k, i := range idx {
		c := &spec.Containers[i]
		c.VolumeMounts = append(c.VolumeMounts, private...)
		c.Command = wrapped(k, c.Name, argvs[k])
		c.Args = nil
	}
	more := moreSeeds(spec, idx, seeds, resourcesFor(r))
	addContainers(spec, app, opts, resourcesFor(r), toolsMount, seeds[0], side, more...)
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[AnnotationInjected] = opts.SyncletImage
	return t, nil
}

// checkNames refuses a template that already uses the names injection adds, or that mounts a volume
// where a sync target goes.
func checkNames(spec *corev1.PodSpec, idx []int, r *rules.Rules) error {
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if strings.HasPrefix(c.Name, "fastdev-") {
			return fmt.Errorf("container %q already exists: the pod template looks injected by another tool version; run `kubectl fastdev down` first", c.Name)
		}
	}
	for _, v := range spec.Volumes {
		// every name Strip removes: a user's volume of such a name would be lost at `down`
		if v.Name == ToolsVolume || strings.HasPrefix(v.Name, "fastdev-") {
			return fmt.Errorf("volume %q in the pod template has a name kubectl-fastdev keeps for itself (%q and \"fastdev-*\"): "+
				"rename it, and the volumeMounts that use it, in the Deployment's manifest and apply it again", v.Name, ToolsVolume)
		}
	}
	for i, s := range r.Sync {
		app := &spec.Containers[idx[s.App]]
		for _, m := range app.VolumeMounts {
			if path.Clean(m.MountPath) == s.To {
				return fmt.Errorf("rules line %d: %s.to %s is already a volume mount (%s) of container %q: sync into a directory that comes from the image", s.Line, r.SyncKey(i), s.To, m.Name, app.Name)
			}
		}
	}
	return nil
}

// injected is the command and mounts of one container injection adds.
type injected struct {
	args   []string
	mounts []corev1.VolumeMount
}

// addContainers adds the install and seed init containers and the synclet sidecar to spec.
//
// Only the install step uses the synclet image. Seeding and the synclet itself run the static binary
// from the app's image, as the app's user: the files they write belong to whoever the app runs as,
// even when only the image's USER says who that is, so in-pod steps can write into the synced tree.
func addContainers(spec *corev1.PodSpec, app *corev1.Container, opts Options, res corev1.ResourceRequirements, toolsMount corev1.VolumeMount, seedIn, sideIn injected, more ...corev1.Container) {
	sc := securityFor(spec, app)
	install := container(InstallContainer, opts.SyncletImage, sc.install)
	install.Command = []string{"/synclet", "install", syncletBin}
	install.VolumeMounts = []corev1.VolumeMount{toolsMount}
	seed := container(SeedContainer, app.Image, sc.app)
	seed.ImagePullPolicy = app.ImagePullPolicy
	seed.Command = seedIn.args
	seed.VolumeMounts = seedIn.mounts
	side := container(SyncletContainer, app.Image, sc.synclet)
	side.ImagePullPolicy = app.ImagePullPolicy
	side.Command = sideIn.args
	side.VolumeMounts = sideIn.mounts
	side.Env = []corev1.EnvVar{{Name: protocol.EnvAuthorizedKeys, Value: opts.Keys}}
	for _, c := range []*corev1.Container{&install, &seed, &side} {
		c.Resources = *res.DeepCopy()
	}

	spec.InitContainers = append(append(spec.InitContainers, install, seed), more...)
	if opts.NativeSidecar {
		always := corev1.ContainerRestartPolicyAlways
		side.RestartPolicy = &always
		spec.InitContainers = append(spec.InitContainers, side)
	} else {
		spec.Containers = append(spec.Containers, side)
	}
}

// appContainer returns the index of the container the rules develop (default: the first).
func appContainer(spec *corev1.PodSpec, r *rules.Rules) (int, error) {
	if len(spec.Containers) == 0 {
		return 0, fmt.Errorf("the pod template has no containers")
	}
	if r.Container == "" {
		return 0, nil
	}
	var names []string
	for i := range spec.Containers {
		if spec.Containers[i].Name == r.Container {
			return i, nil
		}
		names = append(names, spec.Containers[i].Name)
	}
	return 0, &rules.Error{Key: "container", Line: 1, Msg: fmt.Sprintf("no container %q in the pod template (it has: %s)", r.Container, strings.Join(names, ", "))}
}

// appCommand is what the supervisor runs: the container's command and args, or the rules' command
// when the pod spec leaves the command to the image (whose ENTRYPOINT and CMD the CLI cannot see).
// The wrapped command replaces both: as in a pod spec, the rules' command stands for the ENTRYPOINT
// and the pod spec's args (when set) for the CMD; without args, the rules' command must hold the CMD
// too, or the app starts without it.
func appCommand(c *corev1.Container, r *rules.Rules) ([]string, error) {
	switch {
	case len(c.Command) > 0:
		return append(append([]string{}, c.Command...), c.Args...), nil
	case len(r.Command) > 0:
		return append(append([]string{}, r.Command...), c.Args...), nil
	}
	what := "the image's ENTRYPOINT followed by its CMD, as `docker image inspect` shows them (the pod spec sets no args, so nothing else supplies the CMD)"
	if len(c.Args) > 0 {
		what = fmt.Sprintf("the image's ENTRYPOINT only, as `docker image inspect` shows it: the pod spec's args %q follow it", c.Args)
	}
	return nil, &rules.Error{Key: "command", Line: 1, Msg: fmt.Sprintf(
		"container %q has no command in the pod spec, so the process to restart is unknown: add `command: [\"/path/to/app\", ...]` to the rules, %s", c.Name, what)}
}

type securities struct{ install, app, synclet *corev1.SecurityContext }

// securityFor gives the injected containers the app's user and no privileges at all: no escalation,
// every capability dropped, the runtime's seccomp profile, and (synclet) a read-only root file system,
// which is what the `restricted` Pod Security Standard demands.
func securityFor(spec *corev1.PodSpec, app *corev1.Container) securities {
	base := func() *corev1.SecurityContext {
		no := false
		return &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}
	}
	a, s, in := base(), base(), base()
	var user, group *int64
	var nonRoot *bool
	if p := spec.SecurityContext; p != nil {
		user, group, nonRoot = p.RunAsUser, p.RunAsGroup, p.RunAsNonRoot
	}
	if c := app.SecurityContext; c != nil {
		if c.RunAsUser != nil {
			user = c.RunAsUser
		}
		if c.RunAsGroup != nil {
			group = c.RunAsGroup
		}
		if c.RunAsNonRoot != nil {
			nonRoot = c.RunAsNonRoot
		}
	}
	for _, c := range []*corev1.SecurityContext{a, s, in} {
		c.RunAsUser, c.RunAsGroup, c.RunAsNonRoot = user, group, nonRoot
	}
	ro := true
	s.ReadOnlyRootFilesystem, in.ReadOnlyRootFilesystem = &ro, &ro
	return securities{install: in, app: a, synclet: s}
}

func container(name, image string, sc *corev1.SecurityContext) corev1.Container {
	c := corev1.Container{
		Name:  name,
		Image: image,
		// set what the API server would default, so a re-run compares equal and patches nothing
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext:          sc.DeepCopy(),
	}
	return c
}
