package synclet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// devKey is the developer's key every test pod accepts.
var devKey = mustKey("dev@test")

func mustKey(comment string) *auth.Key {
	k, err := auth.Generate(comment)
	if err != nil {
		panic(err)
	}
	return k
}

// authed is an HTTP client whose connections prove devKey, for requests the syncletclient does not make.
var authed = &http.Client{Transport: &http.Transport{DialContext: auth.Dialer(devKey, nil)}}

// pod is a synclet server over httptest with one sync root, and a directory beside the root that no
// request may change.
type pod struct {
	root, outside, pending string
	srv                    *Server
	http                   *httptest.Server
}

func newPod(t testing.TB, limits archive.Limits) *pod {
	t.Helper()
	base := t.TempDir()
	p := &pod{root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside"), pending: filepath.Join(base, "run", "pending.json")}
	for _, d := range []string{p.root, p.outside, filepath.Dir(p.pending)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(p.outside, "canary"), []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	p.srv, err = NewServer(ServerConfig{Listen: "127.0.0.1:0", Roots: []string{p.root}, To: []string{"/app"}, Keys: devKey.Public().String(),
		Supervisor: filepath.Join(base, "run", "supervisor.sock"), // nothing listens: the app "is not running"
		Pending:    p.pending, Limits: limits, Log: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	p.http = httptest.NewUnstartedServer(p.srv.Handler())
	p.http.Config.ConnContext = p.srv.ConnContext
	p.http.Start()
	t.Cleanup(p.http.Close)
	return p
}

func (p *pod) client(key *auth.Key) *syncletclient.Client {
	return syncletclient.New(strings.TrimPrefix(p.http.URL, "http://"), key)
}

// checkOutside fails the test if the directory beside the root changed.
func (p *pod) checkOutside(t *testing.T) {
	t.Helper()
	es, err := os.ReadDir(p.outside)
	if err != nil || len(es) != 1 {
		t.Fatalf("outside directory now holds %v (%v)", es, err)
	}
	if b, err := os.ReadFile(filepath.Join(p.outside, "canary")); err != nil || string(b) != "secret\n" {
		t.Fatalf("canary now %q (%v)", b, err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(p.root), "evil")); err == nil {
		t.Fatal("an entry landed beside the root")
	}
}

// localTree is a local directory synced into a pod's first root with the real client.
type localTree struct {
	t   *testing.T
	dir string
	c   *syncletclient.Client
}

func newLocalTree(t *testing.T, p *pod) *localTree {
	c := p.client(devKey)
	t.Cleanup(c.Close)
	return &localTree{t: t, dir: t.TempDir(), c: c}
}

// write creates or replaces the file rel, and the directories above it.
func (l *localTree) write(rel, body string, mode os.FileMode) {
	l.t.Helper()
	full := filepath.Join(l.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(body), mode); err != nil {
		l.t.Fatal(err)
	}
}

// remote returns what the pod holds under its first root, as the synclet reports it.
func (l *localTree) remote() tree.Manifest {
	l.t.Helper()
	man, err := l.c.Manifest(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	remote := tree.Manifest{}
	for _, e := range man.Roots[0].Entries {
		remote[e.Path] = e
	}
	return remote
}

// converge sends the difference between the local tree and the pod, then checks that none is left.
func (l *localTree) converge() {
	l.t.Helper()
	m, err := tree.Scan(l.dir, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	d := tree.Compare(m, l.remote(), nil, nil)
	if d.Empty() {
		return
	}
	var meta protocol.UpdateMeta
	for _, p := range d.Delete {
		meta.Deletes = append(meta.Deletes, protocol.EntryName(0, p))
	}
	var puts []archive.Put
	for _, e := range d.Put {
		puts = append(puts, archive.Put{Root: 0, Local: filepath.Join(l.dir, filepath.FromSlash(e.Path)), Entry: m[e.Path]})
	}
	res, _, err := l.c.Update(context.Background(), meta, puts, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	if res.Error != "" {
		l.t.Fatalf("update failed: %s", res.Error)
	}
	if d := tree.Compare(m, l.remote(), nil, nil); !d.Empty() {
		l.t.Fatalf("pod still differs from the local tree: %+v", d)
	}
}

// TestClientServerUpdate sends a tree with the real client, then edits: the pod ends equal to the local
// tree each time.
func TestClientServerUpdate(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	l := newLocalTree(t, p)
	l.write("index.html", "v1\n", 0o644)
	l.write("a b/ç.txt", "accent\n", 0o644)
	l.write("run.sh", "#!/bin/sh\n", 0o755)
	if err := os.Symlink("a b/ç.txt", filepath.Join(l.dir, "link")); err != nil {
		t.Fatal(err)
	}
	l.converge()
	l.write("index.html", "v2\n", 0o600)
	if err := os.RemoveAll(filepath.Join(l.dir, "a b")); err != nil {
		t.Fatal(err)
	}
	l.converge()
	if b, err := os.ReadFile(filepath.Join(p.root, "index.html")); err != nil || string(b) != "v2\n" {
		t.Fatalf("index.html in the pod: %q %v", b, err)
	}
}

// TestClientServerRefusesEscapes sends, after a first sync, entries that try to escape the root: each
// is refused with a message the status repeats, and nothing outside the root changes.
func TestClientServerRefusesEscapes(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	l := newLocalTree(t, p)
	l.write("index.html", "v1\n", 0o644)
	l.converge()
	escapes := []struct {
		name  string
		entry tree.Entry
		want  string
	}{
		{"dot-dot directory", tree.Entry{Path: "../evil", Kind: tree.Dir, Mode: 0o755}, "escapes its sync root"},
		{"dot-dot file", tree.Entry{Path: "../outside/canary", Kind: tree.File}, "escapes its sync root"},
		{"absolute link", tree.Entry{Path: "etc", Kind: tree.Symlink, Target: "/etc"}, "points outside"},
		{"link out", tree.Entry{Path: "up", Kind: tree.Symlink, Target: "../outside"}, "points outside"},
	}
	l.write("payload", "pwned\n", 0o644)
	for _, e := range escapes {
		t.Run(e.name, func(t *testing.T) {
			put := archive.Put{Root: 0, Local: filepath.Join(l.dir, "payload"), Entry: e.entry}
			res, _, err := l.c.Update(context.Background(), protocol.UpdateMeta{}, []archive.Put{put}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(res.Error, e.want) {
				t.Fatalf("result error %q, want %q", res.Error, e.want)
			}
			p.checkOutside(t)
			st, err := l.c.Status(context.Background())
			if err != nil || !strings.Contains(st.LastError, e.want) {
				t.Fatalf("status does not report the refusal: %+v %v", st, err)
			}
		})
	}
}

// TestServerRefusesMalformed: oversize updates, bad bodies and bad metadata each end in a result event
// that says what was wrong, and write nothing.
func TestServerRefusesMalformed(t *testing.T) {
	limits := archive.Limits{MaxFileSize: 16, MaxTotal: 24, MaxEntries: 4}
	tarOf := func(meta protocol.UpdateMeta, files map[string]string) []byte {
		dir := t.TempDir()
		var puts []archive.Put
		for name, body := range files {
			f := filepath.Join(dir, name)
			if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			puts = append(puts, archive.Put{Root: 0, Local: f, Entry: tree.Entry{Path: name, Kind: tree.File}})
		}
		var b bytes.Buffer
		if _, err := archive.Write(&b, meta, puts); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	good := tarOf(protocol.UpdateMeta{}, map[string]string{"f": strings.Repeat("x", 16)})
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"file over the size limit", tarOf(protocol.UpdateMeta{}, map[string]string{"big": strings.Repeat("x", 17)}), "file of 17 bytes is over the 16 byte limit"},
		{"update over the total", tarOf(protocol.UpdateMeta{}, map[string]string{"a": strings.Repeat("x", 16), "b": strings.Repeat("x", 9)}), "update is over the 24 byte limit"},
		{"empty body", nil, "applying update: reading update: EOF"},
		{"not a tar", []byte(strings.Repeat("this is not a tar stream\n", 50)), "applying update: reading update"},
		{"truncated in a file", good[:1024+512+8], "unexpected EOF"},
		{"step without a command", tarOf(protocol.UpdateMeta{Steps: []protocol.Step{{Display: "make"}}}, nil), "has no command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPod(t, limits)
			ev := post(t, p, c.body)
			last := ev[len(ev)-1]
			if last.Type != protocol.EventResult || !strings.Contains(last.Error, c.want) {
				t.Fatalf("last event %+v, want a result with error %q", last, c.want)
			}
			if names, _ := os.ReadDir(p.root); len(names) > 0 && c.name != "update over the total" {
				t.Errorf("root holds %v", names)
			}
			if _, err := os.Stat(p.pending); err == nil {
				t.Error("steps of a refused update were queued")
			}
			p.checkOutside(t)
		})
	}
}

// TestServerQueuesStepsWhileAppDown: when the supervisor does not answer (the app container is
// restarting), the files land and the steps wait in the pending file for its next start.
func TestServerQueuesStepsWhileAppDown(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	meta := protocol.UpdateMeta{Steps: []protocol.Step{{Argv: []string{"go", "build", "."}, Display: "go build ."}}, Restart: "process"}
	var b bytes.Buffer
	if _, err := archive.Write(&b, meta, nil); err != nil {
		t.Fatal(err)
	}
	ev := post(t, p, b.Bytes())
	if last := ev[len(ev)-1]; last.Error != "" || !last.Queued {
		t.Fatalf("result %+v, want queued without error", last)
	}
	raw, err := os.ReadFile(p.pending)
	if err != nil {
		t.Fatal(err)
	}
	var got protocol.RunRequest
	if err := json.Unmarshal(raw, &got); err != nil || len(got.Steps) != 1 || got.Steps[0].Display != "go build ." || got.Restart != "process" {
		t.Fatalf("pending %s (%v)", raw, err)
	}
}

// post sends body as an update on a connection that proved devKey and returns the reply's events.
func post(t *testing.T, p *pod, body []byte) []protocol.Event {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.http.URL+protocol.PathUpdate, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	resp, err := authed.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var out []protocol.Event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e protocol.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("reply line %q: %v", sc.Bytes(), err)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		t.Fatal("no events in the reply")
	}
	return out
}
