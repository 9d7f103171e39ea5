package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  string // substring of the error; "" for success
	}{
		{"30s", 30 * time.Second, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"5m", 5 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"24h", 24 * time.Hour, ""},
		{"90d", 90 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{" 2s ", 2 * time.Second, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"", 0, "empty duration"},
		{"30", 0, "has no unit"},
		{"1.5", 0, "has no unit"},
		{"-5s", 0, "negative"},
		{"fast", 0, "invalid duration"},
		{"1.5d", 0, "whole number"},
		{"d", 0, "whole number"},
		{"5dd", 0, "invalid duration"},
		{"3x", 0, "invalid duration"},
		{"999999999d", 0, "too long"},
		{"106751d24h", 0, "too long"},
	} {
		got, err := parseDuration(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseDuration(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
		case tt.err == "" && got != tt.want:
			t.Errorf("parseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		text string
	}{
		{90 * 24 * time.Hour, "90d"},
		{36 * time.Hour, "36h0m0s"},
		{2 * time.Second, "2s"},
		{0, "0s"},
	} {
		b, _ := Duration{tt.d}.MarshalText()
		if string(b) != tt.text {
			t.Errorf("MarshalText(%v) = %q, want %q", tt.d, b, tt.text)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back.Duration != tt.d {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back.Duration, err, tt.d)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Size
		err  string
	}{
		{"1048576", 1048576, ""},
		{"0", 0, ""},
		{"512B", 512, ""},
		{"512KB", 512_000, ""},
		{"20MB", 20_000_000, ""},
		{"20mb", 20_000_000, ""},
		{"20 MB", 20_000_000, ""},
		{"1GB", 1_000_000_000, ""},
		{"2TB", 2_000_000_000_000, ""},
		{"512KiB", 512 * 1024, ""},
		{"20MiB", 20 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"1gib", 1 << 30, ""},
		{"1TiB", 1 << 40, ""},
		{"1.5MB", 1_500_000, ""},
		{"0.5KiB", 512, ""},
		{"", 0, "empty size"},
		{"MB", 0, "invalid size"},
		{"20 parsecs", 0, "invalid size"},
		{"-1MB", 0, "negative"},
		{"1.0000001KB", 0, "whole number"},
		{"0x10", 0, "invalid size"},
		{"1_000", 0, "invalid size"},
		{"inf", 0, "invalid size"},
		{"NaN", 0, "invalid size"},
		{"10000000TB", 0, "too large"},
	} {
		got, err := parseSize(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseSize(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseSize(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
		case tt.err == "" && got != tt.want:
			t.Errorf("parseSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSizeText(t *testing.T) {
	for _, tt := range []struct {
		s    Size
		text string
	}{
		{20 * MB, "20MB"},
		{1 * GiB, "1GiB"},
		{3 * GB, "3GB"},
		{512 * KiB, "512KiB"},
		{1500, "1500B"},
		{1536 * KB, "1500KiB"}, {1537 * KB, "1537KB"},
		{0, "0B"},
	} {
		b, _ := tt.s.MarshalText()
		if string(b) != tt.text {
			t.Errorf("MarshalText(%d) = %q, want %q", tt.s, b, tt.text)
		}
		var back Size
		if err := back.UnmarshalText(b); err != nil || back != tt.s {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d", b, back, err, tt.s)
		}
	}
}
