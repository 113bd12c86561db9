package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPythonApp: a .py edit of web-python restarts the process; a requirement added to
// requirements.txt and imported by the same edit is installed in the pod's venv from the image's
// wheels (pip --no-index), then served; a requirement no wheel provides fails the install step with
// pip's error in `up` and in `logs --errors`, mapped to the requirements.txt line that names it,
// while the old process keeps serving. All of it under the restricted Pod Security Standard.
func TestPythonApp(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(restrictedNS)
	e.applyExample(ns, "web-python", nil)
	dir := e.copyExamples()
	server, reqs := filepath.Join(dir, "web-python/src/server.py"), filepath.Join(dir, "web-python/src/requirements.txt")
	up := e.upAndConnect(ns, "web-python", dir, 1)
	e.serves(ns, "web-python", "/", "hello from web-python v1", 1, 30*time.Second)
	e.serves(ns, "web-python", "/idna?host=b%C3%BCcher.example", "xn--bcher-kva.example", 1, 10*time.Second)

	e.editSample(server, "hello from web-python v1", "hello from web-python v2")
	e.serves(ns, "web-python", "/", "hello from web-python v2", 1, 60*time.Second)
	if strings.Contains(up.Output(), "pip install") {
		t.Errorf("a .py edit ran the install step:\n%s", up.Output())
	}

	e.editSample(reqs, "idna==3.3\n", "idna==3.3\nsix==1.16.0\n")
	e.editSample(server, "import idna\n", "import idna\nimport six\n")
	e.editSample(server, `MESSAGE = "hello from web-python v2"`, `MESSAGE = "hello from web-python v3 with six " + six.__version__`)
	e.serves(ns, "web-python", "/", "hello from web-python v3 with six 1.16.0", 1, 120*time.Second)
	up.waitOutput(`steps: "pip install --no-index --find-links /app/wheels -r requirements.txt"`, 10*time.Second)

	broken := e.editSample(reqs, "six==1.16.0\n", "six==1.16.0\nleft-pad==1.0\n")
	up.waitOutput("FAILED", 90*time.Second)
	for _, want := range []string{"No matching distribution found for left-pad", "exit code 1"} {
		if !strings.Contains(up.Output(), want) {
			t.Errorf("%q missing from up's output:\n%s", want, up.Output())
		}
	}
	e.serves(ns, "web-python", "/", "hello from web-python v3 with six 1.16.0", 1, 10*time.Second)
	e.errorsAt(dir, ns, "step", "No matching distribution found for left-pad",
		fmt.Sprintf("web-python/src/requirements.txt:%d", lineOf(broken, "left-pad")))
}

// TestPythonErrors: a request handler of web-python that raises prints a traceback (http.server
// catches it and keeps serving), shown by `logs --errors` as a Python traceback mapped to the local
// server.py line; an edit that breaks the module ends the process at start with a traceback mapped
// the same way, and the supervisor keeps starting it until the fix lands.
func TestPythonErrors(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(restrictedNS)
	e.applyExample(ns, "web-python", nil)
	dir := e.copyExamples()
	server := filepath.Join(dir, "web-python/src/server.py")
	e.upAndConnect(ns, "web-python", dir, 1)
	edited := e.editSample(server, `        if url.path == "/healthz":`, `        if url.path == "/raise":
            raise ValueError("fastdev e2e: raised")
        if url.path == "/healthz":`)
	edited = strings.Replace(edited, "hello from web-python v1", "hello from web-python v2", 1)
	e.writeFile(server, edited, 0o644)
	e.serves(ns, "web-python", "/", "hello from web-python v2", 1, 60*time.Second)

	follow := e.start(dir, "logs", "-n", ns, "--errors", "--no-color")
	time.Sleep(3 * time.Second) // the follower opens its streams
	pod := e.pods(ns, "web-python")[0].Name
	_, _, _ = e.get(pod, ns, "/raise") // the connection is closed without an answer
	local := fmt.Sprintf("web-python/src/server.py:%d", lineOf(edited, `raise ValueError("fastdev e2e: raised")`))
	follow.waitOutput("ValueError: fastdev e2e: raised", 60*time.Second)
	follow.waitOutput("→ "+local, 10*time.Second)
	e.errorsAt(dir, ns, "python", "ValueError: fastdev e2e: raised", local)
	e.serves(ns, "web-python", "/", "hello from web-python v2", 1, 10*time.Second)

	// a NameError at import: the process ends at every start until the next edit fixes it
	crashing := e.editSample(server, "\n\nclass Handler", "\n\nundefined_name_at_import\n\n\nclass Handler")
	local = fmt.Sprintf("web-python/src/server.py:%d", lineOf(crashing, "undefined_name_at_import"))
	follow.waitOutput("NameError: name 'undefined_name_at_import' is not defined", 90*time.Second)
	follow.waitOutput("→ "+local, 10*time.Second)
	e.writeFile(server, edited, 0o644)
	e.serves(ns, "web-python", "/", "hello from web-python v2", 1, 90*time.Second)
	if !strings.Contains(follow.Output(), "✖ Python traceback in web-python-") {
		t.Errorf("no Python traceback block in logs --errors:\n%s", follow.Output())
	}
}
