package attest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// rpmMaxDB is the largest rpm database Scan reads. A RHEL image with a
// few thousand packages has one of 100 to 200 MiB.
const rpmMaxDB = 512 << 20

// rpmDBKind is how an rpm database at a path is stored. The ndb backend
// (/var/lib/rpm/Packages.db, openSUSE) is not read.
func rpmDBKind(p string) string {
	switch p {
	case "/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite":
		// rpm >= 4.16: Fedora 33+, RHEL 9; Fedora 36+ keeps it under
		// /usr/lib/sysimage with /var/lib/rpm a symlink to it.
		return "sqlite"
	case "/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages":
		// BerkeleyDB hash: CentOS 5 to 8, RHEL 8, Amazon Linux 2.
		return "bdb"
	}
	return ""
}

// scanRPMDB lists the packages of the rpm database r (size bytes) found
// at name, of kind "sqlite" or "bdb". The database is copied to a temp
// file in tmpDir, read from it and removed. gpg-pubkey entries (the
// imported signing keys, not packages) are left out, as syft does.
func scanRPMDB(ctx context.Context, r io.Reader, size int64, name, kind, tmpDir string) (pkgs []Package, err error) {
	if size > rpmMaxDB {
		return nil, fmt.Errorf("rpm database of %d bytes is larger than the %d MiB read", size, rpmMaxDB>>20)
	}
	f, err := os.CreateTemp(tmpDir, "sbom-rpm-*")
	if err != nil {
		return nil, fmt.Errorf("copy rpm database: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(r, rpmMaxDB+1))
	if err != nil {
		return nil, fmt.Errorf("copy rpm database: %w", err)
	}
	if n > rpmMaxDB {
		return nil, fmt.Errorf("rpm database is larger than the %d MiB read", rpmMaxDB>>20)
	}
	add := func(blob []byte) error {
		h, err := parseRPMHeader(blob)
		if err != nil {
			return err
		}
		if h.Name == "gpg-pubkey" {
			return nil
		}
		v := h.Version
		if h.Release != "" {
			v += "-" + h.Release
		}
		pkgs = append(pkgs, Package{
			Name: h.Name, Version: v, Epoch: h.Epoch, Arch: h.Arch,
			License: h.License, Kind: "rpm", Source: name,
		})
		return nil
	}
	switch kind {
	case "sqlite":
		err = sqliteBlobs(ctx, f.Name(), add)
	case "bdb":
		err = bdbValues(ctx, f, n, add)
	default:
		err = fmt.Errorf("unknown rpm database kind %q", kind)
	}
	if err != nil {
		return nil, err
	}
	return pkgs, nil
}

// sqliteBlobs calls fn with the blob of every row of the Packages table
// of rpm's sqlite database at path, opened read-only and immutable (no
// lock, no -wal or -shm file: rpm checkpoints its write-ahead log on
// close, and an image's -wal file is not copied). SQLite is built to
// reject a corrupt file with an error; modernc's transpiled C reports a
// memory fault as a Go panic, which becomes an error here.
func sqliteBlobs(ctx context.Context, path string, fn func([]byte) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read sqlite database: panic: %v", r)
		}
	}()
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&immutable=1"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open sqlite database: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// Packages must be a table: a view could run any query the file's
	// author wrote.
	var typ string
	err = db.QueryRowContext(ctx, `SELECT type FROM sqlite_master WHERE name = 'Packages'`).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && typ != "table") {
		return errors.New("read sqlite database: no Packages table")
	}
	if err != nil {
		return fmt.Errorf("read sqlite database: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT blob FROM Packages`)
	if err != nil {
		return fmt.Errorf("read sqlite database: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("read sqlite database: %w", err)
		}
		if err := fn(blob); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sqlite database: %w", err)
	}
	return nil
}
