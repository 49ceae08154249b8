package dataset

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLoadMovieLens(t *testing.T) {
	in := MovieLensHeader + "\n" +
		"10,5,4.0,300\n" +
		"10,7,3.5,100\n" +
		"20,5,5.0,200\n" +
		"10,9,1.0,100\n" // ties with the second row: file order kept
	l, err := LoadMovieLens(strings.NewReader(in), "ratings.csv")
	if err != nil {
		t.Fatal(err)
	}
	if l.NumUsers != 2 || l.NumItems != 3 || l.Len() != 4 {
		t.Fatalf("got %d people %d items %d interactions", l.NumUsers, l.NumItems, l.Len())
	}
	if !slices.Equal(l.UserIDs, []string{"10", "20"}) || !slices.Equal(l.ItemIDs, []string{"5", "7", "9"}) {
		t.Fatalf("ids %v %v", l.UserIDs, l.ItemIDs)
	}
	// Person "10" in time order: 7 (100), 9 (100, later in file), 5 (300).
	if got := l.Items(0); !slices.Equal(got, []int32{1, 2, 0}) {
		t.Fatalf("person 0 items %v, want [1 2 0]", got)
	}
	if got := l.Times(0); !slices.Equal(got, []int64{100, 100, 300}) {
		t.Fatalf("person 0 times %v", got)
	}
	if got := l.Weights(0); !slices.Equal(got, []float32{3.5, 1, 4}) {
		t.Fatalf("person 0 weights %v", got)
	}
}

func TestLoadUDataAndCSV(t *testing.T) {
	u, err := LoadUData(strings.NewReader("196\t242\t3\t881250949\n186\t302\t3\t891717742\n"), "u.data")
	if err != nil {
		t.Fatal(err)
	}
	if u.NumUsers != 2 || u.NumItems != 2 {
		t.Fatalf("u.data: %d people %d items", u.NumUsers, u.NumItems)
	}
	c, err := LoadCSV(strings.NewReader("user,item,ts\nalice,book,5\nalice,pen,3\nbob,book,1\n"), "events.csv")
	if err != nil {
		t.Fatal(err)
	}
	if c.NumUsers != 2 || c.Weights(0) != nil || !slices.Equal(c.Items(0), []int32{1, 0}) {
		t.Fatalf("csv: %d people, weights %v, items %v", c.NumUsers, c.Weights(0), c.Items(0))
	}
	w, err := LoadCSV(strings.NewReader("a,x,1,2.5\r\na,y,2,1\r\n"), "w.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Weights(0), []float32{2.5, 1}) {
		t.Fatalf("weights %v", w.Weights(0))
	}
}

func TestLoadErrors(t *testing.T) {
	long := "a,b,1," + strings.Repeat("9", MaxLineBytes) + "\n"
	cases := []struct {
		name, in string
		load     loader
		want     string
	}{
		{"empty", "", LoadCSV, "x.csv: the file has no interactions"},
		{"header only", MovieLensHeader + "\n", LoadMovieLens, "the file has no interactions"},
		{"wrong header", "user,movie,rating,time\n", LoadMovieLens, "x.csv:1: header is"},
		{"bad rating", MovieLensHeader + "\n1,2,x,5\n", LoadMovieLens, `x.csv:2: rating "x" is not a number`},
		{"negative rating", MovieLensHeader + "\n1,2,-1,5\n", LoadMovieLens, `x.csv:2: rating "-1" is not a finite`},
		{"nan weight", "a,b,1,NaN\n", LoadCSV, `x.csv:1: weight "NaN" is not a finite`},
		{"inf weight", "a,b,1,2\na,c,1,+Inf\n", LoadCSV, `x.csv:2: weight "+Inf"`},
		{"bad time", MovieLensHeader + "\n1,2,3,noon\n", LoadMovieLens, `x.csv:2: timestamp "noon" is not an integer`},
		{"few fields", MovieLensHeader + "\n1,2,3\n", LoadMovieLens, "x.csv:2: has 3 fields, want 4"},
		{"many fields csv", "a,b,1,1,1\n", LoadCSV, "x.csv:1: has 5 fields, want 3 or 4"},
		{"empty user", "a,b,1\n,b,2\n", LoadCSV, "x.csv:2: user id is empty"},
		{"empty item", "a,,1\n", LoadCSV, "x.csv:1: item id is empty"},
		{"udata commas", "1,2,3,4\n", LoadUData, "x.csv:1: has 1 fields, want 4"},
		{"long line", "a,b,1\n" + long, LoadCSV, "x.csv:2: line longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.load(strings.NewReader(c.in), "x.csv")
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, c.want)
			}
			var pe *ParseError
			if strings.Contains(c.want, ".csv:") && c.want != "x.csv: the file has no interactions" && !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
		})
	}
}

func TestLeaveLastOut(t *testing.T) {
	// Person a: items x(1) y(3) x(2) z(3) → time order x, x, y, z with y and
	// z tied at 3 (file order: y first). Test item z; training {x, y} with
	// ages x 1 (its latest is position 1 of 3), y 0.
	// Person b: a single interaction, not evaluated.
	in := "a,x,1\na,y,3\na,x,2\nb,y,9\na,z,3\n"
	l, err := LoadCSV(strings.NewReader(in), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	s := LeaveLastOut(l)
	x, y, z := int32(0), int32(1), int32(2)
	if s.Test[0] != z || s.Test[1] != -1 {
		t.Fatalf("test items %v, want [%d -1]", s.Test, z)
	}
	if !slices.Equal(s.Train(0), []int32{x, y}) || !slices.Equal(s.Ages(0), []int32{1, 0}) {
		t.Fatalf("train %v ages %v", s.Train(0), s.Ages(0))
	}
	if len(s.Train(1)) != 0 {
		t.Fatalf("person b has training items %v", s.Train(1))
	}
}

func TestEmbedded(t *testing.T) {
	l, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if l.NumUsers != 610 || l.NumItems != 9724 || l.Len() != 100836 {
		t.Fatalf("%d people %d items %d interactions, want 610, 9724, 100836", l.NumUsers, l.NumItems, l.Len())
	}
	// The first row of ratings.csv is "1,1,4.0,964982703".
	if l.UserIDs[0] != "1" || l.ItemIDs[0] != "1" {
		t.Fatalf("first ids %q %q", l.UserIDs[0], l.ItemIDs[0])
	}
	if !strings.Contains(EmbeddedLicense(), "F. Maxwell Harper and Joseph A. Konstan") {
		t.Fatal("licence text lacks the citation")
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ml := write("ratings.csv", MovieLensHeader+"\n1,2,3.0,4\n1,3,3.0,5\n")
	ud := write("u.data", "1\t2\t3\t4\n")
	gen := write("events.csv", "a,b,1\n")
	for spec, users := range map[string]int{ml: 1, ud: 1, gen: 1, dir: 1, "csv:" + gen: 1, "movielens:" + ml: 1, "udata:" + ud: 1, "synthetic:users=30,items=20,events=3": 30} {
		l, err := Open(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if l.NumUsers != users {
			t.Fatalf("%s: %d people", spec, l.NumUsers)
		}
	}
	for spec, want := range map[string]string{
		dir + "/missing.csv":                  "no such file",
		"synthetic:users=10":                  "synthetic items",
		"synthetic:users=10,items=x":          `items="x" is not a positive integer`,
		"synthetic:users=-1,items=10":         `users="-1"`,
		"synthetic:people=1,items=10":         `unknown key "people"`,
		"synthetic:users=5,items=10,events=9": "events must be in",
		"movielens:" + gen:                    "header is",
	} {
		if _, err := Open(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", spec, err, want)
		}
	}
}

// TestEmbeddedCatalogue: the embedded catalogue lists the embedded data
// set's items in its order, each with its title.
func TestEmbeddedCatalogue(t *testing.T) {
	l, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	b, err := EmbeddedCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(l.ItemIDs) {
		t.Fatalf("%d lines for %d items", len(lines), len(l.ItemIDs))
	}
	for i, line := range lines {
		id, title, ok := strings.Cut(line, "\t")
		if !ok || id != l.ItemIDs[i] || title == "" {
			t.Fatalf("line %d: %q, item %s", i+1, line, l.ItemIDs[i])
		}
	}
	if lines[0] != "1\tToy Story (1995)" || !strings.Contains(string(b), "\n1270\tBack to the Future (1985)\n") {
		t.Fatalf("first line %q, or no Back to the Future", lines[0])
	}
}
