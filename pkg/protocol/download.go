package protocol

// PathFile reads one regular file under a sync root, for `up`'s download patterns: GET with the query
// parameters root (the sync root's number) and path (a canonical slash path under it, as in
// SplitEntryName). The reply is the file's bytes; a file that is not there is 410 (404 is a synclet older than
// PathFile). Files over
// MaxDownload are refused (413), and so is anything but a regular file (409).
const PathFile = "/v1/file"

// MaxDownload caps a file PathFile serves: download patterns name lockfiles and generated sources, not
// build outputs.
const MaxDownload = 64 << 20

// PathChanged lists what changed under the sync roots since a moment, so `up` hashes only those files
// rather than the whole tree after each step: GET with since (unix nanoseconds on the synclet's clock,
// from an earlier Changed.Now). The reply is a Changed: per root, the regular files and directories
// whose status changed (ctime: a write, a rename, a chmod, whatever the tool) at or after since, as in
// a manifest. Without since it lists nothing and only tells Now.
const PathChanged = "/v1/changed"

// Changed is the synclet's answer to PathChanged.
type Changed struct {
	// Now is the synclet's clock when it started looking: the since of the next request.
	Now   int64          `json:"now"`
	Roots []RootManifest `json:"roots,omitempty"`
}
