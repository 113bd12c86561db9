package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDownloadParsed(t *testing.T) {
	r, err := Parse(`sync:
  - from: ./web
    to: /app
    ignore: ["node_modules/"]
    download: ["package-lock.json", "gen/**"]
  - from: ./other
    to: /other
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Sync[0].Download; !slices.Equal(got, []string{"package-lock.json", "gen/**"}) {
		t.Fatalf("Download = %q", got)
	}
	if !r.HasDownloads() {
		t.Error("HasDownloads = false")
	}
	for _, tc := range []struct {
		root int
		rel  string
		want bool
	}{
		{0, "package-lock.json", true},
		{0, "sub/package-lock.json", true},
		{0, "gen/x/y.go", true},
		{0, "src/main.js", false},
		{1, "package-lock.json", false},
		{5, "package-lock.json", false},
	} {
		if got := r.Downloads(tc.root, tc.rel); got != tc.want {
			t.Errorf("Downloads(%d, %q) = %v, want %v", tc.root, tc.rel, got, tc.want)
		}
	}
}

func TestDownloadRefused(t *testing.T) {
	tests := []struct {
		name, entry, key, want string
		line                   int
	}{
		{"leaves the entry", `download: ["../secrets.txt"]`, "sync[0].download[0]", "leaves the sync entry", 4},
		{"in-pod path", `download: ["/app/gen/x"]`, "sync[0].download[0]", "write it relative to the entry's to (/app), such as gen/x", 4},
		{"everything", `download: ["**"]`, "sync[0].download[0]", "every file of the entry", 4},
		{"conflict copy", `download: ["*.fastdev-pod"]`, "sync[0].download[0]", "conflict copy", 4},
		{"ignored", "ignore: [gen/]\n    download: [\"gen/**\"]", "sync[0].download[0]", `covered by ignore "gen/"`, 5},
		{"ignored by name", "ignore: [\"*.json\"]\n    download:\n      - src/x.go\n      - package-lock.json", "sync[0].download[1]", `covered by ignore "*.json"`, 7},
		{"kept", "keep: [cache]\n    download: [cache/x]", "sync[0].download[0]", `covered by keep "cache"`, 5},
		{"not a list", `download: package-lock.json`, "sync[0].download", `must be a list, not the string "package-lock.json": write it as download: ["package-lock.json", "gen/**"]`, 4},
		{"bad glob", `download: ["gen/[x"]`, "sync[0].download[0]", "not a valid glob", 4},
		{"at the top", "", "download", "inside a sync entry", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "sync:\n  - from: .\n    to: /app\n    " + tt.entry + "\n"
			if tt.entry == "" {
				text = "sync: [{from: ., to: /app}]\ndownload: [x]\n"
			}
			_, err := Parse(text)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("Parse: %v, want a *rules.Error", err)
			}
			if re.Key != tt.key || !strings.Contains(re.Msg, tt.want) || (tt.line != 0 && re.Line != tt.line) {
				t.Errorf("got %s line %d: %s\nwant %s line %d containing %q", re.Key, re.Line, re.Msg, tt.key, tt.line, tt.want)
			}
		})
	}
}
