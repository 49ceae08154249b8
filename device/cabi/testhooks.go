package main

// #include <stdlib.h>
import "C"

// What the tests need to call the C API from Go: a _test.go file cannot use
// cgo, so these make and read the C values for it.

// cstr is s as a malloc'ed C string, for the tests; free it with tacit_free.
func cstr(s string) *C.char { return C.CString(s) }

// take is the string p, which the API returned, and frees it: "" for NULL.
func take(p *C.char) string {
	if p == nil {
		return ""
	}
	defer tacit_free(p)
	return C.GoString(p)
}

// errSlot is a caller's `char *err`, for the tests.
type errSlot struct{ p *C.char }

func (e *errSlot) ptr() **C.char { return &e.p }

// take is the error message the last call left, and frees it: "" for none.
func (e *errSlot) take() string {
	s := take(e.p)
	e.p = nil
	return s
}

// cstrFor is cstr, freed when the test ends.
func cstrFor(t interface{ Cleanup(func()) }, s string) *C.char {
	p := cstr(s)
	t.Cleanup(func() { tacit_free(p) })
	return p
}

// c64 is x as a C int64_t, for the tests' handles and times.
func c64(x int64) C.int64_t { return C.int64_t(x) }

// takeAny is take for a value of any type the API returns; the tests cannot
// name *C.char.
func takeAny(p any) {
	if s, ok := p.(*C.char); ok {
		take(s)
	}
}
