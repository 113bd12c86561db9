package logs

import (
	"regexp"
	"strings"
)

var reLogPrefix = regexp.MustCompile(`^\d{4}[/-]\d\d[/-]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+`)

// Go: the runtime's panic and fatal error output, a goroutine dump (SIGQUIT or debug.Stack), and
// net/http's "http: panic serving" (a recovered handler panic, logged with its stack).
var (
	reGoStart     = regexp.MustCompile(`^(panic: |fatal error: |SIG[A-Z]+: |http: panic serving )`)
	reGoroutine   = regexp.MustCompile(`^goroutine \d+ .*\[.*\]:$`)
	reGoFunc      = regexp.MustCompile(`^[A-Za-z_][^ \t]*\(.*\)$`)
	reGoRegister  = regexp.MustCompile(`^[a-z0-9]+\s+0x[0-9a-f]+$`)
	reGoExit      = regexp.MustCompile(`^exit status \d+$`)
	reGoBuildErr  = regexp.MustCompile(`^\S+\.go:\d+:\d+: `)
	reGoBuildHead = regexp.MustCompile(`^# [\w./@~+-]+$`)
)

// goMaxMessage bounds the lines of a panic's message before its first goroutine.
const goMaxMessage = 20

type goPanic struct {
	t       string
	frames  bool // a goroutine header was seen
	pending int  // lines held since the last one taken
}

func startGo(text string) parser {
	s := stripLogPrefix(text)
	switch {
	case reGoStart.MatchString(s):
		return &goPanic{t: TypeGoPanic}
	case reGoroutine.MatchString(s):
		return &goPanic{t: TypeGoStack, frames: true}
	}
	return nil
}

func (p *goPanic) next(s string) verdict {
	switch {
	case reGoroutine.MatchString(s):
		p.frames = true
	case blank(s):
		return p.hold()
	case strings.HasPrefix(s, "\t"), strings.HasPrefix(s, "[signal "), strings.HasPrefix(s, "created by "),
		strings.HasPrefix(s, "PC=0x"),
		s == "...additional frames elided...":
	case reGoExit.MatchString(s):
		p.pending = 0
		return last
	case p.frames && (reGoFunc.MatchString(s) || reGoRegister.MatchString(s)):
	case !p.frames:
		return p.hold() // the panic's message may span lines before the goroutines
	default:
		return stop
	}
	p.pending = 0
	return take
}

func (p *goPanic) hold() verdict {
	if p.pending++; p.pending > goMaxMessage {
		return stop
	}
	return hold
}

// waiting reports a panic whose goroutines have not come yet (see Detector.Quiet).
func (p *goPanic) waiting() bool { return !p.frames }

func (p *goPanic) confirmed() bool { return true }
func (p *goPanic) typ() string     { return p.t }

// goBuild is the go command's compiler output: "# package" headers and file:line:col: errors.
type goBuild struct{ seen bool }

func startGoBuild(text string) parser {
	switch {
	case reGoBuildErr.MatchString(text):
		return &goBuild{seen: true}
	case reGoBuildHead.MatchString(text):
		return &goBuild{}
	}
	return nil
}

func (p *goBuild) next(s string) verdict {
	switch {
	case reGoBuildErr.MatchString(s):
		p.seen = true
		return take
	case p.seen && (strings.HasPrefix(s, "\t") || reGoBuildHead.MatchString(s) || s == "too many errors"):
		return take
	}
	return stop
}

func (p *goBuild) confirmed() bool { return p.seen }
func (p *goBuild) typ() string     { return TypeGoBuild }

// Python: a traceback with its chained exceptions, or a bare SyntaxError report. socketserver (so
// http.server) introduces a handler's traceback with the request's client, which the block keeps.
var (
	rePyFileHead  = regexp.MustCompile(`^  File ".+", line \d+$`)
	rePyException = regexp.MustCompile(`^[A-Za-z_][\w.]*(: .*)?$`)
)

const (
	pyTraceback = "Traceback (most recent call last):"
	pyRequest   = "Exception occurred during processing of request from "
)

type python struct {
	state int // pyFrames, pyAfter (the exception line was seen), pyChain (a chaining sentence was seen)
	done  bool
}

const (
	pyFrames = iota
	pyAfter
	pyChain
	pyIntro // after socketserver's "Exception occurred during processing of request from": a traceback follows
)

func startPython(text string) parser {
	s := stripLogPrefix(text)
	if strings.HasPrefix(s, pyRequest) {
		return &python{state: pyIntro}
	}
	if strings.HasSuffix(s, pyTraceback) || rePyFileHead.MatchString(s) {
		return &python{}
	}
	return nil
}

func (p *python) next(s string) verdict {
	if blank(s) {
		return hold
	}
	switch p.state {
	case pyIntro:
		if strings.HasSuffix(s, pyTraceback) {
			p.state = pyFrames
			return take
		}
	case pyFrames:
		if indented(s) {
			return take
		}
		if rePyException.MatchString(s) {
			p.state, p.done = pyAfter, true
			return take
		}
	case pyAfter:
		if s == "During handling of the above exception, another exception occurred:" ||
			s == "The above exception was the direct cause of the following exception:" {
			p.state = pyChain
			return take
		}
	case pyChain:
		if strings.HasSuffix(s, pyTraceback) {
			p.state = pyFrames
			return take
		}
	}
	return stop
}

func (p *python) confirmed() bool { return p.done }
func (p *python) typ() string     { return TypePython }

// Java and Node.js share a shape: an "Error: message" line followed by "at ..." frames. An uncaught
// Node.js error starts with the throwing source line ("file:line", the line, a caret) instead.
var (
	reJavaThread  = regexp.MustCompile(`^Exception in thread "[^"]*" `)
	reExcLine     = regexp.MustCompile(`^(Uncaught )?([A-Za-z_$][\w$]*\.)*[\w$]*(Exception|Error|Throwable)( \[\w+\])?(: .*)?$`)
	reNodeHead    = regexp.MustCompile(`^(/|file://|node:)\S*:\d+$`)
	reCaret       = regexp.MustCompile(`^\s*\^+\s*$`)
	reAtFrame     = regexp.MustCompile(`^\s+at \S`)
	reJavaFrame   = regexp.MustCompile(`(^\tat )|\.(java|kt|scala|groovy|clj):\d+\)$|\((Native Method|Unknown Source)\)$`)
	reJavaMore    = regexp.MustCompile(`^\s+\.\.\. \d+ (more|common frames omitted)$`)
	reNodeVersion = regexp.MustCompile(`^Node\.js v\d+`)
)

// stackMaxMessage bounds the lines of an exception's message before its first frame.
const stackMaxMessage = 5

type stack struct {
	lang    string // TypeJava, TypeNode or "" until a frame tells
	state   int
	strong  bool // "Exception in thread": an error even without frames (OutOfMemoryError often has none)
	caret   bool // an uncaught Node.js error's source line and caret were seen
	frames  bool
	pending int
	head    int // lines after a Node.js "file:line" header
}

const (
	stHead  = iota // after a Node.js "file:line" header, until the caret
	stCaret        // after the caret, until the error line
	stBody         // the error line, its message and frames
)

func startStack(text string) parser {
	s := stripLogPrefix(text)
	switch {
	case reJavaThread.MatchString(s):
		return &stack{lang: TypeJava, state: stBody, strong: true}
	case reExcLine.MatchString(s):
		return &stack{state: stBody}
	case reNodeHead.MatchString(text):
		return &stack{lang: TypeNode, state: stHead}
	}
	return nil
}

func (p *stack) next(s string) verdict {
	switch p.state {
	case stHead:
		if reCaret.MatchString(s) {
			p.state, p.caret = stCaret, true
			return take
		}
		if p.head++; p.head > 1 {
			return stop
		}
		return take
	case stCaret:
		if blank(s) {
			return hold
		}
		p.state = stBody
		return take
	}
	switch {
	case reAtFrame.MatchString(s):
		if p.lang == "" {
			p.lang = TypeNode
			if reJavaFrame.MatchString(s) {
				p.lang = TypeJava
			}
		}
		p.frames = true
	case !p.frames:
		if p.pending++; p.pending > stackMaxMessage || blank(s) {
			return stop
		}
		return hold
	case reJavaMore.MatchString(s), strings.HasPrefix(s, "Caused by: "), strings.HasPrefix(strings.TrimSpace(s), "Suppressed: "):
	case p.lang == TypeNode && reNodeVersion.MatchString(s):
		return last
	case p.lang == TypeNode && blank(s):
		return hold // before "Node.js vX" of an uncaught error
	case p.lang == TypeNode && (indented(s) || strings.TrimSpace(s) == "}"):
		// the error's own properties and its [cause], printed after the frames
	default:
		return stop
	}
	p.pending = 0
	return take
}

func (p *stack) confirmed() bool { return p.frames || p.caret || p.strong }

func (p *stack) typ() string {
	if p.lang == "" {
		return TypeNode
	}
	return p.lang
}
