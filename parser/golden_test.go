package parser

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite parsed.golden.json files")

// goldenDirs are the case directories: the project's shared cases and the
// parser's own parse-only cases.
func goldenDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, pattern := range []string{"../testdata/dockerfiles/*/Dockerfile", "testdata/dockerfiles/*/Dockerfile"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	return dirs
}

// taggedJSON is the golden form of an instruction: its kind and its fields.
func taggedJSON(inst Instruction) any {
	if inst == nil {
		return nil
	}
	b, err := json.Marshal(inst)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	m["Kind"] = reflect.TypeOf(inst).Elem().Name()
	if ob, ok := inst.(*Onbuild); ok {
		m["Instruction"] = taggedJSON(ob.Instruction)
	}
	return m
}

func goldenOf(df *Dockerfile, err error) any {
	if err != nil {
		return map[string]string{"Error": err.Error()}
	}
	type stage struct {
		Name         string
		Index        int
		From         any
		Instructions []any
	}
	out := struct {
		Escape   string
		Syntax   string
		MetaArgs []any
		Stages   []stage
	}{Escape: string(df.Escape), Syntax: df.Syntax}
	for _, a := range df.MetaArgs {
		out.MetaArgs = append(out.MetaArgs, taggedJSON(a))
	}
	for _, s := range df.Stages {
		st := stage{Name: s.Name, Index: s.Index, From: taggedJSON(s.From)}
		for _, i := range s.Instructions {
			st.Instructions = append(st.Instructions, taggedJSON(i))
		}
		out.Stages = append(out.Stages, st)
	}
	return out
}

func TestGolden(t *testing.T) {
	dirs := goldenDirs(t)
	if len(dirs) == 0 {
		t.Fatal("no golden cases found")
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			df, perr := Parse(f)
			got, err := json.MarshalIndent(goldenOf(df, perr), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join(dir, "parsed.golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if os.IsNotExist(err) {
				t.Fatalf("%s is missing: run go test ./parser -run TestGolden -update", golden)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("%s differs (run with -update to accept):\n%s", golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing line with some context.
func lineDiff(a, b string) string {
	al, bl := bytes.Split([]byte(a), []byte("\n")), bytes.Split([]byte(b), []byte("\n"))
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}
