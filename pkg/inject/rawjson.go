package inject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// obj is a JSON object as decoded from the API server's bytes: every field kept, also those this
// client's k8s.io/api types do not know, which is what lets injection and restore leave them alone.
type obj = map[string]any

// op is one JSON patch (RFC 6902) operation.
type op struct {
	Op    string
	Path  string
	Value any
}

// MarshalJSON writes the value of add, replace and test even when it is false, 0, "" or empty, and
// no value for remove.
func (o op) MarshalJSON() ([]byte, error) {
	if o.Op == "remove" {
		return json.Marshal(struct {
			Op   string `json:"op"`
			Path string `json:"path"`
		}{o.Op, o.Path})
	}
	return json.Marshal(struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}{o.Op, o.Path, o.Value})
}

// pointer escapes a key for a JSON pointer.
func pointer(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// decode reads JSON keeping numbers as written (json.Number), so a value passes through unchanged.
func decode(raw []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(into)
}

// generic turns a typed value into its JSON form (an obj, a []any, ...).
func generic(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, decode(b, &out)
}

// child returns o[key] as an object, creating it when absent. A value of another type is an error:
// the API server never sends one where Kubernetes has an object.
func child(o obj, key string) (obj, error) {
	switch v := o[key].(type) {
	case obj:
		return v, nil
	case nil:
		c := obj{}
		o[key] = c
		return c, nil
	}
	return nil, fmt.Errorf("%q is not an object", key)
}

// items returns o[key] as a list of objects (nil when absent).
func items(o obj, key string) ([]obj, error) {
	v, ok := o[key].([]any)
	if !ok && o[key] != nil {
		return nil, fmt.Errorf("%q is not a list", key)
	}
	out := make([]obj, 0, len(v))
	for i, it := range v {
		m, ok := it.(obj)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is not an object", key, i)
		}
		out = append(out, m)
	}
	return out, nil
}

// setList stores list under key, or removes the key when the list is empty (as the API server omits it).
func setList[T any](o obj, key string, list []T) {
	if len(list) == 0 {
		delete(o, key)
		return
	}
	v := make([]any, len(list))
	for i, it := range list {
		v[i] = it
	}
	o[key] = v
}

// strs reads a list of strings (nil when absent or of another shape).
func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, s := range l {
		str, ok := s.(string)
		if !ok {
			return nil
		}
		out = append(out, str)
	}
	return out
}

// clone deep-copies a decoded JSON value.
func clone(v any) any {
	switch t := v.(type) {
	case obj:
		c := make(obj, len(t))
		for k, e := range t {
			c[k] = clone(e)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = clone(e)
		}
		return c
	}
	return v
}

// diff returns the JSON patch operations that turn cur into want at path, touching only what
// differs: equal fields (known to this client's types or not) get no operation. A null field counts
// as absent (the typed form writes creationTimestamp: null, the server may omit it). Lists of objects
// are compared item by item, then extended or cut at the end, which is how injection changes them;
// a list of scalars (a command) is replaced whole.
func diff(path string, cur, want any) []op {
	switch w := want.(type) {
	case obj:
		c, ok := cur.(obj)
		if !ok {
			return []op{{Op: "replace", Path: path, Value: want}}
		}
		var ops []op
		for _, k := range sortedKeys(c) {
			if _, keep := w[k]; (!keep || w[k] == nil) && c[k] != nil {
				ops = append(ops, op{Op: "remove", Path: path + "/" + pointer(k)})
			}
		}
		for _, k := range sortedKeys(w) {
			switch {
			case w[k] == nil:
			case c[k] == nil:
				ops = append(ops, op{Op: "add", Path: path + "/" + pointer(k), Value: w[k]})
			default:
				ops = append(ops, diff(path+"/"+pointer(k), c[k], w[k])...)
			}
		}
		return ops
	case []any:
		c, ok := cur.([]any)
		if !ok || (scalars(c) && scalars(w)) {
			// a list of words (a command, args) is one value: replaced whole when it differs
			if ok && slices.EqualFunc(c, w, scalarEqual) {
				return nil
			}
			return []op{{Op: "replace", Path: path, Value: want}}
		}
		var ops []op
		for i := 0; i < min(len(c), len(w)); i++ {
			ops = append(ops, diff(path+"/"+strconv.Itoa(i), c[i], w[i])...)
		}
		for i := len(c); i < len(w); i++ {
			ops = append(ops, op{Op: "add", Path: path + "/" + strconv.Itoa(i), Value: w[i]})
		}
		for i := len(c) - 1; i >= len(w); i-- { // from the end, so each index is still the item meant
			ops = append(ops, op{Op: "remove", Path: path + "/" + strconv.Itoa(i)})
		}
		return ops
	}
	if !scalarEqual(cur, want) {
		return []op{{Op: "replace", Path: path, Value: want}}
	}
	return nil
}

// scalarEqual compares two JSON scalars; numbers by their value as written or as parsed.
func scalarEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		if an == bn {
			return true
		}
		af, aerr := an.Float64()
		bf, berr := bn.Float64()
		return aerr == nil && berr == nil && af == bf
	}
	return a == b
}

// scalars reports a list that holds no object or list.
func scalars(l []any) bool {
	for _, v := range l {
		switch v.(type) {
		case obj, []any:
			return false
		}
	}
	return true
}

// same reports whether two JSON documents are equal, nulls counting as absent.
func same(a, b any) bool { return len(diff("", a, b)) == 0 }

func sortedKeys(o obj) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// prefixed puts every operation under prefix (a JSON pointer such as /spec/template).
func prefixed(prefix string, ops []op) []op {
	out := slices.Clone(ops)
	for i := range out {
		out[i].Path = prefix + out[i].Path
	}
	return out
}
