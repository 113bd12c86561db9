package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kubectl-fastdev")
	k, err := LoadOrCreate(dir, "dev@laptop")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeyFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v: want mode 0600", fi, err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("key directory %v, %v: want mode 0700", di, err)
	}
	again, err := LoadOrCreate(dir, "someone else")
	if err != nil || !again.Public().Key.Equal(k.Public().Key) || again.Public().Comment != "dev@laptop" {
		t.Fatalf("second load: %v, %v: want the same key and comment", again, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key others may read: %v, want a refusal naming chmod", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, ""); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Errorf("a garbled key: %v", err)
	}
}

func TestParseAuthorized(t *testing.T) {
	a := mustKey(t, "alice@laptop").Public()
	b := mustKey(t, "").Public()
	cases := []struct {
		name, in string
		want     int
		bad      bool
	}{
		{"empty", "", 0, false},
		{"one", a.String(), 1, false},
		{"two and blank lines", "\n" + a.String() + "\n\n" + b.String() + "\n", 2, false},
		{"a token", "0123456789abcdef", 0, true},
		{"another algorithm", "ssh-rsa " + strings.Fields(a.String())[1], 0, true},
		{"short key", "ed25519 AAAA", 0, true},
		{"not base64", "ed25519 !!!!", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAuthorized(c.in)
			if (err != nil) != c.bad || len(got) != c.want {
				t.Fatalf("%v, %v", got, err)
			}
		})
	}
	if got, err := ParseAuthorized(a.String()); err != nil || got[0].Comment != "alice@laptop" || !got[0].Key.Equal(a.Key) {
		t.Errorf("round trip: %v, %v", got, err)
	}
	both := WithKey(a.String(), b)
	if both != a.String()+"\n"+b.String() || WithKey(both, a) != both || Merge(both, both) != both || Merge("", both) != both {
		t.Errorf("WithKey/Merge: %q", both)
	}
}

// gated serves an OK handler behind a gate that accepts keys.
func gated(t *testing.T, keys ...*Key) string {
	t.Helper()
	var list []PublicKey
	for _, k := range keys {
		list = append(list, k.Public())
	}
	g, err := NewGate(FormatAuthorized(list))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("served"))
	})))
	hs.Config.ConnContext = g.ConnContext
	hs.Start()
	t.Cleanup(hs.Close)
	return strings.TrimPrefix(hs.URL, "http://")
}

// TestHandshake: a connection that proves an authorized key is served, for every request it carries;
// another key is refused with its name; a proof is good for its own connection's nonce only, once.
func TestHandshake(t *testing.T) {
	dev, eve := mustKey(t, "dev@laptop"), mustKey(t, "eve@elsewhere")
	addr := gated(t, dev)
	hc := &http.Client{Transport: &http.Transport{DialContext: Dialer(dev, nil)}}
	for range 3 {
		resp, err := hc.Get("http://" + addr + "/anything")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("proven connection: %v, %v", resp, err)
		}
		resp.Body.Close()
	}
	_, err := (&http.Client{Transport: &http.Transport{DialContext: Dialer(eve, nil)}}).Get("http://" + addr + "/")
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != 401 || !strings.Contains(refused.Msg, "eve@elsewhere") {
		t.Errorf("another key: %v", err)
	}

	// the proof of one connection's nonce, replayed on another connection, or twice on its own
	c1, br1 := dial(t, addr)
	proof := sign(t, dev, nonce(t, c1, br1))
	c2, br2 := dial(t, addr)
	nonce(t, c2, br2)
	if code := send(t, c2, br2, "POST", protocol.PathAuth, proof); code != 401 {
		t.Errorf("a proof replayed on another connection: %d", code)
	}
	if code := send(t, c2, br2, "GET", "/x", nil); code != 401 {
		t.Errorf("after a failed proof: %d", code)
	}
	if code := send(t, c1, br1, "POST", protocol.PathAuth, proof); code != 204 {
		t.Errorf("the proof on its own connection: %d", code)
	}
	c3, br3 := dial(t, addr)
	n := nonce(t, c3, br3)
	if code := send(t, c3, br3, "POST", protocol.PathAuth, sign(t, eve, n)); code != 401 {
		t.Errorf("eve's proof: %d", code)
	}
	if code := send(t, c3, br3, "POST", protocol.PathAuth, sign(t, dev, n)); code != 401 {
		t.Errorf("a second proof of a used nonce: %d", code)
	}
}

func mustKey(t *testing.T, comment string) *Key {
	t.Helper()
	k, err := Generate(comment)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func send(t *testing.T, c net.Conn, br *bufio.Reader, method, path string, body []byte) int {
	t.Helper()
	code, _ := sendRead(t, c, br, method, path, body)
	return code
}

func sendRead(t *testing.T, c net.Conn, br *bufio.Reader, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://x"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, buf.Bytes()
}

func nonce(t *testing.T, c net.Conn, br *bufio.Reader) []byte {
	t.Helper()
	code, body := sendRead(t, c, br, "GET", protocol.PathChallenge, nil)
	var ch Challenge
	if err := json.Unmarshal(body, &ch); code != 200 || err != nil {
		t.Fatalf("challenge: %d %s", code, body)
	}
	return ch.Nonce
}

func sign(t *testing.T, k *Key, n []byte) []byte {
	t.Helper()
	b, err := json.Marshal(Proof{Key: k.Public().String(), Signature: ed25519.Sign(k.priv, signed(n))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
