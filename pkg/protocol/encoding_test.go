package protocol

import (
	"net/http"
	"testing"
)

// TestAcceptsZstd: the advertisement is read as RFC 9110 lists codings (case, spaces, weights, several headers).
func TestAcceptsZstd(t *testing.T) {
	for _, c := range []struct {
		vals []string
		want bool
	}{
		{nil, false},
		{[]string{"zstd"}, true},
		{[]string{"gzip, ZSTD;q=1"}, true},
		{[]string{"gzip", "identity"}, false},
		{[]string{"zstdx"}, false},
	} {
		h := http.Header{}
		for _, v := range c.vals {
			h.Add("Accept-Encoding", v)
		}
		if got := AcceptsZstd(h); got != c.want {
			t.Errorf("%q: %v, want %v", c.vals, got, c.want)
		}
	}
}
