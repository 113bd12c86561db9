package logs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// TestInstallStepFixtures: the real output of a failed `npm install --offline` and `pip install
// --no-index`, as the synclet logs it, gives a failed step whose missing package points at the line
// of the local package.json or requirements.txt that names it.
func TestInstallStepFixtures(t *testing.T) {
	local := map[string]string{
		filepath.Join("svc", "src", "package.json"):     filepath.Join("testdata", "capture", "package.json"),
		filepath.Join("svc", "src", "requirements.txt"): filepath.Join("testdata", "capture", "requirements.txt"),
	}
	m := &Mapper{Dir: "svc", Sync: []rules.Sync{{From: "src", To: "/app/src"}}, Workdir: "/app/src",
		ReadFile: func(p string) ([]byte, error) {
			if f, ok := local[p]; ok {
				return os.ReadFile(f)
			}
			return nil, os.ErrNotExist
		}}
	for _, name := range []string{"npm-step", "pip-step"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name+".log"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, detectAll(string(raw), m))
		})
	}
}

func TestPackageLine(t *testing.T) {
	for _, c := range []struct {
		line, cmd, manifest, name string
	}{
		{"npm error request to https://registry.npmjs.org/left-pad failed: cache mode is 'only-if-cached' but no cached response is available.", "npm install --offline", "package.json", "left-pad"},
		{"npm error request to https://registry.npmjs.org/@types%2fnode failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org", "npm ci", "package.json", "@types/node"},
		{"npm error 404 Not Found - GET https://registry.npmjs.org/left-padd - Not found", "npm install", "package.json", "left-padd"},
		{"npm error notarget No matching version found for ms@^9.0.0.", "npm install", "package.json", "ms"},
		{"npm ERR! notarget No matching version found for @scope/pkg@1.2.3.", "npm install", "package.json", "@scope/pkg"},
		{"ERROR: No matching distribution found for left-pad==1.0", "pip install --no-index -r requirements.txt", "requirements.txt", "left-pad"},
		{"ERROR: Could not find a version that satisfies the requirement Left_Pad>=2 (from versions: none)", "pip install -r dev.txt", "dev.txt", "Left_Pad"},
		{"ERROR: No matching distribution found for six", "pip install --requirement=req/base.txt", "req/base.txt", "six"},
		{"npm error code ENOTCACHED", "npm install", "", ""},
		{"Requirement already satisfied: idna==3.3 in /app/venv (from -r requirements.txt (line 2)) (3.3)", "pip install -r requirements.txt", "", ""},
	} {
		manifest, name, _ := packageLine(c.line, c.cmd)
		if manifest != c.manifest || name != c.name {
			t.Errorf("packageLine(%q, %q) = %q, %q; want %q, %q", c.line, c.cmd, manifest, name, c.manifest, c.name)
		}
	}
}

func TestManifestLines(t *testing.T) {
	pkg := []byte("{\n  \"dependencies\": {\n    \"left-pad-x\": \"1\",\n    \"left-pad\" : \"1.3.0\"\n  }\n}\n")
	if n := npmLine(pkg, "left-pad"); n != 4 {
		t.Errorf("npmLine = %d, want 4 (not the longer name on line 3)", n)
	}
	if n := npmLine(pkg, "ms"); n != 0 {
		t.Errorf("npmLine of a name not there = %d, want 0", n)
	}
	reqs := []byte("# deps\nidna==3.3\nleft_pad.x==1\nLeft.Pad >= 1.0 ; python_version > '3'\n")
	if n := pipLine(reqs, "left-pad"); n != 4 {
		t.Errorf("pipLine = %d, want 4 (names compare as pip normalises them)", n)
	}
	if n := pipLine(reqs, "six"); n != 0 {
		t.Errorf("pipLine of a name not there = %d, want 0", n)
	}
}

// TestMapPackagesNeedsTheLocalFile: without ReadFile, or when the local manifest lost the package,
// a failed install gets no location.
func TestMapPackagesNeedsTheLocalFile(t *testing.T) {
	text := "step failed: npm install --offline (exit code 1)\nnpm error request to https://registry.npmjs.org/left-pad failed: cache mode is 'only-if-cached'"
	sync := []rules.Sync{{From: "src", To: "/app/src"}}
	for name, read := range map[string]func(string) ([]byte, error){
		"no ReadFile":     nil,
		"package removed": func(string) ([]byte, error) { return []byte(`{"dependencies": {"ms": "2.1.3"}}`), nil },
		"file missing":    func(string) ([]byte, error) { return nil, os.ErrNotExist },
	} {
		it := Item{Kind: KindError, Type: TypeStep, Text: text}
		(&Mapper{Dir: "svc", Sync: sync, Workdir: "/app/src", ReadFile: read}).Map(&it)
		if len(it.Locations) != 0 {
			t.Errorf("%s: locations %+v", name, it.Locations)
		}
	}
	it := Item{Kind: KindError, Type: TypeStep, Text: text}
	read := func(string) ([]byte, error) { return []byte("{\n \"left-pad\": \"1\"\n}"), nil }
	(&Mapper{Dir: "svc", Sync: sync, Workdir: "/app/src", ReadFile: read}).Map(&it)
	if len(it.Locations) != 1 || it.Locations[0].Local != filepath.Join("svc", "src", "package.json")+":2" || it.Locations[0].Line != 1 {
		t.Errorf("locations %+v", it.Locations)
	}
}
