package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []int
		wantErr string
	}{
		{
			name: "sorted by version",
			fs: fstest.MapFS{
				"m/0002_more.sql": file("two"),
				"m/0001_init.sql": file("one"),
			},
			want: []int{1, 2},
		},
		{name: "empty", fs: fstest.MapFS{"m/.keep": file("")}, wantErr: "not named"},
		{name: "bad name", fs: fstest.MapFS{"m/1_init.sql": file("")}, wantErr: "not named"},
		{
			name:    "gap",
			fs:      fstest.MapFS{"m/0001_a.sql": file(""), "m/0003_c.sql": file("")},
			wantErr: "expected version 0002",
		},
		{
			name:    "duplicate",
			fs:      fstest.MapFS{"m/0001_a.sql": file(""), "m/0001_b.sql": file("")},
			wantErr: "expected version 0002",
		},
		{name: "missing dir", fs: fstest.MapFS{}, wantErr: "read migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Load(tt.fs, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] || got[1] != tt.want[1] {
				t.Fatalf("versions = %v, want %v", got, tt.want)
			}
			if ms[0].SQL != "one" || ms[0].Name != "0001_init.sql" {
				t.Fatalf("first migration = %+v", ms[0])
			}
		})
	}
}

func TestPending(t *testing.T) {
	all := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	p := Pending(all, map[int]bool{1: true, 3: true})
	if len(p) != 1 || p[0].Version != 2 {
		t.Fatalf("Pending = %+v, want only version 2", p)
	}
}

func TestLoadRecordsChecksums(t *testing.T) {
	ms, err := Load(fstest.MapFS{"m/0001_init.sql": &fstest.MapFile{Data: []byte("CREATE TABLE t (x int);\n")}}, "m")
	if err != nil {
		t.Fatal(err)
	}
	// sha256sum of the file's bytes, as an operator would compute it.
	const want = "af056ff8cbf6bb40effb8920e184f2eaf0b40f2eadc0ffa125e66952e89bf8f3"
	if got := ms[0].Checksum; got != want {
		t.Fatalf("Checksum = %q, want %q (the hex SHA-256 of the file)", got, want)
	}
}

func TestVerify(t *testing.T) {
	all := []Migration{
		{Version: 1, Name: "0001_init.sql", Checksum: Checksum("one")},
		{Version: 2, Name: "0002_more.sql", Checksum: Checksum("two")},
	}
	tests := []struct {
		name    string
		applied []Applied
		wantErr string
	}{
		{name: "all match", applied: []Applied{{1, "0001_init.sql", Checksum("one")}, {2, "0002_more.sql", Checksum("two")}}},
		{name: "not backfilled yet", applied: []Applied{{1, "0001_init.sql", ""}}},
		{name: "newer Roster's migration", applied: []Applied{{1, "0001_init.sql", Checksum("one")}, {3, "0003_new.sql", "x"}}},
		{
			name:    "edited",
			applied: []Applied{{1, "0001_init.sql", Checksum("one")}, {2, "0002_more.sql", Checksum("two, as first released")}},
			wantErr: "migration 0002_more.sql was applied with checksum " + Checksum("two, as first released"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(all, tt.applied)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), Checksum("two")) {
				t.Fatalf("Verify: %v, want an error containing %q and the file's checksum", err, tt.wantErr)
			}
		})
	}
}

func TestBackfill(t *testing.T) {
	all := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	b := Backfill(all, []Applied{{Version: 1}, {Version: 2, Checksum: "c"}, {Version: 3}, {Version: 9}})
	if len(b) != 2 || b[0].Version != 1 || b[1].Version != 3 {
		t.Fatalf("Backfill = %+v, want versions 1 and 3 (9 is unknown, 2 has its checksum)", b)
	}
}
