package inject

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// Rules in the list form develop several app containers of one pod (rules.Rules.Apps). One synclet
// serves them all; each app container is wrapped by its own supervisor, whose socket and pending file
// lie in the one run directory (protocol.SupervisorSocketFor), and gets its own seed init container
// from its own image. The run directory is private to the user the containers run as (privateDir),
// so they must all run as one user: appContainers refuses a pod where they do not, before anything
// is patched.

// appContainers returns the index in spec.Containers of each app container the rules develop, in
// the order of r.Apps(), and the argv each one's supervisor runs. It refuses a container named twice,
// a name the pod does not have, and app containers that do not run as one user.
func appContainers(spec *corev1.PodSpec, r *rules.Rules) ([]int, [][]string, error) {
	first, err := appContainer(spec, r)
	if err != nil {
		return nil, nil, err
	}
	idx := []int{first}
	for _, a := range r.More {
		i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == a.Container })
		if i < 0 {
			return nil, nil, &rules.Error{Key: "containers", Line: a.Line, Msg: fmt.Sprintf("no container %q in the pod template (it has: %s)", a.Container, names(spec.Containers))}
		}
		if slices.Contains(idx, i) {
			return nil, nil, &rules.Error{Key: "containers", Line: a.Line, Msg: fmt.Sprintf("container %q is described twice (the first item develops the pod's first container when it names none): keep one item for it", a.Container)}
		}
		idx = append(idx, i)
	}
	apps := r.Apps()
	argvs := make([][]string, len(idx))
	for k, i := range idx {
		c := &spec.Containers[i]
		if argvs[k], err = appCommand(c, &rules.Rules{Command: apps[k].Command}); err != nil {
			return nil, nil, err
		}
		if k > 0 {
			if err := sameUser(spec, &spec.Containers[first], c, apps[k].Line); err != nil {
				return nil, nil, err
			}
		}
	}
	return idx, argvs, nil
}

// sameUser refuses app container c when it may run as another user than the first app container:
// its supervisor could not reach the run directory, which is private to the first one's user. Users
// count as the same when the security contexts set the same runAsUser, or set none and the images
// are the same (so the image's USER is).
func sameUser(spec *corev1.PodSpec, first, c *corev1.Container, line int) error {
	u1, u2 := securityFor(spec, first).app.RunAsUser, securityFor(spec, c).app.RunAsUser
	switch {
	case u1 != nil && u2 != nil && *u1 == *u2:
		return nil
	case u1 == nil && u2 == nil && first.Image == c.Image:
		return nil
	}
	return &rules.Error{Key: "containers", Line: line, Msg: fmt.Sprintf(
		"containers %q (user %s) and %q (user %s) may run as different users, but the app containers of one pod share fastdev's run directory, "+
			"which is private to one user: set the same securityContext.runAsUser on both (or on the pod), or list only containers that run as one user",
		first.Name, userOf(u1, first.Image), c.Name, userOf(u2, c.Image))}
}

func userOf(u *int64, image string) string {
	if u == nil {
		return "of image " + image
	}
	return strconv.FormatInt(*u, 10)
}

func names(cs []corev1.Container) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return strings.Join(out, ", ")
}

// seedFor is the seed of app container k: the first's keeps the single-container marker.
func seedFor(k int, toolsMount corev1.VolumeMount) injected {
	marker := runDir + "/seeded"
	if k > 0 {
		marker += "-app" + strconv.Itoa(k)
	}
	return injected{args: []string{syncletBin, "seed", "--marker", marker}, mounts: []corev1.VolumeMount{toolsMount}}
}

// wrapped is app container k's command under its supervisor: the first's keeps the single-container
// form, the others name their own socket and pending file.
func wrapped(k int, name string, argv []string) []string {
	cmd := []string{syncletBin, "supervise"}
	if k > 0 {
		cmd = append(cmd, "--socket", protocol.SupervisorSocketFor(name), "--pending", protocol.PendingFileFor(name))
	}
	return append(append(cmd, "--"), argv...)
}

// unwrapped returns the app's argv from a command wrapped by wrapped, and false for any other command.
func unwrapped(cmd []string) ([]string, bool) {
	if len(cmd) < 3 || cmd[0] != syncletBin || cmd[1] != "supervise" {
		return nil, false
	}
	i := slices.Index(cmd[2:], "--")
	if i < 0 {
		return nil, false
	}
	return cmd[2+i+1:], true
}

// moreSeeds returns the seed init containers of the app containers after the first, each from its
// own container's image and as its user, named fastdev-seed-1, fastdev-seed-2, ...
func moreSeeds(spec *corev1.PodSpec, idx []int, seeds []injected, res corev1.ResourceRequirements) []corev1.Container {
	var out []corev1.Container
	for k := 1; k < len(idx); k++ {
		app := &spec.Containers[idx[k]]
		s := container(SeedContainer+"-"+strconv.Itoa(k), app.Image, securityFor(spec, app).app)
		s.ImagePullPolicy = app.ImagePullPolicy
		s.Command = seeds[k].args
		s.VolumeMounts = seeds[k].mounts
		s.Resources = *res.DeepCopy()
		out = append(out, s)
	}
	return out
}
