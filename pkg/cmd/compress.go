package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// compressFlag is up's --compress: auto (zstd where the synclet accepts it and it pays) or off.
type compressFlag struct{ mode syncletclient.Compression }

var _ pflag.Value = (*compressFlag)(nil)

func (c *compressFlag) addFlags(fs *pflag.FlagSet) {
	fs.Var(c, "compress", "auto: send large updates zstd-compressed to synclets that accept it, when their content compresses; off: always plain")
}

// context returns ctx carrying the mode to the synclet clients of the dev loop.
func (c *compressFlag) context(ctx context.Context) context.Context {
	return syncletclient.WithCompression(ctx, c.value())
}

func (c *compressFlag) value() syncletclient.Compression {
	if c.mode == "" {
		return syncletclient.CompressAuto
	}
	return c.mode
}

// String is the value shown by --help.
func (c *compressFlag) String() string { return string(c.value()) }

// Set takes auto or off.
func (c *compressFlag) Set(v string) error {
	switch m := syncletclient.Compression(v); m {
	case syncletclient.CompressAuto, syncletclient.CompressOff:
		c.mode = m
		return nil
	}
	return fmt.Errorf("want auto or off, not %q", v)
}

// Type names the value in --help.
func (c *compressFlag) Type() string { return "auto|off" }
