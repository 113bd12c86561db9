package logs

import "testing"

// TestPythonRequestIntro: socketserver's line before a handler's traceback joins the block; without
// a traceback after it, it stays a plain line.
func TestPythonRequestIntro(t *testing.T) {
	intro := "Exception occurred during processing of request from ('10.0.0.1', 4242)"
	d := NewDetector()
	var items []Item
	for _, l := range []string{intro, "Traceback (most recent call last):", `  File "/app/src/server.py", line 3, in do_GET`, "    boom()", "NameError: name 'boom' is not defined", "---"} {
		items = append(items, d.Feed(Line{Text: l})...)
	}
	items = append(items, d.Flush()...)
	if len(items) != 2 || items[0].Type != TypePython || items[0].Text[:len(intro)] != intro || items[1].Text != "---" {
		t.Fatalf("items %+v", items)
	}
	d = NewDetector()
	items = nil
	for _, l := range []string{intro, "something else"} {
		items = append(items, d.Feed(Line{Text: l})...)
	}
	items = append(items, d.Flush()...)
	if len(items) != 2 || items[0].Kind != KindLog || items[0].Text != intro || items[1].Text != "something else" {
		t.Fatalf("items %+v", items)
	}
}
