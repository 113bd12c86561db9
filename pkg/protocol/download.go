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
