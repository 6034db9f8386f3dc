package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The decoder maps the YAML AST onto Config itself instead of handing it to
// yaml.NodeToValue, for three reasons: ${VAR} is expanded on each scalar
// after parsing and before it is converted (so "${FB:-30s}" can feed a
// Duration and an env value can never become YAML structure); every message
// can name the key path and line; and no message ever quotes a value that
// came from the environment.

// fieldInfo records where a value was written and how it was produced; the
// validator uses it for positions and to avoid echoing expanded values.
type fieldInfo struct {
	line, col int
	null      bool     // written as null, ~, nothing, or an empty expansion
	raw       string   // scalar text as written, before expansion (safe to show)
	vars      []string // environment variables read while expanding it
}

type decoder struct {
	lookupEnv func(string) (string, bool)
	anchors   map[string]ast.Node
	fields    map[string]fieldInfo // by path, e.g. "providers[0].base_url"
	problems  []Problem
	depth     int
}

const maxDepth = 64

var (
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

func newDecoder(lookupEnv func(string) (string, bool)) *decoder {
	return &decoder{lookupEnv: lookupEnv, anchors: map[string]ast.Node{}, fields: map[string]fieldInfo{}}
}

// has reports whether path was written in the file with a non-null value.
func (d *decoder) has(path string) bool {
	f, ok := d.fields[path]
	return ok && !f.null
}

func (d *decoder) problemAt(n ast.Node, path, format string, args ...any) {
	line, col := nodePos(n)
	d.problems = append(d.problems, Problem{Line: line, Column: col, Path: path, Message: fmt.Sprintf(format, args...)})
}

// parseFile decodes data into dst, which must point to a struct.
func (d *decoder) parseFile(data []byte, dst reflect.Value) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		d.problems = append(d.problems, syntaxProblem(err))
		return
	}
	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			d.problemAt(doc.Body, "", "a config file holds one YAML document; remove the second ---")
			return
		}
		body = doc.Body
	}
	if body == nil {
		return // empty file: all defaults
	}
	ast.Walk(anchorCollector(d.anchors), body)
	d.decode(body, dst, "")
}

// syntaxProblem turns a goccy parse error into a one-line Problem instead of
// its multi-line source dump.
func syntaxProblem(err error) Problem {
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		p := Problem{Message: "invalid YAML: " + yerr.GetMessage()}
		if tk := yerr.GetToken(); tk != nil {
			p.Line, p.Column = tk.Position.Line, tk.Position.Column
		}
		return p
	}
	return Problem{Message: "invalid YAML: " + err.Error()}
}

type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		a[an.Name.GetToken().Value] = an.Value
	}
	return a
}

// resolve looks through tags, anchors and aliases to the node holding the
// value. Tags are ignored: the destination type decides the conversion.
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	for range maxDepth {
		switch x := n.(type) {
		case *ast.TagNode:
			n = x.Value
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			name := ""
			if x.Value != nil {
				name = x.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.problemAt(x, path, "%s: unknown alias *%s", displayPath(path), name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
	d.problemAt(n, path, "%s: aliases nested too deeply", displayPath(path))
	return nil
}

// nodePos returns the position a human would point at for n: the first key
// of a block mapping rather than its first ':'.
func nodePos(n ast.Node) (line, col int) {
	switch x := n.(type) {
	case nil:
		return 0, 0
	case *ast.MappingNode:
		if !x.IsFlowStyle && len(x.Values) > 0 {
			return nodePos(x.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return nodePos(x.Key)
	case *ast.AnchorNode:
		return nodePos(x.Value)
	case *ast.TagNode:
		return nodePos(x.Value)
	case *ast.LiteralNode:
		if x.Start != nil {
			return x.Start.Position.Line, x.Start.Position.Column
		}
	}
	tk := n.GetToken()
	if tk == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func displayPath(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode stores node n into v, which is addressable.
func (d *decoder) decode(orig ast.Node, v reflect.Value, path string) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.problemAt(orig, path, "%s: nested too deeply", displayPath(path))
		return
	}
	n := d.resolve(orig, path)
	if n == nil {
		return
	}
	line, col := nodePos(orig)
	info := fieldInfo{line: line, col: col}
	if _, ok := n.(*ast.NullNode); ok {
		info.null = true
		d.fields[path] = info
		return
	}
	d.fields[path] = info

	t := v.Type()
	switch {
	case t == durationType:
		s, isNumber, ok := d.scalar(n, path, `a duration such as "30s"`)
		if !ok || d.fields[path].null {
			return
		}
		if isNumber {
			d.problemAt(n, path, "%s: %s has no unit; write a Go duration such as \"30s\", \"500ms\" or \"10m\"", path, s)
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.problemAt(n, path, "%s: invalid duration %s: %v", path, d.show(path, s), err)
			return
		}
		v.Set(reflect.ValueOf(dur))
	case t == sizeType:
		s, _, ok := d.scalar(n, path, `a size such as "10MiB"`)
		if !ok || d.fields[path].null {
			return
		}
		size, err := parseSize(s)
		if err != nil {
			d.problemAt(n, path, "%s: invalid size %s: %v", path, d.show(path, s), err)
			return
		}
		v.Set(reflect.ValueOf(size))
	default:
		switch t.Kind() {
		case reflect.String:
			if s, _, ok := d.scalar(n, path, "a string"); ok {
				v.SetString(s)
			}
		case reflect.Int, reflect.Int64:
			s, _, ok := d.scalar(n, path, "a whole number")
			if !ok || d.fields[path].null {
				return
			}
			var i int64
			var err error
			switch x := n.(type) {
			case *ast.IntegerNode: // YAML's own reading of 0x1F, 0o17, 1_000
				switch iv := x.Value.(type) {
				case int64:
					i = iv
				case uint64:
					if iv > math.MaxInt64 {
						err = strconv.ErrRange
					}
					i = int64(iv)
				}
			default:
				i, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			}
			if err != nil || v.OverflowInt(i) {
				d.problemAt(n, path, "%s: want a whole number, got %s", path, d.show(path, s))
				return
			}
			v.SetInt(i)
		case reflect.Bool:
			s, _, ok := d.scalar(n, path, "true or false")
			if !ok || d.fields[path].null {
				return
			}
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				d.problemAt(n, path, "%s: want true or false, got %s", path, d.show(path, s))
			}
		case reflect.Float64:
			s, _, ok := d.scalar(n, path, "a number")
			if !ok || d.fields[path].null {
				return
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				d.problemAt(n, path, "%s: want a number, got %s", path, d.show(path, s))
				return
			}
			v.SetFloat(f)
		case reflect.Struct:
			d.decodeStruct(n, v, path)
		case reflect.Slice:
			d.decodeSlice(n, v, path)
		case reflect.Map:
			d.decodeMap(n, v, path)
		default:
			// Only reachable if a field of an unsupported type is added to Config.
			d.problemAt(n, path, "%s: internal error: cannot decode into %s", path, t)
		}
	}
}

// scalar returns the text of scalar node n with ${VAR} expanded in string
// values. isNumber reports an unquoted YAML number. ok is false, with a
// problem recorded, when n is not a scalar or expansion failed. An empty
// result for a non-string destination is recorded as null so it takes the
// default (e.g. "${MAX:-}").
func (d *decoder) scalar(n ast.Node, path, want string) (s string, isNumber, ok bool) {
	info := d.fields[path]
	switch x := n.(type) {
	case *ast.StringNode:
		s = x.Value
	case *ast.LiteralNode:
		s = x.Value.Value
	case *ast.IntegerNode, *ast.FloatNode:
		info.raw = n.GetToken().Value
		d.fields[path] = info
		return info.raw, true, true
	case *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		info.raw = n.GetToken().Value
		d.fields[path] = info
		return info.raw, false, true
	case *ast.MappingNode, *ast.MappingValueNode:
		d.problemAt(n, path, "%s: want %s, got a mapping", path, want)
		return "", false, false
	case *ast.SequenceNode:
		d.problemAt(n, path, "%s: want %s, got a list", path, want)
		return "", false, false
	default:
		d.problemAt(n, path, "%s: want %s", path, want)
		return "", false, false
	}
	info.raw = s
	exp, vars, err := expand(s, d.lookupEnv)
	info.vars = vars
	if err != nil {
		d.fields[path] = info
		d.problemAt(n, path, "%s: %v", path, err)
		return "", false, false
	}
	if exp == "" && want != "a string" {
		info.null = true
	}
	d.fields[path] = info
	return exp, false, true
}

// show describes the value at path for a message: quoted when it was written
// literally, by its variables when it came from the environment.
func (d *decoder) show(path, value string) string {
	return showValue(d.fields[path], value)
}

func showValue(f fieldInfo, value string) string {
	if len(f.vars) == 0 {
		return strconv.Quote(value)
	}
	if len(f.vars) == 1 && f.raw == "${"+f.vars[0]+"}" {
		return "the value of ${" + f.vars[0] + "}"
	}
	return strconv.Quote(f.raw) + " (after expanding " + dollarList(f.vars) + ")"
}

func dollarList(vars []string) string {
	var out []string
	for _, v := range vars {
		if s := "${" + v + "}"; !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

type entry struct {
	key     string
	keyNode ast.Node
	val     ast.Node
}

// entries lists the key/value pairs of mapping n, applying "<<" merge keys
// with YAML's rules: keys written in the mapping win over merged ones, and
// earlier merged mappings win over later ones.
func (d *decoder) entries(n ast.Node, path string) ([]entry, bool) {
	var own []entry
	var merged []entry
	var mvs []*ast.MappingValueNode
	switch x := n.(type) {
	case *ast.MappingNode:
		mvs = x.Values
	case *ast.MappingValueNode:
		mvs = []*ast.MappingValueNode{x}
	case *ast.SequenceNode:
		d.problemAt(n, path, "%s: want a mapping (key: value), got a list", displayPath(path))
		return nil, false
	default:
		d.problemAt(n, path, "%s: want a mapping (key: value), got a single value", displayPath(path))
		return nil, false
	}
	for _, mv := range mvs {
		if mv.Key != nil && mv.Key.IsMergeKey() {
			src := d.resolve(mv.Value, path)
			var srcs []ast.Node
			if seq, ok := src.(*ast.SequenceNode); ok {
				for _, s := range seq.Values {
					srcs = append(srcs, d.resolve(s, path))
				}
			} else {
				srcs = []ast.Node{src}
			}
			for _, s := range srcs {
				if s == nil {
					continue
				}
				es, ok := d.entries(s, path)
				if !ok {
					return nil, false
				}
				merged = append(merged, es...)
			}
			continue
		}
		var keyNode ast.Node = mv.Key
		if mk, ok := keyNode.(*ast.MappingKeyNode); ok {
			keyNode = mk.Value
		}
		keyNode = d.resolve(keyNode, path)
		var key string
		switch k := keyNode.(type) {
		case nil:
			continue
		case *ast.StringNode:
			key = k.Value
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode:
			key = k.GetToken().Value
		default:
			d.problemAt(keyNode, path, "%s: a key must be a plain name", displayPath(path))
			continue
		}
		own = append(own, entry{key: key, keyNode: keyNode, val: mv.Value})
	}
	out := own
	for _, e := range merged {
		if !slices.ContainsFunc(out, func(o entry) bool { return o.key == e.key }) {
			out = append(out, e)
		}
	}
	return out, true
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string) {
	es, ok := d.entries(n, path)
	if !ok {
		return
	}
	v.SetZero()
	t := v.Type()
	var names []string
	index := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		index[name] = i
		names = append(names, name)
	}
	for _, e := range es {
		i, ok := index[e.key]
		if !ok {
			d.problemAt(e.keyNode, path, "%s", unknownKeyMessage(e.key, path, names))
			continue
		}
		d.decode(e.val, v.Field(i), joinPath(path, e.key))
	}
}

func unknownKeyMessage(key, path string, names []string) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if path != "" {
		msg += " in " + path
	}
	best, bestDist := "", 3
	for _, n := range names {
		if dist := editDistance(strings.ToLower(key), n); dist < bestDist {
			best, bestDist = n, dist
		}
	}
	if best != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", best)
	}
	return msg + " (valid keys: " + strings.Join(names, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (d *decoder) decodeSlice(n ast.Node, v reflect.Value, path string) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.problemAt(n, path, "%s: want a list, e.g. [a, b] or lines starting with -", path)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, item := range seq.Values {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n ast.Node, v reflect.Value, path string) {
	if v.Type().Key().Kind() != reflect.String {
		d.problemAt(n, path, "%s: internal error: map key type %s", path, v.Type().Key())
		return
	}
	es, ok := d.entries(n, path)
	if !ok {
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(es))
	for _, e := range es {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(e.val, elem, joinPath(path, e.key))
		m.SetMapIndex(reflect.ValueOf(e.key).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}
