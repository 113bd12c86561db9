package protocol

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// PathRun runs one command in the app container through the supervisor (`kubectl fastdev run`). The
// request body is one line of JSON (a CommandRequest), then, when Stdin is set, the command's standard
// input until the body ends; the reply streams EventStdout and EventStderr events and ends with a
// result whose ExitCode is the command's. Added without a new Version: older CLIs never ask for it,
// and a synclet older than it answers 404, which the CLI explains.
const PathRun = "/v1/run"

// RunPathFor is where a run request for app container name goes: PathRun for the first ("" names it),
// PathRun/NAME for another of a pod whose rules list several (`kubectl fastdev run -c NAME`). The
// container is in the path, not the request, so a synclet older than it answers 404 instead of
// running the command in the first container.
func RunPathFor(name string) string {
	if name == "" {
		return PathRun
	}
	return PathRun + "/" + name
}

// Event types of a run's reply: a chunk of the command's standard output or standard error, in Data.
const (
	EventStdout = "stdout"
	EventStderr = "stderr"
)

// CommandRequest is the first line of a PathRun request.
type CommandRequest struct {
	Argv []string `json:"argv"`
	// Stdin says the rest of the request body is the command's standard input; without it the command
	// reads from an empty input (/dev/null).
	Stdin bool `json:"stdin,omitempty"`
}

// maxCommandRequest bounds the first line of a run request: argv of any command line a shell accepts.
const maxCommandRequest = 1 << 20

// Validate checks that the request names a program.
func (r CommandRequest) Validate() error {
	if len(r.Argv) == 0 || r.Argv[0] == "" {
		return errors.New("run request without a command")
	}
	return nil
}

// Display is the command as one line for messages and logs.
func (r CommandRequest) Display() string {
	b, err := json.Marshal(r.Argv)
	if err != nil { // []string always encodes
		return fmt.Sprint(r.Argv)
	}
	return string(b)
}

// WriteCommandRequest writes r as the first line of a run request.
func WriteCommandRequest(w io.Writer, r CommandRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding the run request: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadCommandRequest reads and checks the first line of a run request from br, leaving br at the
// start of the command's standard input.
func ReadCommandRequest(br *bufio.Reader) (CommandRequest, error) {
	var r CommandRequest
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxCommandRequest {
			return r, fmt.Errorf("run request line over %d bytes", maxCommandRequest)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("reading the run request: %w", err)
		}
		break
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("decoding the run request: %w", err)
	}
	return r, r.Validate()
}
