package synclet

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// Version is stamped at build time.
var Version = "dev"

const usage = `synclet: the in-pod half of kubectl-fastdev (injected by 'kubectl fastdev up'; not run by hand)

  synclet install DEST                   copy this binary to DEST, read-only (init container)
  synclet seed SRC=DST... --marker FILE  copy the image's content of each SRC into DST, once per pod
  synclet serve --root DIR=TO... [flags] serve updates on loopback (sidecar)
  synclet supervise [flags] -- CMD ARGS  run the app, rerun steps and restart it on request
  synclet version
`

// Main runs the synclet with the given arguments and returns the process exit code.
func Main(args []string, stderr io.Writer) int {
	logger := log.New(os.Stdout, "", log.LstdFlags|log.Lmicroseconds)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	var err error
	switch args[0] {
	case "version":
		fmt.Println(Version)
	case "install":
		// a third argument (the run directory, from injections before it became the seed's job) is ignored
		if len(args) != 2 && len(args) != 3 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = Install(args[1])
	case "seed":
		err = seedMain(args[1:])
	case "serve":
		err = serveMain(ctx, args[1:], logger)
	case "supervise":
		cancel() // the supervisor handles signals itself and forwards them to the app
		return superviseMain(args[1:], logger, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "synclet %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func seedMain(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	marker := fs.String("marker", "", "file recording that seeding ran for this pod")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for i, pair := range fs.Args() {
		// DST is the injected mount (/fastdev/sync-N, never an "="); SRC is the rules' `to`, which may
		// hold one, so the pair is cut at its last "="
		at := strings.LastIndex(pair, "=")
		if at < 0 {
			return fmt.Errorf("argument %q: want SRC=DST", pair)
		}
		src, dst := pair[:at], pair[at+1:]
		if err := Seed(src, dst, fmt.Sprintf("%s-%d", *marker, i)); err != nil {
			return err
		}
	}
	return nil
}

type rootFlag struct{ dirs, to []string }

// String lists the root directories, for flag's help text.
func (r *rootFlag) String() string { return strings.Join(r.dirs, ",") }

// Set adds one DIR=TO pair.
func (r *rootFlag) Set(v string) error {
	dir, to, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want DIR=TO, got %q", v)
	}
	r.dirs, r.to = append(r.dirs, dir), append(r.to, to)
	return nil
}

func serveMain(ctx context.Context, args []string, logger *log.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var roots rootFlag
	fs.Var(&roots, "root", "DIR=TO: a sync root directory and the in-pod path the app sees it at (repeatable)")
	listen := fs.String("listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(protocol.DefaultPort)), "loopback address to listen on")
	super := fs.String("supervisor", protocol.SupervisorSocket, "the supervisor's socket")
	pending := fs.String("pending", protocol.PendingFile, "where steps wait while the app is down")
	var apps appsFlag
	fs.Var(&apps, "app", "NAME: an app container besides the first, with its own supervisor (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := NewServer(ServerConfig{
		Listen: *listen, Roots: roots.dirs, To: roots.to, Keys: os.Getenv(protocol.EnvAuthorizedKeys),
		Supervisor: *super, Pending: *pending, Apps: appSupervisors(apps), Limits: archive.DefaultLimits, Log: logger,
	})
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

func superviseMain(args []string, logger *log.Logger, stderr io.Writer) int {
	fs := flag.NewFlagSet("supervise", flag.ContinueOnError)
	sock := fs.String("socket", protocol.SupervisorSocket, "unix socket to take run requests on")
	pending := fs.String("pending", protocol.PendingFile, "steps queued while the app was down")
	grace := fs.Duration("grace", 5*time.Second, "time between SIGTERM and SIGKILL on a restart or a step's timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s := NewSupervisor(SupervisorConfig{Argv: fs.Args(), Socket: *sock, Pending: *pending, Grace: *grace, Log: logger})
	code, err := s.Run(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "synclet supervise: %v\n", err)
	}
	return code
}
