package cmd

import (
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
	fs.MarkHidden("profile")
	fs.MarkHidden("profile-output")
}

func (p *profiling) start() error {
	switch p.name {
	case "none":
		p.stop = func() error { return nil }
		return nil
	case "cpu":
		f, err := os.Create(p.output)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		p.stop = func() error { pprof.StopCPUProfile(); return f.Close() }
		return nil
	case "heap":
		p.stop = func() error {
			f, err := os.Create(p.output)
			if err != nil {
				return err
			}
			defer f.Close()
			runtime.GC()
			return pprof.Lookup("heap").WriteTo(f, 0)
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
