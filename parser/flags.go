package parser

import (
	"fmt"
	"sort"
	"strings"
)

type flagKind int

const (
	flagBool flagKind = iota
	flagString
	flagStrings // repeatable
)

// flagSet parses an instruction's --flags with buildkit's rules and wording.
type flagSet struct {
	kinds   map[string]flagKind
	str     map[string]string
	strs    map[string][]string
	used    map[string]bool
	boolVal map[string]bool
}

func newFlagSet(spec map[string]flagKind) *flagSet {
	return &flagSet{
		kinds:   spec,
		str:     map[string]string{},
		strs:    map[string][]string{},
		used:    map[string]bool{},
		boolVal: map[string]bool{},
	}
}

func (f *flagSet) parse(args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		if !strings.HasPrefix(a, "--") {
			return fmt.Errorf("arg should start with -- : %s", a)
		}
		flagName, value, hasValue := strings.Cut(a, "=")
		name := flagName[2:]
		kind, ok := f.kinds[name]
		if !ok {
			names := make([]string, 0, len(f.kinds))
			for n := range f.kinds {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("unknown flag: %s%s", flagName, suggest(name, names, true))
		}
		if f.used[name] && kind != flagStrings {
			return fmt.Errorf("duplicate flag specified: %s", flagName)
		}
		f.used[name] = true
		switch kind {
		case flagBool:
			if hasValue && value == "" {
				return fmt.Errorf("missing a value on flag: %s", flagName)
			}
			switch strings.ToLower(value) {
			case "true", "":
				f.boolVal[name] = true
			case "false":
				f.boolVal[name] = false
			default:
				return fmt.Errorf("expecting boolean value for flag %s, not: %s", flagName, value)
			}
		case flagString:
			if !hasValue {
				return fmt.Errorf("missing a value on flag: %s", flagName)
			}
			f.str[name] = value
		case flagStrings:
			if !hasValue {
				return fmt.Errorf("missing a value on flag: %s", flagName)
			}
			f.strs[name] = append(f.strs[name], value)
		}
	}
	return nil
}
