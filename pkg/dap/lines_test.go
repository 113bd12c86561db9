package dap

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRelocate(t *testing.T) {
	src := strings.Split("package main\n\nfunc h() {\n\t// added\n\t// added\n\tfmt.Println(x)\n}\n\tfmt.Println(x)", "\n")
	for _, tc := range []struct {
		name string
		line int
		text string
		want int
	}{
		{"unchanged", 6, "fmt.Println(x)", 6},
		{"moved down by two", 4, "fmt.Println(x)", 6},
		{"a tie goes down: lines were added above", 7, "fmt.Println(x)", 8},
		{"text gone: stays", 3, "return nil", 3},
		{"blank text: stays", 2, "", 2},
		{"past the end: found above", 20, "func h() {", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := relocate(src, tc.line, tc.text); got != tc.want {
				t.Errorf("relocate(%d, %q) = %d, want %d", tc.line, tc.text, got, tc.want)
			}
		})
	}
}

func TestLocalPath(t *testing.T) {
	local := filepath.FromSlash("/home/me/web/src")
	maps := []Mapping{{Local: local, Pod: "/app/src"}}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{filepath.Join(local, "main.go"), filepath.Join(local, "main.go"), true},
		{"/app/src/pkg/a.go", filepath.Join(local, "pkg", "a.go"), true},
		{"/app/src/../etc/passwd", "", false},
		{"/usr/lib/go/src/net/http/server.go", "", false},
	} {
		got, ok := localPath(tc.in, maps)
		if got != tc.want || ok != tc.ok {
			t.Errorf("localPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
