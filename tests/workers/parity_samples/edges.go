// Package edges holds Go constructs whose outline is easy to get wrong: the parity tests compare
// tree-sitter's outline of it with go/parser's (tests/workers/test_parity_programs.py).
package edges

import (
	"C"
	_ "embed"
	. "strings"
	str "strconv"
	`unicode/utf8`

	"example.com/mod/pkg"
	"./local"
)

const (
	Zero = iota
	one
	_
	Three, four = 3, 4
)

var (
	_, Exported = pkg.Pair()
	multi       = func() int {
		return 1
	}()
)

type (
	Alias     = map[string]int
	Defined   []byte
	Parens    (int)
	Generic[K comparable, V any] struct {
		items map[K]V
		*pkg.Embedded
		List[K]
		_ [4]byte
		a, B, c int `tag:"x"`
	}
	Number interface {
		~int | ~float64
		fmt.Stringer
		Value() float64
	}
	List[T any] struct{ head *T }
)

type Ünicode struct{ Ärger int }

type Anonymous struct {
	Inner struct {
		Hidden int
	}
}

func (l *List[T]) Push(v T)            {}
func (l List[T]) Len() int             { return 0 }
func (g *Generic[K, V]) Get(k K) V     { return g.items[k] }
func (/* unused */ *Defined) Reset()   {}
func (d * /* c */ Defined) Grow(n int) {}
func (p (Parens)) Value() int          { return int(p) }
func (Alias) keys() []string           { return nil }

func init() {}
func init() {}

// asm is implemented in assembly.
func asm(x int) int

func Map[T, U any](items []T, f func(T) U) []U {
	type local struct{}
	const inner = 1
	return nil
}

//line generated.go:1000
func AfterLineDirective() {
	_ = HasPrefix("a", "b") && utf8.ValidString(str.Itoa(1))
}

var _ = C.int(0)
