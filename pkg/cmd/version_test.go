package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    []string // lines of the text output, or nil for JSON
		wantErr string
	}{
		{args: []string{"version", "--client"}, want: []string{
			"Client Version: " + Version, "Commit: " + Commit, "Synclet Image: " + DefaultSyncletImage(),
			"Synclet Digest: none (a development build: the image is named by its tag; releases pin it)"}},
		{args: []string{"version", "--client", "-o", "json"}},
		{args: []string{"version", "-o", "yaml"}, wantErr: `--output "yaml"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			root := NewCmdRoot(streams)
			root.SetArgs(tc.args)
			err := root.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("output:\n%s\nwant:\n%s", out, strings.Join(tc.want, "\n"))
				}
				return
			}
			var v VersionInfo
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("-o json printed %q: %v", out, err)
			}
			want := VersionInfo{ClientVersion: Version, Commit: Commit, SyncletImage: DefaultSyncletImage()}
			if v != want {
				t.Errorf("-o json: %+v, want %+v (--client asks no server)", v, want)
			}
		})
	}
}

func TestVersionUnreachableServer(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	root := NewCmdRoot(streams)
	// nothing listens on port 1: the command still succeeds and says why the server version is missing
	root.SetArgs([]string{"version", "--server", "https://127.0.0.1:1", "-o", "json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var v VersionInfo
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("-o json printed %q: %v", out, err)
	}
	if v.ClientVersion != Version || v.ServerVersion != "" || v.ServerError == "" {
		t.Errorf("got %+v, want the client version and a server error", v)
	}
}

// TestPinnedSyncletImage: a build stamped with the synclet image's digest (a release) injects the
// image by digest and `version` prints it; --synclet-image still replaces the whole reference.
func TestPinnedSyncletImage(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	SyncletDigest = d
	defer func() { SyncletDigest = "" }()
	want := "kubectl-fastdev/synclet:" + imageTag() + "@" + d
	if got := DefaultSyncletImage(); got != want {
		t.Errorf("DefaultSyncletImage() = %q, want %q", got, want)
	}
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	root := NewCmdRoot(streams)
	root.SetArgs([]string{"version", "--client"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Synclet Image: "+want+"\n") || !strings.Contains(out.String(), "Synclet Digest: "+d+"\n") {
		t.Errorf("version:\n%s", out)
	}
	o := NewUpOptions(nil, streams)
	cmd := NewCmdUp(nil, streams)
	if err := cmd.Flags().Parse([]string{"--synclet-image", "registry.example/synclet@sha256:" + strings.Repeat("cd", 32)}); err != nil {
		t.Fatal(err)
	}
	if o.SyncletImage != want {
		t.Errorf("a new up's default image %q, want %q", o.SyncletImage, want)
	}
	if got, _ := cmd.Flags().GetString("synclet-image"); !strings.HasPrefix(got, "registry.example/") {
		t.Errorf("--synclet-image gives %q", got)
	}
}
