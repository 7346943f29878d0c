package executor

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
)

// hostsFile is the /etc/hosts a step sees (BuildKit's content).
func hostsFile(hostname string) []byte {
	return []byte("127.0.0.1\tlocalhost " + hostname + "\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n")
}

// resolvConf returns the host's resolv.conf without loopback nameservers
// (they cannot work from another network namespace, and a local stub
// resolver is not reachable either); if none is left, Docker's defaults.
func resolvConf(host []byte) []byte {
	var out bytes.Buffer
	found := false
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			addr, err := netip.ParseAddr(strings.SplitN(f[1], "%", 2)[0])
			if err != nil || addr.IsLoopback() {
				continue
			}
			found = true
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if !found {
		// Docker's defaults.
		for _, ns := range []string{"8.8.8.8", "8.8.4.4"} {
			out.WriteString("nameserver " + ns + "\n")
		}
	}
	return out.Bytes()
}

func hostResolvConf() []byte {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	return data
}
