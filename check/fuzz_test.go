package check

import (
	"context"
	"testing"
)

// FuzzRun: no Dockerfile text makes Run (every rule) panic.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		"FROM scratch\n",
		"# check=skip=all;error=true\nFROM scratch AS Build\nMAINTAINER me\n",
		"ARG B=scratch\nFROM --platform=$TARGETPLATFORM $B AS x\nENV A 1\nLABEL a=$U\nEXPOSE 1.2.3.4:80:80/TCP\nCMD x\nCMD y\n",
		"FROM a\nCOPY . .\nRUN apt-get update\nRUN apt-get install -y x\nRUN npm ci\nUSER root\n",
		"FROM scratch\nRUN <<EOF\napk add x\nEOF\nADD a b\nWORKDIR x\n",
		"from scratch as context\nfrom scratch as context\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		r, err := Run(context.Background(), src)
		if err == nil && r == nil {
			t.Fatal("nil report without error")
		}
	})
}
