package image

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Config is the part of an image's run configuration these images need.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string // "KEY=value"
	WorkingDir string
	User       string // "uid", "uid:gid" or a name from the image's /etc/passwd
}

// Build stacks the layers, bottom first, on an empty linux image for the host's architecture and
// sets its run configuration. The result is lazy: layers are read when the image is written.
func Build(cfg Config, layers ...*Layer) (v1.Image, error) {
	adds := make([]mutate.Addendum, 0, len(layers))
	for i, l := range layers {
		vl, err := l.V1()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		adds = append(adds, mutate.Addendum{
			Layer:   vl,
			History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "kubectl-fastdev hack/mkimage/image"},
		})
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	// containerd's import keeps only the manifests that match its platform, so these must be set.
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Created = v1.Time{Time: Epoch}
	cf.Config.Entrypoint = cfg.Entrypoint
	cf.Config.Cmd = cfg.Cmd
	cf.Config.Env = cfg.Env
	cf.Config.WorkingDir = cfg.WorkingDir
	cf.Config.User = cfg.User
	return mutate.ConfigFile(img, cf)
}

// WriteFile writes img to file as a docker-archive tarball tagged ref (for example
// "fastdev.local/pause:3.10"), the format `ctr -n k8s.io images import` reads. The file appears
// complete or not at all: it is written next to its final name and renamed.
func WriteFile(file, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", ref, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
