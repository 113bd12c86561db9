package devloop

import (
	"context"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// updater is what a pod worker needs of its pod's synclet: what the pod holds, one planned update (its
// metadata and entries, the reply's events streamed back; it returns the result and the entries as
// sent) and a liveness check. The HTTP client of pkg/syncletclient is the one `up` uses; tests record
// the updates a worker sends with a fake.
type updater interface {
	Manifest(ctx context.Context) (*protocol.Manifest, error)
	Update(ctx context.Context, meta protocol.UpdateMeta, puts []archive.Put, onEvent func(protocol.Event)) (*protocol.Event, []archive.Put, error)
	Health(ctx context.Context, timeout time.Duration) error
}

var _ updater = (*syncletclient.Client)(nil)
