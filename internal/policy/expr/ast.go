package expr

// The syntax tree of the C# subset. Every node keeps the byte offset where it starts so that
// load errors point at the right line and column.

type node interface{ offset() int }

type at struct{ off int }

func (a at) offset() int { return a.off }

// typeRef is a type as written: a (possibly dotted) name, type arguments, array rank and '?'.
type typeRef struct {
	at
	name     string
	args     []*typeRef
	array    int
	nullable bool
}

func (t *typeRef) String() string {
	s := t.name
	if len(t.args) > 0 {
		s += "<"
		for i, a := range t.args {
			if i > 0 {
				s += ","
			}
			s += a.String()
		}
		s += ">"
	}
	if t.nullable {
		s += "?"
	}
	for range t.array {
		s += "[]"
	}
	return s
}

type (
	litExpr struct {
		at
		val any
	}
	identExpr struct {
		at
		name string
	}
	memberExpr struct {
		at
		x        node
		name     string
		cond     bool // ?.
		typeArgs []*typeRef
	}
	indexExpr struct {
		at
		x    node
		args []node
		cond bool // ?[
	}
	callExpr struct {
		at
		fn   node // memberExpr or identExpr
		args []*argExpr
	}
	argExpr struct {
		at
		name    string // named argument
		out     bool
		outType *typeRef // out T name / out var name
		outName string
		x       node
	}
	unaryExpr struct {
		at
		op string
		x  node
	}
	binaryExpr struct {
		at
		op   string
		x, y node
	}
	condExpr struct {
		at
		c, a, b node
	}
	castExpr struct {
		at
		t *typeRef
		x node
	}
	asExpr struct {
		at
		x node
		t *typeRef
	}
	isExpr struct {
		at
		x    node
		t    *typeRef // nil: "is null" / constant pattern
		not  bool
		val  node // constant pattern
		name string
	}
	lambdaExpr struct {
		at
		params []string
		body   node // expression
		block  *blockStmt
	}
	newExpr struct {
		at
		t        *typeRef // nil: anonymous object or implicitly typed array
		args     []*argExpr
		array    bool   // new T[] {...}, new[] {...}, new T[n]
		size     node   // new T[n]
		elems    []node // array or collection initializer
		inits    []*initExpr
		anon     bool
		hasInits bool
	}
	initExpr struct {
		at
		name  string // Name = v
		index []node // [k] = v
		keyed []node // { k, v } dictionary entry
		val   node
	}
	interpExpr struct {
		at
		parts []interpNode
	}
	assignExpr struct {
		at
		op     string // = += -= ...
		target node
		val    node
	}
	incDecExpr struct {
		at
		op     string
		prefix bool
		target node
	}
	defaultExpr struct {
		at
		t *typeRef
	}
	typeofExpr struct {
		at
		t *typeRef
	}
	throwExpr struct {
		at
		x node
	}
)

type interpNode struct {
	lit    string
	x      node
	format string
	align  int
}

// statements
type (
	blockStmt struct {
		at
		stmts []node
	}
	declStmt struct {
		at
		t     *typeRef // nil: var
		names []string
		offs  []int
		inits []node
	}
	exprStmt struct {
		at
		x node
	}
	ifStmt struct {
		at
		c          node
		then, els_ node
	}
	returnStmt struct {
		at
		x node
	}
	foreachStmt struct {
		at
		t    *typeRef
		name string
		coll node
		body node
	}
	forStmt struct {
		at
		init []node
		c    node
		post []node
		body node
	}
	whileStmt struct {
		at
		c    node
		body node
		do   bool
	}
	breakStmt    struct{ at }
	continueStmt struct{ at }
	switchStmt   struct {
		at
		x        node
		sections []*switchSection
	}
	switchSection struct {
		labels []node // nil entry: default
		body   []node
	}
	tryStmt struct {
		at
		body    *blockStmt
		catches []*catchClause
		finally *blockStmt
	}
	catchClause struct {
		t    *typeRef
		name string
		when node
		body *blockStmt
	}
	throwStmt struct {
		at
		x node
	}
	usingStmt struct {
		at
		decl node // declStmt or expression
		body node
	}
	emptyStmt struct{ at }
)
