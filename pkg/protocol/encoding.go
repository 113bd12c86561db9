package protocol

import (
	"net/http"
	"strings"
)

// EncodingZstd is the Content-Encoding of an update body compressed with zstd. A synclet that decodes
// it says so on every reply with an Accept-Encoding header (in a response, RFC 9110 12.5.3: the codings
// the server accepts in request content); the CLI compresses only for a synclet that said so. A
// synclet older than this says nothing and gets plain bodies, and an older CLI never compresses, so
// the protocol version stays "2".
const EncodingZstd = "zstd"

// AcceptsZstd reports whether a synclet's reply headers say it takes zstd request bodies.
func AcceptsZstd(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(c, ";")
			if strings.EqualFold(strings.TrimSpace(name), EncodingZstd) {
				return true
			}
		}
	}
	return false
}
