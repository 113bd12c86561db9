package cmd

import (
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// TestSettleFlag: --settle defaults to watch.DefaultSettle, 0 turns settling off, and a value that
// is negative or not shorter than --quiet is refused with the fix.
func TestSettleFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration // the settle time given to the watcher
		err  string        // from parsing or Validate
	}{
		{nil, watch.DefaultSettle, ""},
		{[]string{"--settle", "0"}, 0, ""},
		{[]string{"--settle", "5ms"}, 5 * time.Millisecond, ""},
		{[]string{"--quiet", "200ms", "--settle", "0"}, 0, ""},
		{[]string{"--quiet", "2ms"}, watch.DefaultSettle, ""}, // the default is moot, not an error
		{[]string{"--settle", "-1ms"}, 0, "--settle -1ms: want 0"},
		{[]string{"--settle", "20ms"}, 0, "--settle 20ms: want less than --quiet 20ms"},
		{[]string{"--quiet", "10ms", "--settle", "30ms"}, 0, "--settle 30ms: want less than --quiet 10ms"},
		{[]string{"--settle", "soon"}, 0, "want a duration such as 3ms"},
	} {
		// the command's own options, as up's flags set them
		o := NewUpOptions(nil, genericiooptions.IOStreams{})
		fs := NewCmdUp(nil, genericiooptions.IOStreams{}).Flags()
		err := fs.Parse(c.args)
		if err == nil {
			o.Quiet, err = fs.GetDuration("quiet")
			o.settle = *fs.Lookup("settle").Value.(*settleFlag)
		}
		if err == nil {
			err = o.Validate()
		}
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: got %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
		} else if got := o.settle.value(); got != c.want {
			t.Errorf("%v: settle %s, want %s", c.args, got, c.want)
		}
	}
}
