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
