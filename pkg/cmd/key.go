package cmd

import (
	"fmt"
	"os"
	"os/user"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
)

// devKey returns this machine's key for the synclets (pkg/auth), made on first use in the user's
// config directory. Only its public half is ever written to the cluster.
func devKey() (*auth.Key, error) {
	dir, err := auth.DefaultDir()
	if err != nil {
		return nil, err
	}
	k, err := auth.LoadOrCreate(dir, holder())
	if err != nil {
		return nil, fmt.Errorf("the key that proves this machine to the synclets: %w", err)
	}
	return k, nil
}

// holder names a new key's owner (user@host) in the authorized keys, so `kubectl get -o yaml` shows
// whose machines may reach the synclets.
func holder() string {
	name := "developer"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}
