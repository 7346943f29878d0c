package executor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// chrootStage2 chroots into the root, drops privileges and execs the
// command. It only returns on error.
func chrootStage2() int {
	// In a pod the bounding set is already Docker's; as root on a
	// machine it is cut down to it here.
	dropCaps := func(*stage2Spec) error { return dropBoundingCaps("/proc") }
	return stage2Main(dropCaps, chrootInto)
}

// chrootInto makes root the process's "/" with chroot alone.
func chrootInto(root string) error {
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("enter root: %w", err)
	}
	return nil
}
