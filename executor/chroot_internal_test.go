package executor

import "testing"

func TestChrootWorks(t *testing.T) {
	if err := chrootWorks(); err != nil {
		t.Fatalf("chrootWorks: %v (root can always chroot)", err)
	}
}
