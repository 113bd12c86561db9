package synclet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// short are timeouts a test can wait out.
var short = timeouts{header: time.Second, bodyIdle: 300 * time.Millisecond, idle: 500 * time.Millisecond}

// serveWith serves p's handler as Serve does, with tm, and returns its address.
func serveWith(t *testing.T, p *pod, tm timeouts) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = p.srv.httpServer(tm)
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// updateBody is an update of one 256 KiB file, as the CLI sends it.
func updateBody(t *testing.T) []byte {
	t.Helper()
	local := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(local, bytes.Repeat([]byte("x"), 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := tree.Stat(local, "big")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := archive.Write(&b, protocol.UpdateMeta{ID: "1"}, []archive.Put{{Root: 0, Local: local, Entry: e}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// postPaced posts body in 16 KiB chunks, waiting pause before each, and stalling for good after stallAt
// bytes (never, when stallAt < 0); it returns the reply's result event.
func postPaced(t *testing.T, addr string, body []byte, pause time.Duration, stallAt int) *protocol.Event {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go func() {
		for off := 0; off < len(body); off += 16 << 10 {
			if stallAt >= 0 && off >= stallAt {
				return // silent from here on: the pipe stays open until the test ends
			}
			time.Sleep(pause)
			if _, err := pw.Write(body[off:min(off+16<<10, len(body))]); err != nil {
				return // the server gave up on the body: the reply says why
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+protocol.PathUpdate, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	resp, err := authed.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e protocol.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("reply line %q: %v", sc.Bytes(), err)
		}
		if e.Type == protocol.EventResult {
			return &e
		}
	}
	t.Fatalf("no result in the reply (%v)", sc.Err())
	return nil
}

// TestStalledBodyReleasesUpdate: an update whose sender goes silent mid-body fails after the idle
// deadline, and the next update is applied (the lock is released); a slow sender whose every chunk
// comes within the deadline is not cut, however long the whole body takes.
func TestStalledBodyReleasesUpdate(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	addr := serveWith(t, p, short)
	body := updateBody(t)

	start := time.Now()
	res := postPaced(t, addr, body, 0, 64<<10)
	if took := time.Since(start); !strings.Contains(res.Error, "the sender sent nothing for 300ms") || took > 5*time.Second {
		t.Errorf("stalled update: result %q after %s, want an i/o timeout after about %s", res.Error, took, short.bodyIdle)

	}

	start = time.Now()
	res = postPaced(t, addr, body, 100*time.Millisecond, -1) // 17 chunks: about 1.7 s in all
	if res.Error != "" {
		t.Fatalf("slow update failed after %s: %s", time.Since(start), res.Error)
	}
	if took := time.Since(start); took < 3*short.bodyIdle {
		t.Fatalf("the slow body took %s: the test proves nothing", took)
	}
	if fi, err := os.Stat(filepath.Join(p.root, "big")); err != nil || fi.Size() != 256<<10 {
		t.Errorf("the slow update's file: %v", err)
	}
}

// TestLongStepNotCut: a step running far longer than every server timeout completes and its result
// reaches the client (no write deadline; the server's read that watches for the client going away has
// no deadline either, which would cancel the request).
func TestLongStepNotCut(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	cl := syncletclient.New(serveWith(t, p, short), devKey)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	meta := protocol.UpdateMeta{ID: "1", Restart: protocol.RestartNone, Steps: []protocol.Step{sh("slow", "sleep 2; echo finished", 0)}}
	var out []string
	res, _, err := cl.Update(ctx, meta, oneFile(t), func(e protocol.Event) {
		if e.Type == protocol.EventOutput {
			out = append(out, e.Line)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != "" || strings.Join(out, "|") != "finished" {
		t.Errorf("result %q, output %q: want the step finished", res.Error, out)
	}
}

// TestIdleConnectionClosed: a kept-alive connection with no request for the idle timeout is closed by
// the synclet; one used within it stays open.
func TestIdleConnectionClosed(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	conn, err := net.Dial("tcp", serveWith(t, p, short))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	health := func() error {
		if _, err := io.WriteString(conn, "GET "+protocol.PathHealth+" HTTP/1.1\r\nHost: synclet\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	for range 3 { // used every 0.3 s: within the idle timeout, the connection stays
		if err := health(); err != nil {
			t.Fatalf("health on a kept-alive connection: %v", err)
		}
		time.Sleep(short.idle * 3 / 5)
	}
	start := time.Now()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("reading an idle connection: %v, want EOF (closed by the synclet)", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the idle connection was closed after %s, want about %s", took, short.idle)
	}
}

// TestLongReplyAfterBody: a handler that reads its whole body and then works far longer than every
// server timeout (as a run or a step does) keeps its request, and its reply arrives: no deadline is left
// on the connection once the body is read, and none bounds the reply.
func TestLongReplyAfterBody(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = short.httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(4 * short.bodyIdle):
			_, _ = w.Write(b)
		case <-r.Context().Done():
			t.Errorf("the request was cancelled while its handler worked: %v", context.Cause(r.Context()))
		}
	}))
	srv.Start()
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("a run request"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "a run request" {
		t.Errorf("reply %q (%v), want the body echoed", b, err)
	}
}
