package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// settleFlag is up's --settle: how long a lone save waits for a further event before it is sent
// (watch.Options.Settle). Unset, it is watch.DefaultSettle; 0 makes every edit wait the --quiet window.
type settleFlag struct {
	d   time.Duration
	set bool
}

var _ pflag.Value = (*settleFlag)(nil)

func (s *settleFlag) addFlags(fs *pflag.FlagSet) {
	fs.Var(s, "settle", "a lone save (a few files after a quiet tree) is sent once no other change followed it for this long, instead of waiting the --quiet window, which bursts still wait; 0: every edit waits --quiet")
}

// value is the settle time to watch with.
func (s *settleFlag) value() time.Duration {
	if !s.set {
		return watch.DefaultSettle
	}
	return s.d
}

// validate checks --settle against --quiet.
func (s *settleFlag) validate(quiet time.Duration) error {
	switch {
	case s.d < 0:
		return fmt.Errorf("--settle %s: want 0 (every edit waits the --quiet window) or a short time such as %s", s.d, watch.DefaultSettle)
	case s.set && s.d > 0 && s.d >= quiet:
		return fmt.Errorf("--settle %s: want less than --quiet %s (a lone save is sent after --settle, a burst after --quiet), or 0 to turn settling off", s.d, quiet)
	}
	return nil
}

// String is the value shown by --help.
func (s *settleFlag) String() string { return s.value().String() }

// Set parses a duration such as 3ms.
func (s *settleFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration such as %s: %w", watch.DefaultSettle, err)
	}
	s.d, s.set = d, true
	return nil
}

// Type names the value in --help.
func (s *settleFlag) Type() string { return "duration" }
