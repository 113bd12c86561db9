package protocol

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCommandRequestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	want := CommandRequest{Argv: []string{"sh", "-c", "echo 'a\nb'"}, Stdin: true}
	if err := WriteCommandRequest(&b, want); err != nil {
		t.Fatal(err)
	}
	b.WriteString("the command's input\n")
	br := bufio.NewReader(&b)
	got, err := ReadCommandRequest(br)
	if err != nil || got.Stdin != want.Stdin || strings.Join(got.Argv, "|") != strings.Join(want.Argv, "|") {
		t.Fatalf("got %+v %v", got, err)
	}
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "the command's input\n" {
		t.Errorf("the input after the request: %q %v", rest, err)
	}
}

func TestReadCommandRequestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, errWith string
	}{
		{"empty", "", "reading the run request"},
		{"no newline", `{"argv":["true"]}`, "reading the run request"},
		{"not JSON", "argv: true\n", "decoding the run request"},
		{"no command", `{"argv":[]}` + "\n", "without a command"},
		{"empty program", `{"argv":[""]}` + "\n", "without a command"},
		{"too long", `{"argv":["` + strings.Repeat("x", maxCommandRequest) + `"]}` + "\n", "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCommandRequest(bufio.NewReader(strings.NewReader(tc.body)))
			if err == nil || !strings.Contains(err.Error(), tc.errWith) {
				t.Errorf("got %v, want an error with %q", err, tc.errWith)
			}
		})
	}
}
