package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// restrictedNS labels a namespace that enforces the restricted Pod Security Standard, which the
// web-node and web-python samples meet as they are.
var restrictedNS = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}

// editSample replaces old by new, once, in a sample's file, writes it as an editor would and returns
// the new content; the test fails when old is not there (the sample changed under the test).
func (e *env) editSample(file, old, new string) string {
	t := e.t
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("%s no longer holds %q: update the test with the sample", file, old)
	}
	out := strings.Replace(string(src), old, new, 1)
	e.writeFile(file, out, 0o644)
	return out
}

// lineOf returns the 1-based number of the first line of text containing s.
func lineOf(text, s string) int {
	line, _ := position(text, s)
	return line
}

// errorsAt waits until `logs --errors -o json` holds an error item of type typ whose text has want
// and whose locations include local (a local file:line[:col]).
func (e *env) errorsAt(dir, ns, typ, want, local string) {
	e.t.Helper()
	e.eventually(60*time.Second, fmt.Sprintf("a %s error with %q at %s in logs --errors -o json", typ, want, local), func() error {
		out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
		if err != nil {
			return fmt.Errorf("logs -o json: %v\n%s", err, out)
		}
		var seen []string
		for _, it := range e.jsonItems(out) {
			if it.Kind != "error" || it.Type != typ || !strings.Contains(it.Text, want) {
				continue
			}
			for _, l := range it.Locations {
				if l.Local == local {
					return nil
				}
				seen = append(seen, l.Local)
			}
		}
		return fmt.Errorf("locations seen: %v\n%s", seen, out)
	})
}

// TestNodeApp: a .js edit of web-node restarts the process; a dependency added to package.json and
// required by the same edit is installed in the pod from the image's offline npm cache, then served;
// a dependency the cache lacks fails the install step with npm's error in `up` and in `logs --errors`,
// mapped to the package.json line that names it, while the old process keeps serving. All of it
// under the restricted Pod Security Standard.
func TestNodeApp(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(restrictedNS)
	e.applyExample(ns, "web-node", nil)
	dir := e.copyExamples()
	server, pkg := filepath.Join(dir, "web-node/src/server.js"), filepath.Join(dir, "web-node/src/package.json")
	up := e.upAndConnect(ns, "web-node", dir, 1)
	e.serves(ns, "web-node", "/", "hello from web-node v1", 1, 30*time.Second)

	e.editSample(server, "hello from web-node v1", "hello from web-node v2")
	e.serves(ns, "web-node", "/", "hello from web-node v2", 1, 60*time.Second)
	if strings.Contains(up.Output(), "npm install") {
		t.Errorf("a .js edit ran the install step:\n%s", up.Output())
	}

	e.editSample(pkg, `"ms": "2.1.3"`, `"escape-html": "1.0.3",
    "ms": "2.1.3"`)
	e.editSample(server, `const ms = require("ms");`, `const ms = require("ms");
const escapeHtml = require("escape-html");`)
	e.editSample(server, `const message = "hello from web-node v2";`, `const message = escapeHtml("hello from web-node <v3>");`)
	e.serves(ns, "web-node", "/", "hello from web-node &lt;v3&gt;", 1, 120*time.Second)
	up.waitOutput(`steps: "npm install --offline"`, 10*time.Second)

	broken := e.editSample(pkg, `"ms": "2.1.3"`, `"left-pad": "1.3.0",
    "ms": "2.1.3"`)
	up.waitOutput("FAILED", 90*time.Second)
	for _, want := range []string{"ENOTCACHED", "exit code 1"} {
		if !strings.Contains(up.Output(), want) {
			t.Errorf("%q missing from up's output:\n%s", want, up.Output())
		}
	}
	e.serves(ns, "web-node", "/", "hello from web-node &lt;v3&gt;", 1, 10*time.Second)
	local := fmt.Sprintf("web-node/src/package.json:%d", lineOf(broken, `"left-pad"`))
	e.errorsAt(dir, ns, "step", "ENOTCACHED", local)
}

// nodeCrashes adds GET /throw (an exception thrown from a timer: uncaught, the process dies) and GET
// /reject (a promise rejected with no handler: Node.js 15 and later end the process too) to web-node.
func (e *env) nodeCrashes(server string) string {
	return e.editSample(server, `  if (req.url === "/healthz") {`, `  if (req.url === "/throw") {
    setTimeout(() => { throw new Error("fastdev e2e: thrown"); });
  }
  if (req.url === "/reject") {
    setTimeout(() => { Promise.reject(new Error("fastdev e2e: rejected")); });
  }
  if (req.url === "/healthz") {`)
}

// TestNodeErrors: web-node's uncaught exception and unhandled rejection each end the process, are
// shown by `logs --errors` as Node.js errors mapped to the local server.js line, and the supervisor
// starts the app again.
func TestNodeErrors(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(restrictedNS)
	e.applyExample(ns, "web-node", nil)
	dir := e.copyExamples()
	server := filepath.Join(dir, "web-node/src/server.js")
	e.upAndConnect(ns, "web-node", dir, 1)
	edited := e.nodeCrashes(server)
	e.editSample(server, "hello from web-node v1", "hello from web-node v2")
	e.serves(ns, "web-node", "/", "hello from web-node v2", 1, 60*time.Second)

	follow := e.start(dir, "logs", "-n", ns, "--errors", "--no-color")
	time.Sleep(3 * time.Second) // the follower opens its streams
	pod := e.pods(ns, "web-node")[0].Name
	for _, c := range []struct{ path, msg, code string }{
		{"/throw", "Error: fastdev e2e: thrown", `throw new Error("fastdev e2e: thrown")`},
		{"/reject", "Error: fastdev e2e: rejected", `Promise.reject(new Error("fastdev e2e: rejected"))`},
	} {
		// the process may end before it answers: neither the answer nor an error tells anything
		_, _, _ = e.get(pod, ns, c.path)
		line, col := position(edited, c.code)
		if c.path == "/throw" {
			col += len("throw ") // V8 points at the Error's construction
		} else {
			col += len("Promise.reject(")
		}
		follow.waitOutput(c.msg, 60*time.Second)
		follow.waitOutput(fmt.Sprintf("→ web-node/src/server.js:%d:%d", line, col), 10*time.Second)
		e.errorsAt(dir, ns, "node", c.msg, fmt.Sprintf("web-node/src/server.js:%d", line))
		// the supervisor starts the app again in the same container
		e.serves(ns, "web-node", "/", "hello from web-node v2", 1, 60*time.Second)
	}
	if !strings.Contains(follow.Output(), "✖ Node.js error in web-node-") {
		t.Errorf("no Node.js error block in logs --errors:\n%s", follow.Output())
	}
}
