package cmd

import (
	"context"
	"testing"

	"github.com/spf13/pflag"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

func TestCompressFlag(t *testing.T) {
	for _, c := range []struct {
		args    []string
		want    syncletclient.Compression
		wantErr bool
	}{
		{nil, syncletclient.CompressAuto, false},
		{[]string{"--compress=off"}, syncletclient.CompressOff, false},
		{[]string{"--compress", "auto"}, syncletclient.CompressAuto, false},
		{[]string{"--compress=gzip"}, "", true},
	} {
		var f compressFlag
		fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
		f.addFlags(fs)
		err := fs.Parse(c.args)
		if (err != nil) != c.wantErr {
			t.Errorf("%v: error %v", c.args, err)
			continue
		}
		if err == nil && f.value() != c.want {
			t.Errorf("%v: %q, want %q", c.args, f.value(), c.want)
		}
		if err == nil && f.context(context.Background()) == context.Background() {
			t.Errorf("%v: the context carries nothing", c.args)
		}
	}
}
