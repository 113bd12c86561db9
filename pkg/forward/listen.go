package forward

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultAddress is where forwards listen unless --address says otherwise: loopback only, as
// `kubectl port-forward` does, so the app is not exposed to the network by accident.
const DefaultAddress = "127.0.0.1"

// autoTries is how many ports above a declared one are tried before giving up on it.
const autoTries = 100

// ListenFunc opens a listener; net.Listen in `up`, a fake in tests.
type ListenFunc func(network, address string) (net.Listener, error)

// Listener is one open forward: the same local port on every address, for one Deployment's port.
type Listener struct {
	Spec
	// Port is the local port actually listened on: Spec.Local, or the next free one for an Auto spec.
	Port int
	// Note says why Port is not the port asked for ("" when it is).
	Note string

	hosts []string // the addresses listened on
	ls    []net.Listener
}

// URL is where the developer opens the forward, e.g. http://127.0.0.1:18080. An address that
// listens everywhere (0.0.0.0, ::) is shown as localhost.
func (l *Listener) URL() string {
	host := l.hosts[0]
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(l.Port))
}

// Close closes the forward's listeners.
func (l *Listener) Close() {
	for _, s := range l.ls {
		// a listener that fails to close has nothing left to release: there is nothing to do about it
		_ = s.Close()
	}
}

// Set is every forward of one `up` session.
type Set struct {
	Listeners []*Listener
}

// Close closes every listener of the set.
func (s *Set) Close() {
	for _, l := range s.Listeners {
		l.Close()
	}
}

// address is one --address value resolved: localhost is 127.0.0.1 and, where the machine has it,
// ::1 (optional), as in `kubectl port-forward`.
type address struct {
	host     string
	optional bool
}

func addresses(list []string) ([]address, error) {
	var out []address
	for _, a := range list {
		a = strings.TrimSpace(a)
		switch {
		case a == "localhost":
			out = append(out, address{host: "127.0.0.1"}, address{host: "::1", optional: true})
		case net.ParseIP(a) != nil:
			out = append(out, address{host: a})
		default:
			return nil, fmt.Errorf("--address %q: want an IP address such as 127.0.0.1 or 0.0.0.0, or localhost", a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--address is empty: give an IP address such as 127.0.0.1")
	}
	return out, nil
}

// CheckAddresses checks --address values without listening.
func CheckAddresses(list []string) error {
	_, err := addresses(list)
	return err
}

// Open listens for every spec on every address: the forwards asked for first (a port not free is an
// error naming the spec), then the declared ports (Auto), each on its own port when free, else on the
// next free one above it. On an error nothing stays open.
func Open(specs []Spec, addrList []string, listen ListenFunc) (*Set, error) {
	if err := Check(specs); err != nil {
		return nil, err
	}
	addrs, err := addresses(addrList)
	if err != nil {
		return nil, err
	}
	set := &Set{}
	for _, auto := range []bool{false, true} {
		for _, s := range specs {
			if s.Auto != auto {
				continue
			}
			l, err := openOne(s, addrs, listen)
			if err != nil {
				set.Close()
				return nil, err
			}
			set.Listeners = append(set.Listeners, l)
		}
	}
	return set, nil
}

// openOne listens for one spec, moving an Auto spec up to the next free port.
func openOne(s Spec, addrs []address, listen ListenFunc) (*Listener, error) {
	tries := 1
	if s.Auto {
		tries = autoTries
	}
	var firstErr error
	for port := s.Local; port < s.Local+tries && port <= 65535; port++ {
		l, err := listenAll(s, port, addrs, listen)
		if err == nil {
			if port != s.Local {
				l.Note = fmt.Sprintf("%s: local port %d is not free (%v): forwarding %s -> port %d instead",
					s.Deployment, s.Local, firstErr, l.URL(), s.Remote)
			}
			return l, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if s.Auto {
		return nil, fmt.Errorf("deployment %q: no free local port in %d-%d for %s (%v): forward it with --forward %s=LOCAL:%d, or turn the forwards off with --no-forward",
			s.Deployment, s.Local, s.Local+tries-1, s.From, firstErr, s.Deployment, s.Remote)
	}
	return nil, fmt.Errorf("deployment %q: local port %d (%s) is not free: %v; stop what listens there or pick another local port",
		s.Deployment, s.Local, s.From, firstErr)
}

// listenAll listens on port on every address, or on none.
func listenAll(s Spec, port int, addrs []address, listen ListenFunc) (*Listener, error) {
	l := &Listener{Spec: s, Port: port}
	for _, a := range addrs {
		ln, err := listen("tcp", net.JoinHostPort(a.host, strconv.Itoa(port)))
		if err != nil {
			if a.optional {
				continue
			}
			l.Close()
			return nil, err
		}
		l.ls = append(l.ls, ln)
		l.hosts = append(l.hosts, a.host)
	}
	if len(l.ls) == 0 {
		return nil, fmt.Errorf("no address of --address could be listened on for port %d", port)
	}
	return l, nil
}
