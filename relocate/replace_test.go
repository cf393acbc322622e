package relocate

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveReplace is the specification: left to right, old is replaced where the
// next byte does not continue a path name.
func naiveReplace(s, old, new string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], old) {
			end := i + len(old)
			if end == len(s) || !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", rune(s[end])) {
				b.WriteString(new)
				i = end
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func TestReplacePrefix(t *testing.T) {
	const p = "/home/ourapp/root"
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{p, "/T"},
		{p + "/lib", "/T/lib"},
		{p + "fs/lib", p + "fs/lib"},
		{p + ".bak " + p + "-2 " + p + "_x " + p + "9", p + ".bak " + p + "-2 " + p + "_x " + p + "9"},
		{"-L" + p + "/lib -I" + p + "/include", "-L/T/lib -I/T/include"},
		{"PATH=" + p + "/bin:" + p + "\n", "PATH=/T/bin:/T\n"},
		{`"` + p + `"` + p + "'", `"/T"/T'`},
		{p + p + "/x", "/T/T/x"}, // the second starts with "/", a boundary for the first
		{"/x" + p + "/y", "/x/T/y"},
		{p + "\x00" + p, "/T\x00/T"},
	} {
		if got := NewPrefixes(p).replace(tc.in, "/T"); got != tc.want {
			t.Errorf("replacePrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := naiveReplace(tc.in, p, "/T"); got != tc.want {
			t.Errorf("naiveReplace(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got, want := newPrefixesCount(tc.in, p), strings.Count(tc.want, "/T"); got != want {
			t.Errorf("countPrefix(%q) = %d, want %d", tc.in, got, want)
		}
	}
}

// stream feeds in to a replacer in the given chunk sizes (cycled).
func stream(t testing.TB, in, old, new string, chunks []int) string {
	var out bytes.Buffer
	r := newReplacer(&out, NewPrefixes(old), new)
	for i, k := 0, 0; i < len(in); k++ {
		n := min(len(in)-i, max(1, chunks[k%len(chunks)]))
		if m, err := r.Write([]byte(in[i : i+n])); err != nil || m != n {
			t.Fatalf("Write = %d, %v; want %d, nil", m, err, n)
		}
		i += n
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestReplacerStreaming(t *testing.T) {
	const p = "/build/prefix"
	many := strings.Repeat("x "+p+"/bin:"+p+"fs;"+p, 5000) // over several internal chunks
	for _, tc := range []struct {
		name, in, new string
		chunks        []int
	}{
		{"split in the prefix", "a " + p + "/lib b", "/t", []int{5, 3, 100}},
		{"split before the deciding byte", "a " + p + "fs " + p, "/t", []int{2 + len(p), 1}},
		{"prefix at the very end", "x" + p, "/t", []int{1}},
		{"partial prefix at the end", "x" + p[:5], "/t", []int{3}},
		{"many, shrink", many, "/t", []int{7, 4096, 1, 65536}},
		{"many, grow", many, "/a/much/longer/install/path/than/before", []int{13, 100000}},
		{"one write", many, "/grow/grow/grow/grow/grow", []int{len(many)}},
		{"adjacent", p + p + p + "/" + p, "/t", []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := naiveReplace(tc.in, p, tc.new)
			if got := stream(t, tc.in, p, tc.new, tc.chunks); got != want {
				t.Fatalf("streamed result differs from the specification\n got %.200q\nwant %.200q", got, want)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 20 {
				chunks := []int{rng.IntN(2*len(p)) + 1, rng.IntN(70000) + 1, rng.IntN(3) + 1}
				if got := stream(t, tc.in, p, tc.new, chunks); got != want {
					t.Fatalf("chunks %v: streamed result differs", chunks)
				}
			}
		})
	}
}

// TestReplacerMemory checks that a big write does not make the replacer
// keep a buffer proportional to it.
func TestReplacerMemory(t *testing.T) {
	var out bytes.Buffer
	r := newReplacer(&out, NewPrefixes("/p"), "/q")
	if _, err := r.Write(bytes.Repeat([]byte("/p/x "), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if c := cap(r.buf); c > 2*chunkSize {
		t.Errorf("replacer buffer grew to %d bytes", c)
	}
	if out.Len() != 5<<20 || bytes.Contains(out.Bytes(), []byte("/p/")) {
		t.Errorf("wrong output of %d bytes", out.Len())
	}
}

func FuzzReplacer(f *testing.F) {
	f.Add("/p/q", "/x", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8}, []byte{1, 2, 3})
	f.Add("/opt/app", "/much/longer/target", []byte{0, 9, 0, 17, 4, 0, 0, 2}, []byte{5})
	f.Add("/a", "", []byte{0, 0, 0, 1, 3, 0}, []byte{1})
	f.Fuzz(func(t *testing.T, old, new string, pattern, cuts []byte) {
		if old == "" || len(old) > 64 {
			t.Skip()
		}
		// Build input mostly from the prefix, pieces of it and boundary bytes,
		// so that matches and near-matches are common.
		var in strings.Builder
		for _, b := range pattern {
			switch b % 4 {
			case 0:
				in.WriteString(old)
			case 1:
				in.WriteString(old[:int(b/4)%len(old)])
			default:
				in.WriteByte("/a._-x \x00\n"[int(b/4)%9])
			}
		}
		chunks := []int{1}
		if len(cuts) > 0 {
			chunks = chunks[:0]
			for _, c := range cuts {
				chunks = append(chunks, int(c))
			}
		}
		want := naiveReplace(in.String(), old, new)
		if got := stream(t, in.String(), old, new, chunks); got != want {
			t.Fatalf("in %q: streamed %q, want %q", in.String(), got, want)
		}
		if got := NewPrefixes(old).replace(in.String(), new); got != want {
			t.Fatalf("in %q: replacePrefix %q, want %q", in.String(), got, want)
		}
	})
}

func newPrefixesCount(s, p string) int {
	k, _ := NewPrefixes(p).count(s)
	return k
}

// TestSeveralPrefixes: every prefix becomes the install path; where two
// match at one place the longer wins; streaming and in-memory agree.
func TestSeveralPrefixes(t *testing.T) {
	ps := NewPrefixes("/build/root", "/stage/root", "/build/root/sub")
	in := "a=/build/root/x b=/stage/root c=/build/root/sub/y d=/build/rootfs e=/stage/root/z"
	want := "a=/T/x b=/T c=/T/y d=/build/rootfs e=/T/z"
	if got := ps.replace(in, "/T"); got != want {
		t.Fatalf("replace = %q, want %q", got, want)
	}
	for step := 1; step <= len(in); step++ {
		var out bytes.Buffer
		r := newReplacer(&out, ps, "/T")
		for i := 0; i < len(in); i += step {
			r.Write([]byte(in[i:min(len(in), i+step)]))
		}
		r.Close()
		if out.String() != want {
			t.Fatalf("streamed in steps of %d: %q", step, out.String())
		}
	}
	if k, total := ps.count(in); k != 4 || total != len("/build/root")*2+len("/stage/root")*2-len("/build/root")+len("/build/root/sub") {
		t.Fatalf("count = %d, %d", k, total)
	}
}
