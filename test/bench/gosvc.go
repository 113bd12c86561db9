package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The generated Go service: gosvcPackages packages under internal/, each importing the two before
// it (a build graph as deep as a real service's), and a main package serving GET / with the message
// of internal/p15. An edit changes the initializer of p15's unexported message variable, which
// leaves its export data alone: Go then recompiles that one package and links, which is the
// incremental in-pod build the workload measures.
const (
	gosvcPackages = 30
	gosvcModule   = "example.com/gosvc"
	gosvcEdited   = "internal/p15/message.go"
	gosvcInitial  = "hello from gosvc v1"
)

var gosvcMessage = regexp.MustCompile(`var message = ".*"`)

// writeGoService writes the service into dir (which it empties first); goLine is the go.mod `go`
// directive (the web-go sample's, which its image's toolchain builds).
func writeGoService(dir, goLine string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	files := map[string]string{
		"go.mod":    "module " + gosvcModule + "\n\n" + goLine + "\n",
		"main.go":   gosvcMain(),
		gosvcEdited: "package p15\n\nvar message = \"" + gosvcInitial + "\"\n\n// Message is what GET / answers.\nfunc Message() string { return message }\n",
	}
	for i := range gosvcPackages {
		files[fmt.Sprintf("internal/p%02d/p%02d.go", i, i)] = gosvcPackage(i)
	}
	for rel, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// gosvcPackage is package pNN: some types and functions (enough code that compiling it takes a
// moment), using the two packages before it.
func gosvcPackage(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "// Package p%02d is one of the generated service's packages.\npackage p%02d\n\nimport (\n\t\"fmt\"\n\t\"sort\"\n\t\"strings\"\n", i, i)
	var deps []int
	for _, d := range []int{i - 1, i - 2} {
		if d >= 0 {
			deps = append(deps, d)
			fmt.Fprintf(&b, "\n\t\"%s/internal/p%02d\"", gosvcModule, d)
		}
	}
	b.WriteString("\n)\n\n")
	fmt.Fprintf(&b, `// Item is a record this package keeps.
type Item struct {
	Name  string
	Score int
	Tags  []string
}

// Index holds items by name.
type Index struct{ items map[string]*Item }

// NewIndex makes n items.
func NewIndex(n int) *Index {
	x := &Index{items: map[string]*Item{}}
	for k := range n {
		name := fmt.Sprintf("p%02d-item-%%d", k)
		x.items[name] = &Item{Name: name, Score: (k*%d + 7) %% 101, Tags: []string{"t" + fmt.Sprint(k%%5)}}
	}
	return x
}

// Top returns the names of the n best items.
func (x *Index) Top(n int) []string {
	all := make([]*Item, 0, len(x.items))
	for _, it := range x.items {
		all = append(all, it)
	}
	sort.Slice(all, func(a, b int) bool {
		if all[a].Score != all[b].Score {
			return all[a].Score > all[b].Score
		}
		return all[a].Name < all[b].Name
	})
	var out []string
	for _, it := range all[:min(n, len(all))] {
		out = append(out, strings.ToUpper(it.Name))
	}
	return out
}

// Tagged counts items by tag.
func (x *Index) Tagged() map[string]int {
	m := map[string]int{}
	for _, it := range x.items {
		for _, t := range it.Tags {
			m[t]++
		}
	}
	return m
}

// Local is this package's share of the service's checksum.
func Local(n int) int {
	s := 0
	for _, it := range NewIndex(n).items {
		s += it.Score
	}
	return s
}

// Sum adds the shares of the packages it imports (theirs only: a call per import, not a tree).
func Sum(n int) int {
	s := Local(n)
`, i, i+3)
	for _, d := range deps {
		fmt.Fprintf(&b, "\ts += p%02d.Local(n) %% 1000\n", d)
	}
	b.WriteString("\treturn s\n}\n")
	return b.String()
}

func gosvcMain() string {
	return `// Command gosvc is the bench's generated service of ` + fmt.Sprint(gosvcPackages) + ` packages.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"` + gosvcModule + `/internal/p15"
	"` + gosvcModule + fmt.Sprintf("/internal/p%02d", gosvcPackages-1) + `"
)

func main() {
	sum := p` + fmt.Sprintf("%02d", gosvcPackages-1) + `.Sum(20)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%s (%d)\n", p15.Message(), sum) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		log.Fatalf("serving: %v", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
}
`
}
