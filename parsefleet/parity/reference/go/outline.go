// Command outline prints the outline of Go files, one JSON line per file, in argument order:
// the reference ("legacy") outline parsefleet's tree-sitter Go adapter (workers/languages/go.py)
// is compared with by `parsefleet parity`. It uses only go/parser and go/ast, and follows the
// adapter's rules (docs/outline.md):
//
//   - the package clause is a module symbol spanning the clause; top-level symbols have no parent;
//   - functions; methods qualified by their receiver type, (*T).M or T.M, type parameters stripped;
//   - type specs: struct, interface, anything else (alias or defined type) type_alias;
//     struct fields T.f (an embedded field is named after its type), interface methods I.M;
//   - const and var specs give one symbol per name, `_` skipped;
//   - exported (upper-case) names are public, others private;
//   - imports: path, alias; origin local for ./ and ../, stdlib when the first path element has
//     no dot, third_party otherwise.
//
// Usage: outline FILE... ; a line is {"path", "symbols", "imports"} or {"path", "error"} when
// go/parser rejects the file (its first error, with its line).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type symbol struct {
	Kind          string `json:"kind"`
	Name          string `json:"name"`
	QualifiedName string `json:"qualified_name"`
	Parent        *int   `json:"parent"`
	StartLine     int    `json:"start_line"`
	EndLine       int    `json:"end_line"`
	StartByte     int    `json:"start_byte"`
	EndByte       int    `json:"end_byte"`
	Visibility    string `json:"visibility"`
}

type importSpec struct {
	Module string  `json:"module"`
	Name   *string `json:"name"`
	Alias  *string `json:"alias"`
	Origin string  `json:"origin"`
	Line   int     `json:"line"`
}

type failure struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

type result struct {
	Path    string       `json:"path"`
	Symbols []symbol     `json:"symbols"`
	Imports []importSpec `json:"imports"`
	Error   *failure     `json:"error,omitempty"`
}

// outliner collects the symbols of one file.
type outliner struct {
	fset    *token.FileSet
	symbols []symbol
}

func main() {
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	for _, path := range os.Args[1:] {
		if err := encoder.Encode(outlineFile(path)); err != nil {
			fmt.Fprintf(os.Stderr, "outline: %v\n", err)
			os.Exit(1)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "outline: %v\n", err)
		os.Exit(1)
	}
}

func outlineFile(path string) (res result) {
	res = result{Path: path, Symbols: []symbol{}, Imports: []importSpec{}}
	defer func() {
		if caught := recover(); caught != nil {
			res = result{Path: path, Symbols: []symbol{}, Imports: []importSpec{}, Error: &failure{1, fmt.Sprint("panic: ", caught)}}
		}
	}()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		res.Error = describe(err)
		return res
	}
	o := &outliner{fset: fset}
	o.add("module", file.Name.Name, file.Name.Name, nil, file.Package, file.Name.End(), "public")
	for _, decl := range file.Decls {
		switch decl := decl.(type) {
		case *ast.FuncDecl:
			o.function(decl)
		case *ast.GenDecl:
			res.Imports = append(res.Imports, o.general(decl)...)
		}
	}
	res.Symbols = o.symbols
	return res
}

func describe(err error) *failure {
	if list, ok := err.(scanner.ErrorList); ok && len(list) > 0 {
		return &failure{list[0].Pos.Line, list[0].Msg}
	}
	return &failure{1, err.Error()}
}

// add appends a symbol and returns its index.
func (o *outliner) add(kind, name, qualified string, parent *int, start, end token.Pos, visibility string) int {
	// physical positions: //line directives must not move a definition (tree-sitter ignores them)
	from, to := o.fset.PositionFor(start, false), o.fset.PositionFor(end, false)
	endLine := to.Line
	if to.Column == 1 && endLine > from.Line { // ends at the start of a line: the last character is on the line before
		endLine--
	}
	o.symbols = append(o.symbols, symbol{kind, name, qualified, parent, from.Line, endLine, from.Offset, to.Offset, visibility})
	return len(o.symbols) - 1
}

func visibility(name string) string {
	first, _ := utf8.DecodeRuneInString(name)
	if unicode.IsUpper(first) {
		return "public"
	}
	return "private"
}

func (o *outliner) function(decl *ast.FuncDecl) {
	name := decl.Name.Name
	if decl.Recv == nil {
		o.add("function", name, name, nil, decl.Pos(), decl.End(), visibility(name))
		return
	}
	qualified := name
	if receiver := receiverName(decl.Recv); receiver != "" {
		qualified = receiver + "." + name
	}
	o.add("method", name, qualified, nil, decl.Pos(), decl.End(), visibility(name))
}

// receiverName is (*T) or T, type parameters and parentheses stripped.
func receiverName(recv *ast.FieldList) string {
	if len(recv.List) == 0 {
		return ""
	}
	name, pointer := typeName(recv.List[0].Type)
	if pointer {
		return "(*" + name + ")"
	}
	return name
}

// typeName is the name inside *T, (T), T[K], pkg.T; pointer tells whether a * was met.
func typeName(expr ast.Expr) (string, bool) {
	pointer := false
	for {
		switch node := expr.(type) {
		case *ast.StarExpr:
			pointer, expr = true, node.X
		case *ast.ParenExpr:
			expr = node.X
		case *ast.IndexExpr:
			expr = node.X
		case *ast.IndexListExpr:
			expr = node.X
		case *ast.SelectorExpr:
			expr = node.Sel
		case *ast.Ident:
			return node.Name, pointer
		default:
			return "", pointer
		}
	}
}

func (o *outliner) general(decl *ast.GenDecl) []importSpec {
	imports := []importSpec{}
	for _, spec := range decl.Specs {
		switch spec := spec.(type) {
		case *ast.ImportSpec:
			imports = append(imports, o.importOf(spec))
		case *ast.TypeSpec:
			o.typeSpec(spec)
		case *ast.ValueSpec:
			kind := "variable"
			if decl.Tok == token.CONST {
				kind = "constant"
			}
			for _, name := range spec.Names {
				if name.Name != "_" {
					o.add(kind, name.Name, name.Name, nil, spec.Pos(), spec.End(), visibility(name.Name))
				}
			}
		}
	}
	return imports
}

func (o *outliner) typeSpec(spec *ast.TypeSpec) {
	name := spec.Name.Name
	kind := "type_alias"
	var members *ast.FieldList
	if !spec.Assign.IsValid() {
		switch node := spec.Type.(type) {
		case *ast.StructType:
			kind, members = "struct", node.Fields
		case *ast.InterfaceType:
			kind, members = "interface", node.Methods
		}
	}
	index := o.add(kind, name, name, nil, spec.Pos(), spec.End(), visibility(name))
	if members == nil {
		return
	}
	for _, field := range members.List {
		o.member(kind, name, index, field)
	}
}

// member adds a struct field (named, or embedded: named after its type) or an interface method.
func (o *outliner) member(kind, parentName string, parent int, field *ast.Field) {
	names := []string{}
	for _, ident := range field.Names {
		names = append(names, ident.Name)
	}
	memberKind := "field"
	if kind == "interface" {
		memberKind = "method" // interface elements without a name (embedded, unions) are not outlined
	} else if len(names) == 0 {
		if embedded, _ := typeName(field.Type); embedded != "" {
			names = append(names, embedded)
		}
	}
	for _, name := range names {
		index := parent
		o.add(memberKind, name, parentName+"."+name, &index, field.Pos(), field.End(), visibility(name))
	}
}

func (o *outliner) importOf(spec *ast.ImportSpec) importSpec {
	path, err := strconv.Unquote(spec.Path.Value)
	if err != nil {
		path = spec.Path.Value
	}
	var alias *string
	if spec.Name != nil {
		alias = &spec.Name.Name
	}
	return importSpec{path, nil, alias, origin(path), o.fset.PositionFor(spec.Pos(), false).Line}
}

func origin(path string) string {
	if strings.HasPrefix(path, "./") || strings.HasPrefix(path, "../") || path == "." || path == ".." {
		return "local"
	}
	first, _, _ := strings.Cut(path, "/")
	if strings.Contains(first, ".") {
		return "third_party"
	}
	return "stdlib"
}
