package devloop

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// maxSecretsListed bounds the warning to one readable line.
const maxSecretsListed = 5

// looksSecret reports whether a synced path is named like a credential: .env files, keys and
// certificates, ssh keys, kubeconfigs. Sending one is allowed, but never by surprise.
func looksSecret(rel string) bool {
	name := path.Base(rel)
	switch {
	case strings.HasPrefix(name, ".env"), strings.HasPrefix(name, "id_"),
		strings.HasSuffix(name, ".pem"), strings.HasSuffix(name, ".key"),
		strings.HasPrefix(name, "kubeconfig"), strings.HasSuffix(name, ".kubeconfig"):
		return true
	}
	return name == "config" && path.Base(path.Dir(rel)) == ".kube"
}

// secretsWarning is the one line `up` prints after the first scan when the files it is about to sync
// include some named like secrets (entries of roots, one manifest per sync root, under the local
// directories dirs); "" when there are none.
func secretsWarning(name string, dirs []string, roots []tree.Manifest) string {
	var found []string
	for i, m := range roots {
		for p, e := range m {
			if e.Kind == tree.File && looksSecret(p) {
				found = append(found, path.Join(dirs[i], p))
			}
		}
	}
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	more := ""
	if len(found) > maxSecretsListed {
		more = fmt.Sprintf(" and %d more", len(found)-maxSecretsListed)
		found = found[:maxSecretsListed]
	}
	return fmt.Sprintf("%s: syncing files that look like secrets into the pods: %s%s; add them to the rules' ignore (or a .gitignore) to keep them on this machine",
		name, strings.Join(found, ", "), more)
}

// secrets returns the first scan's warning about files named like secrets ("" when none).
func (l *local) secrets(name string) string {
	dirs := make([]string, len(l.roots))
	manifests := make([]tree.Manifest, len(l.roots))
	for i, r := range l.roots {
		r.mu.RLock()
		defer r.mu.RUnlock()
		dirs[i], manifests[i] = l.rules.Sync[i].From, r.manifest
	}
	return secretsWarning(name, dirs, manifests)
}
