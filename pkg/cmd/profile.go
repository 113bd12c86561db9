package cmd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/pflag"
)

// profiling is kubectl's hidden --profile/--profile-output pair: a CPU or heap profile of one command,
// for finding where `up` spends its time on a large tree or many pods.
type profiling struct {
	name, output string
	stop         func() error
}

func (p *profiling) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&p.name, "profile", "none", "profile to capture: none, cpu or heap")
	fs.StringVar(&p.output, "profile-output", "profile.pprof", "file the profile is written to")
	for _, name := range []string{"profile", "profile-output"} {
		// MarkHidden fails only for a flag that is not defined, and both are, just above
		_ = fs.MarkHidden(name)
	}
}

func (p *profiling) start() error {
	switch p.name {
	case "none":
		p.stop = func() error { return nil }
		return nil
	case "cpu":
		f, err := os.Create(p.output)
		if err != nil {
			return fmt.Errorf("--profile-output: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return errors.Join(fmt.Errorf("starting the CPU profile: %w", err), f.Close())
		}
		p.stop = func() error { pprof.StopCPUProfile(); return f.Close() }
		return nil
	case "heap":
		p.stop = func() error {
			f, err := os.Create(p.output)
			if err != nil {
				return fmt.Errorf("--profile-output: %w", err)
			}
			runtime.GC()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				return errors.Join(fmt.Errorf("writing the heap profile: %w", err), f.Close())
			}
			return f.Close()
		}
		return nil
	}
	return fmt.Errorf("--profile %q: want none, cpu or heap", p.name)
}

func (p *profiling) finish() error {
	if p.stop == nil {
		return nil
	}
	return p.stop()
}
