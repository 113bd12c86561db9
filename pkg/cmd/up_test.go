package cmd

import (
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestUpValidate: each refused flag value is named in the error; --poll-interval 0 is the adaptive
// default, not an error.
func TestUpValidate(t *testing.T) {
	for _, c := range []struct {
		mutate func(*UpOptions)
		want   string
	}{
		{func(o *UpOptions) { o.Quiet = 0 }, "--quiet 0s: want a positive window such as 20ms"},
		{func(o *UpOptions) { o.Quiet = -time.Millisecond }, "--quiet -1ms"},
		{func(o *UpOptions) { o.PollInterval = -time.Second }, "--poll-interval -1s"},
		{func(o *UpOptions) { o.SyncletPort = 0 }, "--synclet-port 0"},
		{func(o *UpOptions) { o.SyncletImage = "" }, "--synclet-image is empty"},
		{func(o *UpOptions) { o.PollInterval = 0 }, ""},
		{func(o *UpOptions) { o.PollInterval = time.Second }, ""},
	} {
		o := NewUpOptions(nil, genericiooptions.IOStreams{})
		c.mutate(o)
		err := o.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// TestUpFlagDefaults: --poll-interval defaults to zero (the adaptive period its help describes), so
// the watcher is told a period only when the user gave one.
func TestUpFlagDefaults(t *testing.T) {
	cmd := NewCmdUp(nil, genericiooptions.IOStreams{})
	f := cmd.Flags().Lookup("poll-interval")
	if f.DefValue != "0s" || !strings.Contains(f.Usage, "default: 100ms, longer on a tree so large") {
		t.Errorf("--poll-interval default %q, usage %q", f.DefValue, f.Usage)
	}
	if q := cmd.Flags().Lookup("quiet"); q.DefValue != "20ms" {
		t.Errorf("--quiet default %q", q.DefValue)
	}
}
